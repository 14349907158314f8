"""Training runs in the background: start, track, queue and cancel them. No Streamlit here.

    manager = jobs.manager()                 # one per process
    job = manager.submit(config, splits, owner="session-1")
    job.state.snapshot()                     # progress, safe to read from any thread
    manager.cancel(job)                      # stops within one step, keeps what was learned
    manager.resume(job, epochs=3)            # the same run goes on for 3 more epochs
    manager.take_up(config, splits, saved, epochs=3)  # a run saved after an epoch (the store) goes on

A job's `listener` (the store's recorder) hears everything that should outlive the process: every
event, each epoch's checkpoint, and how the job starts and ends. It must never block the training.
Its `stop_asked` event, when it has one, stops the job (`reap`): a Stop pressed on another replica.

At most `max_running` trainings run at once (TLL_MAX_JOBS; default: the number of CPU cores,
or 2 on a GPU); the others wait first come, first served. Each running job sets its own torch
intra-op thread count so that concurrent jobs share the cores instead of oversubscribing them.
Jobs whose owner is gone (a closed browser tab) are cancelled by `reap` / `watch_owners`.

Two executors share this interface (submit, take_up, resume, cancel, find, adopt, cancel_owner,
owners, counts, reap, watch_owners) and its Job and RunState: `JobManager`, the default, trains in
threads of this process; `core.ray_executor.RayExecutor` (TLL_RAY_ADDRESS) runs each training as a
Ray task on a cluster and streams its events back here, where the same listener stores them.
`manager()` picks one. A subclass changes only how a job leaves the queue (`_begin`) and how it
trains (`_train`).
"""
import itertools
import os
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Callable

import torch

from core import data as D
from core.settings import env_number
from core.train import RESUMABLE, ConfigError, EpochEvent, RunResult, StepEvent, TrainConfig, Trainer

# how a job ends: the trainer's statuses, plus a job cancelled while queued, one that crashed, and one
# whose Ray worker died under it (it goes on from its last finished epoch)
DONE = ("finished", "stopped", "diverged", "early_stopped", "cancelled", "failed", "interrupted")
GOES_ON = (*RESUMABLE, "interrupted")  # ends a job can go on from


class Ended(Exception):
    """Raised by an executor's `_train`: the job ended with `status` and no model to show for it
    (e.g. a Ray task cancelled in Ray's queue, or whose worker died before its first epoch)."""

    def __init__(self, status: str):
        super().__init__(status)
        self.status = status


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a job's progress at one moment."""

    status: str  # "queued", "running" or one of DONE
    queue_position: int  # 1-based while queued, else 0
    step: int
    epoch: int  # epochs completed
    total_steps: int  # planned steps for the whole run (0 until the run starts)
    steps_per_epoch: int
    samples_per_s: float
    losses: list[tuple[int, float]]  # (step, loss): every step's, or for a run restored from the
    # store, the steps it kept (every k-th of a long run)
    epochs: list[EpochEvent]
    diverged_step: int | None
    error: str  # for "failed": what went wrong
    seconds_to_first_loss: float | None  # from submit to the first loss
    elapsed: float  # seconds since the run started (0 while queued)

    @property
    def done(self) -> bool:
        return self.status in DONE


class RunState:
    """Progress of one job, written by its worker thread and read by pages (under a lock). A run taken
    up from the store starts with what was saved: its `epochs`, `losses`, `step` and `elapsed`."""

    def __init__(self, batch_size: int, epochs: list[EpochEvent] = (), losses: list[tuple[int, float]] = (),
                 step: int = 0, elapsed: float = 0.0):
        self._batch_size = batch_size
        self._lock = threading.Lock()
        self._status = "queued"
        self._position = 0
        self._losses: list[tuple[int, float]] = list(losses)
        self._epochs: list[EpochEvent] = list(epochs)
        self._step, self._steps_per_epoch, self._total_steps = step, 0, 0
        self._samples_per_s = self._epochs[-1].samples_per_s if self._epochs else 0.0
        self._diverged_step = None
        self._error = ""
        self._submitted = time.perf_counter()
        self._started = self._first_loss = None
        self._ended = None
        self._before = elapsed  # seconds trained before the run was last resumed
        self._first_loss_seen = threading.Event()
        self.result: RunResult | None = None  # set when the run ends with a model, again after a resume

    def on_event(self, event) -> None:
        with self._lock:
            if isinstance(event, StepEvent):
                self._losses.append((event.step, event.loss))
                self._step = event.step
                if self._first_loss is None:
                    self._first_loss = time.perf_counter()
                    self._first_loss_seen.set()
            elif isinstance(event, EpochEvent):
                self._epochs.append(event)
                self._samples_per_s = event.samples_per_s

    @property
    def status(self) -> str:
        """The status alone: cheap to ask every redraw (a snapshot copies every step's loss)."""
        with self._lock:
            return self._status

    def wait_first_loss(self, timeout: float) -> bool:
        """Block until the first step's loss exists (or `timeout` s pass): lets a page that just
        started a run draw its first point in the same redraw instead of the next poll."""
        return self._first_loss_seen.wait(timeout)

    @property
    def elapsed(self) -> float:
        with self._lock:
            return self._elapsed()

    def _set(self, **values) -> None:
        with self._lock:
            for name, value in values.items():
                setattr(self, f"_{name}", value)

    def snapshot(self) -> Snapshot:
        with self._lock:
            elapsed = self._elapsed()
            return Snapshot(
                self._status, self._position, self._step, len(self._epochs), self._total_steps,
                self._steps_per_epoch, self._live_speed(elapsed), list(self._losses), list(self._epochs),
                self._diverged_step, self._error,
                None if self._first_loss is None else self._first_loss - self._submitted, elapsed)

    def _elapsed(self) -> float:
        """Seconds spent training (a paused run's wait before it was resumed not counted)."""
        if self._started is None:
            return self._before
        return self._before + (self._ended or time.perf_counter()) - self._started

    def _live_speed(self, elapsed: float) -> float:
        """Samples per second: the last epoch's figure, or the running one during the first epoch."""
        if self._epochs or self._started is None or not self._step:
            return self._samples_per_s
        return self._step * self._batch_size / max(elapsed, 1e-9)

    def _requeue(self, total_steps: int) -> None:
        """Back in the queue to go on: the old result stays until the new one replaces it."""
        with self._lock:
            self._before = self._elapsed()
            self._status, self._started, self._ended, self._total_steps = "queued", None, None, total_steps


@dataclass(eq=False)
class Job:
    id: int
    owner: str  # who asked (a session id); a whole owner can be cancelled at once
    config: TrainConfig
    state: RunState
    splits: D.MnistSplits = field(repr=False)
    epoch_hook: Callable | None = field(default=None, repr=False)
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)
    thread: threading.Thread | None = field(default=None, repr=False)
    trainer: Trainer | None = field(default=None, repr=False)  # kept after a finished or stopped run,
    # so that it can go on (resume); its model and optimizer state cost memory: see `release`
    keep_trainer: bool = True
    listener: object | None = field(default=None, repr=False)  # see the module's docstring
    run_id: int | None = None  # the run's id in the store, when it is stored
    saved: dict | None = field(default=None, repr=False)  # on Ray, where the trainer lives in a worker:
    # the last epoch's Trainer.checkpoint(), what going on needs

    @property
    def done(self) -> bool:
        return self.state.status in DONE

    @property
    def resumable(self) -> bool:
        """Ended finished, stopped (or on Ray interrupted), with what going on needs still kept."""
        return self.done and (self.trainer is not None or (self.saved is not None and self.state.status in GOES_ON))

    def release(self) -> None:
        """Give up going on with this run (frees its trainer's model and optimizer state)."""
        self.keep_trainer = False
        self.trainer = self.saved = None


def default_max_running() -> int:
    """TLL_MAX_JOBS, else 2 on a GPU, else one per CPU core."""
    return env_number("TLL_MAX_JOBS", 2 if torch.cuda.is_available() else max(1, os.cpu_count() or 1), minimum=1)


class JobManager:
    """A first-come queue in front of at most `max_running` concurrent trainings."""

    def __init__(self, max_running: int | None = None, threads_per_job: int | None = None):
        self.max_running = max_running or default_max_running()
        self.threads_per_job = threads_per_job or max(1, (os.cpu_count() or 1) // self.max_running)
        self._lock = threading.Lock()
        self._queue: deque[Job] = deque()
        self._running: set[Job] = set()
        self._ids = itertools.count(1)
        self.peak_running = 0  # the most jobs ever running at once (for checks and the load test)
        self._last_alive: dict[str, float] = {}  # owner → when it was last seen alive
        self._reaper: threading.Thread | None = None

    @property
    def slots(self) -> int:
        """Trainings that run at once (the rest wait)."""
        return self.max_running

    problem = ""  # why new runs cannot start right now (the Ray executor's cluster unreachable); "" here

    def warm(self, data: D.MnistSplits) -> None:
        """Get the trainers' processes ready before the first learner asks (the Ray executor's workers);
        in-process there is nothing to do: this process imported torch at start."""

    # asking -------------------------------------------------------------------------------------

    def submit(self, config: TrainConfig, splits: D.MnistSplits, owner: str = "",
               epoch_hook: Callable | None = None, listener=None, run_id: int | None = None) -> Job:
        """Queue a run of `config`; it starts as soon as a slot is free. Bad settings raise ConfigError now."""
        config = replace(config).validate()
        job = Job(next(self._ids), owner, config, RunState(config.minibatch(len(splits.train))), splits, epoch_hook,
                  listener=listener, run_id=run_id)
        self._enqueue(job)
        return job

    def take_up(self, config: TrainConfig, splits: D.MnistSplits, saved: dict, epochs: int,
                done: list[EpochEvent], losses: list[tuple[int, float]] = (), elapsed: float = 0.0,
                owner: str = "", epoch_hook: Callable | None = None, listener=None,
                run_id: int | None = None) -> Job:
        """Queue a run that was saved after its epoch `len(done)` (Trainer.checkpoint(), e.g. from the
        store after a restart) to train `epochs` more epochs with its weights, optimizer state and
        batch order. The job starts with the saved curves (`done`, `losses`) and training time."""
        config = replace(config, epochs=len(done)).validate()
        state = RunState(config.minibatch(len(splits.train)), done, losses, step=saved["steps_done"], elapsed=elapsed)
        job = Job(next(self._ids), owner, config, state, splits, epoch_hook, listener=listener, run_id=run_id)
        trainer = self._trainer(job)
        trainer.restore(saved, done)
        trainer.extend(epochs)
        job.trainer, job.config = trainer, trainer.config
        state.result = trainer.result
        self._enqueue(job)
        return job

    def _enqueue(self, job: Job) -> None:
        if job.listener:
            job.listener.queued(job.config)
        with self._lock:
            self._queue.append(job)
            self._renumber()
        self._dispatch()

    def _trainer(self, job: Job) -> Trainer:
        listener = job.listener

        def on_event(event):
            job.state.on_event(event)
            if listener:
                listener.on_event(event)

        return Trainer(job.config, job.splits, on_event=on_event, should_stop=job.cancel_event.is_set,
                       epoch_hook=job.epoch_hook, on_checkpoint=listener.on_checkpoint if listener else None)

    def resume(self, job: Job, epochs: int) -> None:
        """Queue a finished or stopped job to train `epochs` more epochs from where it ended (the same
        model, optimizer state and batch order; a stopped epoch finishes first, as one of them)."""
        if not job.resumable:
            raise ValueError(f"job {job.id} ({job.state.status}) cannot go on")
        job.trainer.extend(epochs)
        job.config = job.trainer.config
        job.cancel_event.clear()
        job.state._requeue(total_steps=job.trainer.iterations_per_epoch() * job.config.epochs)
        self._enqueue(job)

    def cancel(self, job: Job) -> None:
        """Stop a running job within one step (it keeps its weights); drop a queued one."""
        job.cancel_event.set()
        with self._lock:
            if job in self._queue:
                self._queue.remove(job)
                # a resumed run waiting to go on is stopped where it was; a new one never started
                status = "stopped" if job.state.result is not None else "cancelled"
                job.state._set(status=status, position=0, ended=time.perf_counter())
                self._renumber()
                if job.listener:
                    job.listener.ended(status, job.state.result, "", job.state.elapsed, None)
        self._dispatch()

    def find(self, run_id: int) -> Job | None:
        """The queued or running job of the stored run `run_id`, if this process has it."""
        with self._lock:
            return next((j for j in (*self._queue, *self._running) if j.run_id == run_id), None)

    def adopt(self, job: Job, owner: str) -> None:
        """Let `owner` (a reloaded tab of the same learner) own `job`: it is no longer cancelled when
        its old tab's grace period ends."""
        job.owner = owner

    def cancel_owner(self, owner: str) -> int:
        """Cancel every queued or running job of `owner` (e.g. a closed browser tab); returns how many."""
        with self._lock:
            jobs = [j for j in (*self._queue, *self._running) if j.owner == owner]
        for job in jobs:
            self.cancel(job)
        return len(jobs)

    def owners(self) -> set[str]:
        """Owners with a queued or running job."""
        with self._lock:
            return {j.owner for j in (*self._queue, *self._running)}

    def counts(self) -> tuple[int, int]:
        """(running, queued) right now."""
        with self._lock:
            return len(self._running), len(self._queue)

    def reap(self, is_alive: Callable[[str], bool], grace: float) -> int:
        """Cancel the jobs of owners not alive for `grace` seconds (a closed tab), and those asked to stop
        elsewhere; returns how many.

        The grace period lets a learner whose connection drops for a moment reconnect and keep the run.
        """
        now = time.monotonic()
        gone = []
        for owner in self.owners():
            if is_alive(owner):
                self._last_alive[owner] = now
            elif now - self._last_alive.setdefault(owner, now) >= grace:
                gone.append(owner)
        for owner in gone:
            self._last_alive.pop(owner, None)
        return sum(self.cancel_owner(owner) for owner in gone) + self._stop_asked()

    def _stop_asked(self) -> int:
        """Stop the jobs whose listener says a stop was asked elsewhere (another replica); returns how many."""
        with self._lock:
            asked = [j for j in (*self._queue, *self._running) if not j.cancel_event.is_set()
                     and getattr(j.listener, "stop_asked", None) is not None and j.listener.stop_asked.is_set()]
        for job in asked:
            self.cancel(job)
        return len(asked)

    def watch_owners(self, is_alive: Callable[[str], bool], grace: float, every: float = 2.0) -> None:
        """Run `reap` every `every` seconds in a background thread (started once)."""
        with self._lock:
            if self._reaper is not None:
                return
            self._reaper = threading.Thread(target=self._reap_forever, args=(is_alive, grace, every),
                                            name="job-reaper", daemon=True)
        self._reaper.start()

    def _reap_forever(self, is_alive, grace: float, every: float) -> None:
        while True:
            time.sleep(every)
            self.reap(is_alive, grace)

    # running ------------------------------------------------------------------------------------

    def _renumber(self) -> None:
        for position, job in enumerate(self._queue, 1):
            job.state._set(position=position)

    def _dispatch(self) -> None:
        with self._lock:
            while self._queue and len(self._running) < self.max_running:
                job = self._queue.popleft()
                self._running.add(job)
                self.peak_running = max(self.peak_running, len(self._running))
                self._begin(job)
                job.thread = threading.Thread(target=self._work, args=(job,), name=f"train-{job.id}", daemon=True)
                job.thread.start()
            self._renumber()

    def _begin(self, job: Job) -> None:
        """A job leaves the queue: here it starts training at once."""
        job.state._set(status="running", position=0, started=time.perf_counter())

    def _work(self, job: Job) -> None:
        """The job's thread: train it (`_train`), then end it, whatever happened, and free its slot."""
        state = job.state
        end = {"status": "failed", "error": "the training thread was interrupted"}
        try:
            result = self._train(job)
            state.result = result
            end = {"status": result.status, "diverged_step": result.diverged_step}
        except Ended as exc:
            end = {"status": exc.status}
        except ConfigError as exc:
            end = {"status": "failed", "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - the worker must always end its job and free its slot
            end = {"status": "failed", "error": f"{exc.__class__.__name__}: {exc}\n{traceback.format_exc(limit=3)}"}
        finally:
            with self._lock:
                self._running.discard(job)
            state._set(ended=time.perf_counter(), **end)  # done only now: a resume may queue it again
            if job.listener:
                job.listener.ended(end["status"], state.result if end["status"] != "failed" else None,
                                   end.get("error", ""), state.elapsed, end.get("diverged_step"))
            self._dispatch()

    def _train(self, job: Job) -> RunResult:
        """Run the job's Trainer in this thread; keep the trainer when the run may go on."""
        torch.set_num_threads(self.threads_per_job)  # this job's share of the cores (later threads
        # inherit it too: app.py gives each page run the whole count back, device.use_all_cpu_threads)
        trainer = job.trainer or self._trainer(job)
        job.trainer = None
        per_epoch = trainer.iterations_per_epoch()
        job.state._set(steps_per_epoch=per_epoch, total_steps=per_epoch * job.config.epochs)
        if job.listener:
            job.listener.running(per_epoch, per_epoch * job.config.epochs, trainer.device)
        result = trainer.run()
        if result.status in RESUMABLE and job.keep_trainer:
            job.trainer = trainer
        return result


_manager: JobManager | None = None
_manager_lock = threading.Lock()


def manager() -> JobManager:
    """The process-wide executor, created on first use: the in-process JobManager (TLL_MAX_JOBS), or
    with TLL_RAY_ADDRESS set the Ray executor (core.ray_executor; nothing imports ray otherwise)."""
    global _manager
    with _manager_lock:
        if _manager is None:
            address = os.environ.get("TLL_RAY_ADDRESS", "").strip()
            if address:
                from core.ray_executor import RayExecutor

                _manager = RayExecutor(address)
            else:
                _manager = JobManager()
        return _manager
