"""The admin's TLL_ numbers: read when set, the default when unset or mistyped (the class goes on)."""
import pytest

from core.jobs import default_max_running
from core.settings import env_number


@pytest.mark.parametrize("text,expected", [(None, 4), ("", 4), ("3", 3), (" 6 ", 6), ("two", 4), ("0", 4), ("2.5", 4)])
def test_a_whole_number_setting(monkeypatch, text, expected):
    if text is None:
        monkeypatch.delenv("TLL_X", raising=False)
    else:
        monkeypatch.setenv("TLL_X", text)
    assert env_number("TLL_X", 4, minimum=1) == expected


def test_a_mistyped_value_is_named_in_the_server_log(monkeypatch, caplog):
    monkeypatch.setenv("TLL_SESSION_GRACE", "30s")
    assert env_number("TLL_SESSION_GRACE", 30.0, minimum=0, kind=float) == 30.0
    assert "TLL_SESSION_GRACE='30s'" in caplog.text


def test_the_job_limit_comes_from_tll_max_jobs(monkeypatch):
    monkeypatch.setenv("TLL_MAX_JOBS", "5")
    assert default_max_running() == 5
    monkeypatch.setenv("TLL_MAX_JOBS", "lots")
    assert default_max_running() >= 1
