"""The learner's runs outlive the tab: a new session with the same learner key finds them in the
store, an interrupted run goes on, and a database that cannot be used is named while training goes on."""
import time
from datetime import timedelta

import pytest
from streamlit.testing.v1 import AppTest
from sqlalchemy import update

import core.store
from apptest import as_learner
from conftest import ROOT
from core import jobs
from core.store import new_learner_key, open_store
from core.store import schema as S
from core.store.runs import now
from core.train import TrainConfig
from test_page_lab import newest_status, open_lab, run_until


def lab_as(key: str, lang: str = "en", **query) -> AppTest:
    """The Lab in a new session of the browser that holds learner key `key` (a reload, a new tab)."""
    return as_learner("pages/lab.py", key, lang, **query)


def train_to_end(at: AppTest) -> AppTest:
    at.button(key="train").click().run()
    return run_until(at, lambda a: newest_status(a) in ("finished", "stopped", "early_stopped"))


def test_a_reload_finds_the_run_with_its_curves_accuracy_and_model():
    key = new_learner_key()
    first = train_to_end(lab_as(key, epochs="2", train_subset="1000"))
    banner = first.success[0].value
    open_store()[1].flush()
    again = lab_as(key)  # the reloaded tab: a new session, the same cookie
    (run,) = again.session_state["runs"]
    assert run.job is None and run.stored.status == "finished"  # read from the store, not this session's job
    assert again.success[0].value == banner  # "Run 1 finished 2 epochs in … s: validation accuracy 71.9 %"
    assert [e.epoch for e in run.snapshot().epochs] == [1, 2] and len(run.snapshot().losses) == 32
    table = again.dataframe[0].value
    assert list(table["Run"]) == ["Run 1"] and table["Status"][0] == "finished"
    results = as_learner("pages/results.py", key)
    caption, measured = results.caption[0].value, results.metric[0].value
    acc = run.snapshot().epochs[-1].val_acc
    assert caption.startswith("Model in use: your Run 1") and measured == f"{acc:.1%}"  # its model, from the store


def test_another_learner_sees_none_of_the_runs_and_deleting_removes_them_from_the_store():
    key = new_learner_key()
    train_to_end(lab_as(key, epochs="1", train_subset="300"))
    open_store()[1].flush()
    stranger = lab_as(new_learner_key())
    assert stranger.session_state["runs"] == [] and "No run yet" in stranger.info[0].value
    mine = lab_as(key)
    mine.button(key="clear_runs").click().run()
    assert open_store()[0].runs(key) == [] and lab_as(key).session_state["runs"] == []


def _interrupt(key: str) -> None:
    """What a killed server leaves behind: the learner's runs "running", quiet for a minute."""
    store = open_store()[0]
    learner_runs = [r.id for r in store.runs(key)]
    with store.session.begin() as db:
        db.execute(update(S.Run).where(S.Run.id.in_(learner_runs)).values(
            status="running", heartbeat_at=now() - timedelta(minutes=1)))


def test_an_interrupted_run_says_so_and_goes_on_from_its_last_saved_epoch():
    key = new_learner_key()
    train_to_end(lab_as(key, epochs="2", train_subset="1000"))
    open_store()[1].flush()
    _interrupt(key)
    at = lab_as(key, epochs="1")
    assert at.warning[0].value.startswith("Run 1 was interrupted after 2 full epochs")
    assert at.dataframe[0].value["Status"][0] == "interrupted at epoch 2"
    at.button(key="go_on").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    run = at.session_state["runs"][-1]
    assert [e.epoch for e in run.snapshot().epochs] == [1, 2, 3]
    whole = jobs.JobManager(1).submit(TrainConfig(epochs=3, train_subset=1000, device="cpu"),
                                      __import__("ui.session", fromlist=["dataset"]).dataset())
    while not whole.done:
        time.sleep(0.05)
    assert [e.val_loss for e in run.snapshot().epochs] == pytest.approx(
        [e.val_loss for e in whole.state.snapshot().epochs], abs=1e-6)  # the same run as one that never stopped
    open_store()[1].flush()
    assert [e.epoch for e in open_store()[0].runs(key)[0].epochs] == [1, 2, 3]


@pytest.fixture
def broken_store(tmp_path, monkeypatch):
    """A database file that is not SQLite, opened afresh by this process."""
    junk = tmp_path / "runs.sqlite"
    junk.write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("TLL_DATABASE_URL", f"sqlite:///{junk}")
    monkeypatch.setattr(core.store, "_opened", None)
    yield
    monkeypatch.setattr(core.store, "_opened", None)  # the next test opens the suite's store again


def test_a_database_that_is_not_sqlite_is_named_in_the_sidebar_and_training_goes_on(broken_store):
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    app.session_state["lang"] = "en"
    app.run()
    assert not app.exception
    (line,) = [w.value for w in app.sidebar.warning]
    assert line.startswith("Runs are not being kept: the database") and "a reload loses this tab's runs" in line
    at = train_to_end(open_lab(epochs="1", train_subset="300"))
    assert at.session_state["runs"][-1].run_id is None and newest_status(at) == "finished"


def test_a_link_for_another_device_brings_the_runs_and_a_garbage_key_gives_a_fresh_identity():
    key = new_learner_key()
    train_to_end(lab_as(key, epochs="1", train_subset="300"))
    open_store()[1].flush()
    other = open_lab(learner=key)  # the sidebar's link, opened in another browser
    assert [r.number for r in other.session_state["runs"]] == [1] and other.session_state["learner_key"] == key
    assert "learner" not in other.query_params  # out of the address bar at once
    tampered = open_lab(learner="<script>alert(1)</script>")  # not a key: a new, empty learner, no error
    assert tampered.session_state["runs"] == [] and tampered.session_state["learner_key"] != key
    assert core.store.valid_learner_key(tampered.session_state["learner_key"])


def test_the_cap_on_stored_runs_says_which_old_run_made_room(monkeypatch):
    monkeypatch.setenv("TLL_MAX_RUNS", "2")
    at = lab_as(new_learner_key(), epochs="1", train_subset="300")
    for _ in range(2):
        train_to_end(at)
    at.button(key="train").click().run()
    assert "To make room, 1 old run was removed from the server: Run 1. At most 2 runs are kept per learner." \
        in [i.value for i in at.info]
    run_until(at, lambda a: newest_status(a) == "finished")
    assert [r.number for r in at.session_state["runs"]] == [2, 3]


def test_a_run_the_database_refused_trains_on_and_the_sidebar_keeps_saying_so(monkeypatch):
    from sqlalchemy.exc import OperationalError

    def refuse(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(core.store.Store, "create_run", refuse)
    at = train_to_end(lab_as(new_learner_key(), epochs="1", train_subset="300"))
    assert at.session_state["runs"][-1].run_id is None and newest_status(at) == "finished"
    at.run()  # the next redraws: the sidebar (drawn before the page) still has the words
    problem = at.session_state["store_failed"]
    assert problem.key == "store_write_failed" and "disk I/O error" in str(problem)


def test_a_run_started_in_another_tab_joins_this_tabs_history_within_seconds(monkeypatch):
    import ui.runs

    key = new_learner_key()
    watching = lab_as(key)  # a tab open before the run exists
    assert watching.session_state["runs"] == []
    train_to_end(lab_as(key, epochs="1", train_subset="300"))  # the learner's other tab (or another replica)
    open_store()[1].flush()
    monkeypatch.setattr(ui.runs, "LOOK_FOR_NEW_SECONDS", 0.0)  # (instead of waiting 5 s)
    watching.run()
    (run,) = watching.session_state["runs"]
    assert run.number == 1 and run.status == "finished" and run.has_model and len(run.snapshot().epochs) == 1
    watching.run()
    assert len(watching.session_state["runs"]) == 1  # found once
