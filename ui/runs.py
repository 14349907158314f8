"""This learner's runs: those in the store (any tab, any restart) and the jobs training them here.

A run is stored when it starts (core.store) and its progress, curves and weights reach the store
while it trains; a reload, a closed tab or a server restart finds it there again. The jobs of this
process are the fast path for live progress; a run with no job here is read from the store. When
the database cannot be used, runs live in this session only, as before, and the sidebar says so.
"""
import logging
import time
from dataclasses import dataclass, replace

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core import jobs
from core.checkpoint import CheckpointError
from core.jobs import Snapshot
from core.settings import env_number
from core.store import StoredRun, StoreError, open_store
from core.train import ConfigError, EpochEvent, TrainConfig
from ui.identity import learner_key
from ui.session import dataset, tr

KEPT_MODEL = ("finished", "stopped", "early_stopped", "interrupted")  # runs whose model the other pages may use
# a closed tab's runs are cancelled after this many seconds (a dropped connection may come back)
SESSION_GRACE = env_number("TLL_SESSION_GRACE", 30.0, minimum=0, kind=float)
LOOK_FOR_NEW_SECONDS = 5.0  # how often a session looks in the store for runs its learner started elsewhere
STORE_ERRORS = (StoreError, SQLAlchemyError, OSError, CheckpointError)
log = logging.getLogger(__name__)


@dataclass(eq=False)
class SessionRun:
    number: int  # 3 for the learner's third run: the run's key in the overlay menu
    job: jobs.Job | None = None  # this process's job for it (training now, or trained in this session)
    run_id: int | None = None  # its id in the store; None when the store could not be used
    stored: StoredRun | None = None  # the store's copy, for a run with no job here

    @property
    def config(self) -> TrainConfig:
        return self.job.config if self.job else self.stored.config

    @property
    def name(self) -> str:
        """"Run 3" / "学習 3" in the learner's language (read while a page runs)."""
        return tr("lab.run_name", n=self.number)

    @property
    def status(self) -> str:
        """Cheap to ask every redraw (a snapshot copies every step's loss)."""
        return self.job.state.status if self.job else self.stored.status

    @property
    def done(self) -> bool:
        return self.status not in ("queued", "running")

    def snapshot(self) -> Snapshot:
        return self.job.state.snapshot() if self.job else _stored_snapshot(self.stored)

    @property
    def epochs(self) -> list[EpochEvent]:
        result = self.job.state.result if self.job else None
        return result.epochs if result else self.snapshot().epochs

    @property
    def kept_epoch(self) -> EpochEvent | None:
        """The epoch whose weights the run's model holds (early stopping: the best), None before any."""
        if self.job:
            result = self.job.state.result
            return result.kept_epoch if result else None
        s = self.stored
        if s.status == "early_stopped" and s.best_epoch:
            return s.epochs[s.best_epoch - 1]
        return s.epochs[-1] if s.epochs else None

    @property
    def early_stop_epoch(self) -> int | None:
        """The epoch whose weights early stopping kept, once the run has stopped early."""
        kept = self.kept_epoch
        return kept.epoch if kept is not None and self.status == "early_stopped" else None

    @property
    def has_model(self) -> bool:
        if self.job:
            return self.job.state.result is not None and self.status in KEPT_MODEL
        return self.stored.has_model and self.status in KEPT_MODEL

    @property
    def model_key(self) -> str:
        """Names this run's model as it is now: changes when the run trains further."""
        return f"run-{self.run_id or 'local'}-{self.number}-{len(self.epochs)}-{self.status}"

    def model(self):
        """Its model (in evaluation mode): the job's result in memory, else read from the store and
        kept briefly (a learner with 50 runs does not hold 50 models)."""
        result = self.job.state.result if self.job else None
        if result is not None:
            return result.model
        found = _stored_model(learner_key(), self.run_id, self.model_key)
        return found[0] if found else None

    @property
    def can_go_on(self) -> bool:
        if self.job:
            return self.job.resumable
        return self.stored.can_go_on


def _stored_snapshot(run: StoredRun) -> Snapshot:
    return Snapshot(run.status, 0, run.step, len(run.epochs), run.total_steps, run.steps_per_epoch,
                    run.epochs[-1].samples_per_s if run.epochs else 0.0, run.losses, run.epochs,
                    run.diverged_step, run.error, None, run.elapsed)


@st.cache_resource(max_entries=32, ttl=300, show_spinner=False)
def _stored_model(key: str, run_id: int, version: str):
    """(model, config) of a stored run; `version` (SessionRun.model_key) reloads it after it trained on."""
    store, _ = open_store()
    return store.model(key, run_id)


# the store --------------------------------------------------------------------------------------

def store():
    """(Store, writer), or None when the database cannot be used (store_problem() says why)."""
    try:
        return open_store()
    except StoreError:
        return None


def store_problem() -> StoreError | None:
    """Why runs are not being kept right now (the sidebar shows it), or None: the database cannot be
    opened, the writer cannot write, some run's progress was given up, or a store call of this session
    failed (said until one succeeds: the sidebar is drawn before the page that may fail)."""
    try:
        writer = open_store()[1]
    except StoreError as exc:
        return exc
    lost = [r.name for r in st.session_state.get("runs", []) if r.run_id in writer.lost_runs]
    if writer.problem:
        return StoreError("store_write_failed", problem=writer.problem)
    if lost:
        return StoreError("store_lost", runs=", ".join(lost))
    return st.session_state.get("store_failed")


def _failed(exc: Exception) -> None:
    log.warning("the run store failed: %s", exc)
    st.session_state["store_failed"] = StoreError("store_write_failed", problem=str(exc).splitlines()[0][:200])


def _succeeded() -> None:
    st.session_state.pop("store_failed", None)


# the history --------------------------------------------------------------------------------------

def session_id() -> str:
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx else "script"


def history() -> list[SessionRun]:
    """This learner's runs, oldest first: read from the store once per session, then kept up to date
    (with runs the learner started in another tab or on another replica, looked for every few seconds)."""
    if "runs" not in st.session_state:
        st.session_state.runs = _restore()
        st.session_state.runs_looked = time.monotonic()
    elif time.monotonic() - st.session_state.get("runs_looked", 0.0) >= LOOK_FOR_NEW_SECONDS:
        st.session_state.runs_looked = time.monotonic()
        _add_started_elsewhere(st.session_state.runs)
    _refresh_elsewhere(st.session_state.runs)
    return st.session_state.runs


def _add_started_elsewhere(runs: list[SessionRun]) -> None:
    """Add the learner's runs that are in the store but not in this session (started in another tab, on
    another replica): one cheap query, and the new runs' curves only when there are some."""
    opened = store()
    if opened is None:
        return
    try:
        known = {r.run_id for r in runs}
        new = [i for i in opened[0].run_ids(learner_key()) if i not in known]
        found = opened[0].runs(learner_key(), new) if new else []
    except STORE_ERRORS as exc:
        _failed(exc)
        return
    runs.extend(_session_run(run) for run in found)  # (started in another tab of this replica: its job is here)
    if found:
        runs.sort(key=lambda r: r.number)
        st.session_state.run_counter = max(st.session_state.get("run_counter", 0), runs[-1].number)


def _restore() -> list[SessionRun]:
    opened = store()
    if opened is None:
        return []
    try:
        stored = opened[0].runs(learner_key())
    except STORE_ERRORS as exc:
        _failed(exc)
        return []
    _succeeded()
    restored = [_session_run(run) for run in stored]
    for run in restored:
        if run.job is not None:  # still training here: this tab takes it over from the closed one
            jobs.manager().adopt(run.job, session_id())
    st.session_state.run_counter = max((r.number for r in restored), default=0)
    return restored


def _session_run(run: StoredRun) -> SessionRun:
    """A stored run in this session: with this process's job when it trains here, else its stored copy."""
    job = jobs.manager().find(run.id)
    return SessionRun(run.number, job, run.id, None if job else run)


def _refresh_elsewhere(runs: list[SessionRun]) -> None:
    """Read again from the store: runs training in no job of this process (another replica, or a
    server that died: "interrupted" once it has been quiet a while), and older runs of this session
    that ended and are stored, whose jobs then let go of their models (50 runs ≠ 50 models in memory)."""
    waiting = [r for r in runs if r.job is None and r.stored and r.stored.active]
    settled = [r for r in runs[:-1] if r.job is not None and r.run_id is not None and r.job.done]
    opened = store() if waiting or settled else None
    if opened is None:
        return
    try:
        fresh = {s.id: s for s in opened[0].runs(learner_key(), [r.run_id for r in waiting + settled])}
    except STORE_ERRORS as exc:
        _failed(exc)
        return
    for run in waiting:
        run.stored = fresh.get(run.run_id, run.stored)
    for run in settled:
        stored = fresh.get(run.run_id)
        if stored is not None and stored.status == run.job.state.status and stored.has_model == run.has_model:
            run.job, run.stored = None, stored  # all of it is in the store now


def session_alive(session_id: str) -> bool:
    """Is this browser session still connected? (Always yes without a server, e.g. in AppTest.)"""
    from streamlit.runtime import Runtime

    return not Runtime.exists() or Runtime.instance().is_active_session(session_id)


def _stored_run(config: TrainConfig):
    """(run id, number, listener) of a new stored run; (None, next local number, None) without a store.
    Says (in session state) which old runs the per-learner cap removed to make room."""
    opened = store()
    if opened is not None:
        try:
            run_id, number, removed = opened[0].create_run(learner_key(), config, config.device, dataset().source)
        except STORE_ERRORS as exc:
            _failed(exc)
        else:
            _succeeded()
            if removed:
                st.session_state.runs = [r for r in history() if r.number not in removed]
                st.session_state.runs_removed = removed
            return run_id, number, opened[1].recorder(run_id)
    number = max((r.number for r in history()), default=st.session_state.get("run_counter", 0)) + 1
    return None, number, None


def start(config: TrainConfig, epoch_hook=None) -> SessionRun:
    """Queue a run for this learner (ConfigError for impossible settings) and add it to the history."""
    manager = jobs.manager()
    manager.watch_owners(session_alive, grace=SESSION_GRACE)
    config = replace(config).validate()  # refused before anything is stored
    history()  # read from the store before the new run is in it (else it would be there twice) …
    st.session_state.runs_looked = time.monotonic()  # … and not looked for again until it is added below
    run_id, number, listener = _stored_run(config)
    try:
        job = manager.submit(config, dataset(), owner=session_id(), epoch_hook=epoch_hook, listener=listener,
                             run_id=run_id)
    except ConfigError:  # e.g. the training cluster cannot be reached: the refused run is not kept
        if run_id is not None:
            store()[0].delete_runs(learner_key(), [run_id])
        raise
    # the list itself, not history(): submitting may have taken seconds, and a look for runs started
    # elsewhere would now find this one in the store
    for earlier in st.session_state.runs:  # only the newest run can go on: the others' trainers need not
        if earlier.job:  # stay in memory
            earlier.job.release()
    st.session_state.run_counter = number
    run = SessionRun(number, job, run_id)
    st.session_state.runs.append(run)
    return run


def resumable() -> SessionRun | None:
    """The newest run, when it ended finished, stopped or interrupted and can go on."""
    newest = history()[-1] if history() else None
    return newest if newest and newest.can_go_on else None


def resume(run: SessionRun, epochs: int, epoch_hook=None) -> None:
    """Queue `run` to train `epochs` more epochs where it ended: a job of this session goes on inside a
    stopped epoch; a stored run (after a reload or a restart) from the end of its last saved epoch."""
    manager = jobs.manager()
    if run.job is not None:
        manager.resume(run.job, epochs)
        return
    opened = store()
    try:
        saved = opened[0].saved_state(learner_key(), run.run_id) if opened else None
    except STORE_ERRORS as exc:
        _failed(exc)
        saved = None
    if saved is None:
        raise ValueError(f"{run.name} has no saved epoch to go on from")
    s = run.stored
    done = [e for e in s.epochs if e.step <= saved["steps_done"]]  # an epoch stored without its weights: redone
    listener = opened[1].recorder(run.run_id)
    listener.goes_on_from(saved["steps_done"], len(done))
    losses = [(step, loss) for step, loss in s.losses if step <= saved["steps_done"]]
    manager.watch_owners(session_alive, grace=SESSION_GRACE)
    run.job = manager.take_up(s.config, dataset(), saved, epochs, done, losses, s.elapsed, owner=session_id(),
                              epoch_hook=epoch_hook, listener=listener, run_id=run.run_id)
    run.stored = None


def active() -> list[SessionRun]:
    """Runs queued or still training (here, or on another replica)."""
    return [r for r in history() if not r.done]


def stop_all() -> None:
    """Stop this learner's active runs: those training here at once, those training on another replica
    through the store (that replica stops them within a few seconds)."""
    elsewhere = []
    for run in active():
        if run.job:
            jobs.manager().cancel(run.job)
        elif run.run_id is not None:
            elsewhere.append(run.run_id)
    opened = store() if elsewhere else None
    if opened is not None:
        try:
            opened[0].ask_stop(learner_key(), elsewhere)
        except STORE_ERRORS as exc:
            _failed(exc)


def delete(numbers: list[int]) -> None:
    """Delete these runs: stop them, and remove them from the store and the history."""
    chosen = [r for r in history() if r.number in numbers]
    for run in chosen:
        if run.job:
            jobs.manager().cancel(run.job)
    opened = store()
    if opened is not None:
        try:
            opened[0].delete_runs(learner_key(), [r.run_id for r in chosen if r.run_id is not None])
        except STORE_ERRORS as exc:
            _failed(exc)
    st.session_state.runs = [r for r in history() if r not in chosen]


def kept() -> list[SessionRun]:
    """Runs that ended with a usable model (finished, stopped, early-stopped, interrupted after an
    epoch), oldest first."""
    return [r for r in history() if r.has_model]


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
