"""Running one page script headless, as the page tests do; waiting for a job or a condition."""
import time

from streamlit.testing.v1 import AppTest

from conftest import ROOT


def open_page(script: str, lang: str = "en", query: dict | None = None, **state) -> AppTest:
    """Run `script` (e.g. "pages/noise.py") with AppTest in `lang`, with `state` put in its session and
    `query` in its URL first."""
    at = AppTest.from_file(str(ROOT / script), default_timeout=120)
    at.session_state["lang"] = lang
    for key, value in state.items():
        at.session_state[key] = value
    for name, value in (query or {}).items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def as_learner(script: str, key: str, lang: str = "en", **query) -> AppTest:
    """`script` in a browser that holds learner key `key` (a reload, a new tab: a new session)."""
    return open_page(script, lang, query, learner_key=key)


def finished_job(config, splits, owner: str, **kwargs):
    """A job of the shared manager, submitted and waited for (60 s at most): a run as a page finds it."""
    import time

    from core import jobs

    job = jobs.manager().submit(config, splits, owner=owner, **kwargs)
    deadline = time.monotonic() + 60
    while not job.state.snapshot().done and time.monotonic() < deadline:
        time.sleep(0.05)
    return job


# MLP shapes every page that shows a model must handle: (hidden layers, activation)
SHAPES = {"no-hidden-layer-tanh": ((), "tanh"), "four-sigmoid-layers": ((64, 64, 64, 64), "sigmoid"),
          "no-activation": ((128, 64), "none")}


def shaped_run(splits, hidden: tuple[int, ...], activation: str, owner: str):
    """A session's Run 1: one quick epoch of an MLP with these hidden layers and activation."""
    from core.train import TrainConfig
    from ui.runs import SessionRun

    config = TrainConfig(hidden=hidden, activation=activation, epochs=1, train_subset=300, device="cpu")
    return SessionRun(1, finished_job(config, splits, owner=owner))


def wait_until(predicate, timeout=60):
    """Poll `predicate` until it holds (True) or `timeout` seconds pass (AssertionError)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    raise AssertionError("timed out")
