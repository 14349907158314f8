"""This session's run history: every run started here, its job, settings and curves."""
from dataclasses import dataclass

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import jobs
from core.settings import env_number
from core.train import TrainConfig
from ui.session import dataset, tr

KEPT_MODEL = ("finished", "stopped", "early_stopped")  # runs whose model the other pages may use
# a closed tab's runs are cancelled after this many seconds (a dropped connection may come back)
SESSION_GRACE = env_number("TLL_SESSION_GRACE", 30.0, minimum=0, kind=float)


@dataclass(eq=False)
class SessionRun:
    number: int  # 3 for this session's third run: the run's key in the overlay menu
    job: jobs.Job

    @property
    def config(self) -> TrainConfig:
        return self.job.config

    @property
    def name(self) -> str:
        """"Run 3" / "学習 3" in the learner's language (read while a page runs)."""
        return tr("lab.run_name", n=self.number)

    @property
    def early_stop_epoch(self) -> int | None:
        """The epoch whose weights early stopping kept, once the run has stopped early (RunResult.kept_epoch
        says which epoch a result keeps; for any other end it is simply the last)."""
        result = self.job.state.result
        return result.kept_epoch.epoch if result is not None and result.status == "early_stopped" else None


def session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx else "script"


def history() -> list[SessionRun]:
    return st.session_state.setdefault("runs", [])


def session_alive(session_id: str) -> bool:
    """Is this browser session still connected? (Always yes without a server, e.g. in AppTest.)"""
    from streamlit.runtime import Runtime

    return not Runtime.exists() or Runtime.instance().is_active_session(session_id)


def start(config: TrainConfig, epoch_hook=None) -> SessionRun:
    """Queue a run for this session (ConfigError for impossible settings) and add it to the history."""
    manager = jobs.manager()
    manager.watch_owners(session_alive, grace=SESSION_GRACE)
    job = manager.submit(config, dataset(), owner=session_id(), epoch_hook=epoch_hook)
    for earlier in history():  # only the newest run can go on: the others' trainers need not stay in memory
        earlier.job.release()
    st.session_state["run_counter"] = st.session_state.get("run_counter", 0) + 1
    run = SessionRun(st.session_state.run_counter, job)
    history().append(run)
    return run


def resumable() -> SessionRun | None:
    """The newest run, when it ended finished or stopped and can go on."""
    newest = history()[-1] if history() else None
    return newest if newest and newest.job.resumable else None


def resume(run: SessionRun, epochs: int) -> None:
    """Queue `run` to train `epochs` more epochs where it ended (a stopped epoch finishes as the first)."""
    jobs.manager().resume(run.job, epochs)


def active() -> list[SessionRun]:
    """Runs queued or still training."""
    return [r for r in history() if not r.job.done]


def stop_all() -> None:
    for run in active():
        jobs.manager().cancel(run.job)


def delete(numbers: list[int]) -> None:
    for run in [r for r in history() if r.number in numbers]:
        jobs.manager().cancel(run.job)
        history().remove(run)


def kept() -> list[SessionRun]:
    """Runs that ended with a usable model (finished, stopped or early-stopped), oldest first."""
    return [r for r in history() if r.job.state.result is not None and r.job.state.status in KEPT_MODEL]


def model_run() -> SessionRun | None:
    """The run whose model the other pages use: the one the learner picked in the history, until a
    newer run ends with a model; else the newest such run; None before any."""
    runs = kept()
    if not runs:
        return None
    picked, newest_then = st.session_state.get("picked_run", (None, None))
    if newest_then == runs[-1].number:
        return next((r for r in runs if r.number == picked), runs[-1])
    return runs[-1]


def pick(number: int) -> None:
    """Use run `number`'s model on the other pages; an explicit choice also puts a loaded file aside."""
    st.session_state.picked_run = (number, kept()[-1].number)
    st.session_state.pop("loaded_model", None)
