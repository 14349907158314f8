"""Running one page script headless, as the page tests do."""
from streamlit.testing.v1 import AppTest

from conftest import ROOT


def open_page(script: str, lang: str = "en", **state) -> AppTest:
    """Run `script` (e.g. "pages/noise.py") with AppTest in `lang`, with `state` put in its session first."""
    at = AppTest.from_file(str(ROOT / script), default_timeout=120)
    at.session_state["lang"] = lang
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def finished_job(config, splits, owner: str, **kwargs):
    """A job of the shared manager, submitted and waited for (60 s at most): a run as a page finds it."""
    import time

    from core import jobs

    job = jobs.manager().submit(config, splits, owner=owner, **kwargs)
    deadline = time.monotonic() + 60
    while not job.state.snapshot().done and time.monotonic() < deadline:
        time.sleep(0.05)
    return job
