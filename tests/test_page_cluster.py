"""What a learner sees when the app's trainings run on a Ray cluster that cannot be reached: the
sidebar says so, and Train is refused in words with nothing stored (core.ray_executor's behaviour,
played here by an executor that refuses as it does, so no Ray is needed)."""
import pytest

from apptest import as_learner
from core import jobs
from core.store import new_learner_key, open_store
from core.train import ConfigError

PROBLEM = "no answer from head:6379 after 20 s"


class UnreachableCluster(jobs.JobManager):
    """The Ray executor's face while its head does not answer."""

    problem = PROBLEM

    @property
    def slots(self) -> int:
        return 0

    def submit(self, *args, **kwargs):
        raise ConfigError("ray_unreachable", address="head:6379", problem=PROBLEM)


@pytest.fixture
def unreachable(monkeypatch):
    monkeypatch.setattr(jobs, "_manager", UnreachableCluster())


def test_the_sidebar_says_the_cluster_cannot_be_reached_and_train_is_refused_in_words(unreachable):
    key = new_learner_key()
    at = as_learner("app.py", key, epochs="1")
    assert any("training cluster cannot be reached" in w.value and PROBLEM in w.value for w in at.sidebar.warning)
    lab = as_learner("pages/lab.py", key, epochs="1")
    lab.button(key="train").click().run()
    assert not lab.exception
    (error,) = lab.error
    assert "cannot be reached right now" in error.value and "head:6379" in error.value
    assert lab.session_state["runs"] == [] and open_store()[0].runs(key) == []  # nothing half-made is kept
    assert lab.slider(key="epochs").value == 1  # the settings stay as they were


def test_in_japanese_too(unreachable):
    lab = as_learner("pages/lab.py", new_learner_key(), "ja")
    lab.button(key="train").click().run()
    assert "学習クラスター" in lab.error[0].value


def test_while_the_replica_joins_its_cluster_the_sidebar_says_so(monkeypatch):
    class Joining(jobs.JobManager):
        @property
        def slots(self) -> int:
            return 0

    monkeypatch.setattr(jobs, "_manager", Joining())
    at = as_learner("app.py", new_learner_key())
    captions = [c.value for c in at.sidebar.caption]
    assert "Server: joining the training cluster…" in captions and not at.sidebar.warning
