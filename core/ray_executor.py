"""Trainings on a Ray cluster: the executor chosen by TLL_RAY_ADDRESS (core.jobs.manager()).

    TLL_RAY_ADDRESS=local              start a private Ray on this machine (TLL_RAY_CPUS cores)
    TLL_RAY_ADDRESS=auto               join the Ray head running on this machine
    TLL_RAY_ADDRESS=HOST:6379          join a cluster's head (ray://HOST:10001: Ray Client, needs ray[client])

Each run is one Ray task, `train_task`, a streaming generator: the worker builds the same Trainer
as the in-process executor and yields, at most every STREAM_SECONDS, the step events so far, each
epoch's event and checkpoint at once, and at the end the model's weights. This process feeds them
to the job's RunState and listener (the store), exactly as a training thread here would: pages,
the store and other replicas cannot tell the two executors apart. Ray schedules the tasks
(`num_cpus=1`, or TLL_RAY_GPU_FRACTION of a GPU each) and queues those that find no free worker:
such a job reads "queued" until its task starts.

- Stop: this replica's StopBoard actor holds the stopped jobs; a task asks it every STOP_POLL_SECONDS
  and stops like a thread does, keeping its weights. A task that does not end within FORCE_STOP_SECONDS
  is killed (its job keeps the last epoch's weights).
- Go on: from the last epoch's checkpoint (a Stop inside an epoch redoes that epoch: the trainer's
  place inside an epoch lives in the worker, which is gone), as after a restart.
- A worker or node that dies under a task: the job ends "interrupted" with its last epoch's weights
  and can go on from there. The head unreachable: new runs are refused with the reason (the
  replica's own cores serve pages, not trainings); runs under way end "interrupted".
- Workers load the dataset once per worker process (their own TLL_DATA_DIR, else the bundled
  sample) and check that it is the app's; the executor warms one worker per CPU at start, so that
  the first learner does not wait for a worker to import torch.
"""
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, replace

import torch

from core import data as D
from core.jobs import Ended, Job, JobManager, RunState
from core.settings import env_number
from core.train import ConfigError, EpochEvent, RunResult, StepEvent, TrainConfig, Trainer

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
import ray  # noqa: E402 - after the setting above, which Ray reads when imported
from ray.exceptions import RayError, RayTaskError, TaskCancelledError  # noqa: E402

STREAM_SECONDS = 0.1  # step losses reach this process at most this long after the step
STOP_POLL_SECONDS = 0.2  # a running task asks whether it was stopped this often
FORCE_STOP_SECONDS = 3.0  # a stopped task still running after this long is killed
CONNECT_SECONDS = env_number("TLL_RAY_CONNECT_TIMEOUT", 20.0, minimum=1, kind=float)
HOOKS_KEPT = 8  # epoch hooks kept in the cluster (the Lab makes two per process: with and without noise)
RETRY_CONNECT_SECONDS = 10.0  # after a failed connection, the next run tries again only this much later
log = logging.getLogger(__name__)


# the worker's side --------------------------------------------------------------------------------

_worker_data: D.MnistSplits | None = None


def worker_splits(expected: str) -> D.MnistSplits:
    """The worker process's dataset, loaded once (its TLL_DATA_DIR, else the bundled sample); refused
    when its fingerprint is not the app's (`expected`), else runs would differ by machine."""
    global _worker_data
    if _worker_data is None:
        _worker_data = D.load_splits_or_bundled()[0]
    if _worker_data.files.fingerprint != expected:
        raise ConfigError("ray_dataset", worker=_worker_data.describe(), node=os.uname().nodename)
    return _worker_data


@ray.remote(num_cpus=0)
class StopBoard:
    """The jobs of one replica that were asked to stop (by token)."""

    def __init__(self):
        self.stopped: set[str] = set()

    def stop(self, token: str) -> None:
        self.stopped.add(token)

    def forget(self, token: str) -> None:
        self.stopped.discard(token)

    def is_stopped(self, token: str) -> bool:
        return token in self.stopped


def _stop_check(board, token: str, halt: threading.Event):
    """should_stop for the Trainer: `halt` (the task itself ends), or the board, asked at most every
    STOP_POLL_SECONDS."""
    asked = {"at": 0.0, "stop": False}

    def should_stop() -> bool:
        now = time.monotonic()
        if not asked["stop"] and now - asked["at"] >= STOP_POLL_SECONDS:
            asked["at"] = now
            asked["stop"] = ray.get(board.is_stopped.remote(token))
        return asked["stop"] or halt.is_set()

    return should_stop


def train_task(config: TrainConfig, data: str, saved: dict | None, done: list, more: int,
               epoch_hook, board, token: str):
    """One run, in a worker: yields ("running", steps per epoch, total steps, device), ("events", [...]),
    ("checkpoint", dict) after each epoch, and last ("end", status, weights, diverged step, best epoch).
    A fresh run trains `config.epochs`; a saved one (`saved` after the epochs `done`) `more` epochs.
    The Trainer runs in a thread of the task; the task's own loop streams what it hears."""
    torch.set_num_threads(max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1))))
    splits = worker_splits(data)
    out: queue.Queue = queue.Queue()
    halt = threading.Event()  # set when the task ends for any reason (e.g. cancelled): the thread stops too
    trainer = Trainer(config, splits, on_event=out.put, should_stop=_stop_check(board, token, halt),
                      epoch_hook=epoch_hook, on_checkpoint=lambda c: out.put(("checkpoint", c)))
    if saved is not None:
        trainer.restore(saved, done)
        trainer.extend(more)
    per_epoch = trainer.iterations_per_epoch()
    yield "running", per_epoch, per_epoch * trainer.config.epochs, str(trainer.device)
    ended = {}

    def train():
        try:
            ended["result"] = trainer.run()
        except BaseException as exc:  # noqa: BLE001 - handed to the generator, which raises it
            ended["error"] = exc
        out.put(None)

    threading.Thread(target=train, name="train", daemon=True).start()
    try:
        yield from _stream(out)
    finally:
        halt.set()
    if "error" in ended:
        raise ended["error"]
    result = ended["result"]
    weights = {k: v.cpu() for k, v in result.model.state_dict().items()}
    yield "end", result.status, weights, result.diverged_step, result.best_epoch


def _stream(out: queue.Queue):
    """What the trainer puts in `out`, until its None: step events in batches (the first at once, then
    at most every STREAM_SECONDS), each epoch's event and checkpoint as soon as they come."""
    events, last, first = [], time.monotonic(), True
    while True:
        try:
            item = out.get(timeout=STREAM_SECONDS)
        except queue.Empty:
            item = "tick"
        if isinstance(item, StepEvent):
            events.append(item)
        if events and (first or item is None or isinstance(item, (EpochEvent, tuple))
                       or time.monotonic() - last >= STREAM_SECONDS):
            yield "events", events
            events, last, first = [], time.monotonic(), False
        if isinstance(item, EpochEvent):
            yield "events", [item]
        elif isinstance(item, tuple):
            yield item
        elif item is None:
            return


def warm_up(data: str) -> str:
    """Import torch and the trainer, load the dataset and take one small step: the worker's first run
    then starts in milliseconds instead of seconds."""
    splits = worker_splits(data)
    config = TrainConfig(epochs=1, train_subset=64, device="cpu")
    Trainer(config, splits).run()
    return os.uname().nodename


# the app's side -----------------------------------------------------------------------------------

@dataclass
class _Remote:
    """What this process knows of a job's Ray task."""
    token: str  # the job's name on the StopBoard
    going_on: tuple[list[EpochEvent], int] | None = None  # (epochs done, epochs more) for a run that goes on
    task: object = None  # the task's ObjectRefGenerator while it runs


class RayExecutor(JobManager):
    """core.jobs' interface on a Ray cluster: each job is a `train_task`, whose stream one thread of
    this process reads into the job (Ray, not this class, queues the tasks)."""

    def __init__(self, address: str):
        super().__init__(max_running=1_000_000, threads_per_job=1)  # Ray queues; nothing waits here
        self.address = address
        self.gpu_fraction = env_number("TLL_RAY_GPU_FRACTION", 0.0, minimum=0, kind=float)
        self.problem = ""  # why the cluster cannot be used right now ("" when it can)
        self._slots = 0  # trainings the cluster runs at once: its CPUs (or GPU shares)
        self._board = None  # this replica's StopBoard, once the cluster is joined
        self._attempt = threading.Event()  # the latest attempt to join: set when it has ended
        self._attempt.set()
        self._tried = -RETRY_CONNECT_SECONDS
        self._connect_lock = threading.Lock()
        self._remote: dict[Job, _Remote] = {}
        self._hooks: dict[int, tuple] = {}  # id(epoch hook) → (the hook, its ObjectRef): see _shared
        self._task = ray.remote(num_cpus=1, max_retries=0)(train_task)
        self._connect(wait=0)

    # connecting --------------------------------------------------------------------------------

    def _connect(self, wait: float) -> bool:
        """Is the cluster joined? Starts joining it in a thread (again RETRY_CONNECT_SECONDS after a
        failure) and waits for that at most `wait` s and never past CONNECT_SECONDS after the attempt
        began: the app never hangs on Ray. When it cannot, `problem` says why."""
        with self._connect_lock:
            if self._board is not None:
                return True
            now = time.monotonic()
            if self._attempt.is_set() and now - self._tried >= RETRY_CONNECT_SECONDS:
                self._tried = now
                self._attempt = threading.Event()
                threading.Thread(target=self._init, args=(self._attempt,), name="ray", daemon=True).start()
            attempt = self._attempt
        left = self._tried + CONNECT_SECONDS - time.monotonic()
        if not attempt.wait(max(0.0, min(wait, left))) and wait >= left:  # not while a join is still under
            # way: a replica's first page (wait=0) said "cannot be reached ... after 0 s"
            self.problem = f"no answer from {self.address} after {time.monotonic() - self._tried:.0f} s"
        return self._board is not None

    def _init(self, attempt: threading.Event) -> None:
        """Join the cluster (or start the private one). A private Ray's processes end with the thread
        that started them (Ray ties them to it), so this thread then stays, parked, for the process's life."""
        try:
            if not ray.is_initialized():
                options = {"log_to_driver": False}
                if self.address == "local":
                    cpus = env_number("TLL_RAY_CPUS", os.cpu_count() or 1, minimum=1)
                    options.update(address="local", num_cpus=cpus, include_dashboard=False)
                else:
                    options.update(address=self.address)
                ray.init(**options)
            resources = ray.cluster_resources()
            self._slots = int(resources.get("GPU", 0) / self.gpu_fraction if self.gpu_fraction
                              else resources.get("CPU", 0))
            self._board = StopBoard.remote()
            self.problem = ""
        except Exception as exc:  # noqa: BLE001 - any failure to join is said in words, not raised
            self.problem = f"{exc.__class__.__name__}: {(str(exc).splitlines() or [''])[0]}"
            log.warning("Ray at %s cannot be used: %s", self.address, self.problem)
        finally:
            attempt.set()
        if self._board is not None and self.address == "local":
            threading.Event().wait()

    def warm(self, data: D.MnistSplits) -> threading.Thread:
        """In the background: join the cluster, then run one warm-up task per slot (up to 32) so that
        the first learners' runs start in milliseconds. Returns the thread (tests wait for it)."""

        def go():
            if self._connect(wait=CONNECT_SECONDS):
                task = ray.remote(warm_up).options(**self._resources())
                ray.get([task.remote(data.files.fingerprint) for _ in range(max(1, min(self._slots, 32)))])

        thread = threading.Thread(target=go, name="ray-warm-up", daemon=True)
        thread.start()
        return thread

    @property
    def slots(self) -> int:
        return self._slots

    def _resources(self) -> dict:
        return {"num_cpus": 1, "num_gpus": self.gpu_fraction} if self.gpu_fraction else {"num_cpus": 1}

    def _require(self) -> None:
        if not self._connect(wait=CONNECT_SECONDS):
            raise ConfigError("ray_unreachable", address=self.address, problem=self.problem)

    # asking ------------------------------------------------------------------------------------

    def submit(self, config, splits, owner="", epoch_hook=None, listener=None, run_id=None) -> Job:
        self._require()
        return super().submit(config, splits, owner, epoch_hook, listener, run_id)

    def take_up(self, config: TrainConfig, splits: D.MnistSplits, saved: dict, epochs: int,
                done: list[EpochEvent], losses=(), elapsed: float = 0.0, owner: str = "",
                epoch_hook=None, listener=None, run_id: int | None = None) -> Job:
        """As JobManager.take_up; the worker restores the trainer, so nothing is built here."""
        self._require()
        config = replace(config, epochs=len(done) + epochs).validate()
        state = RunState(config.minibatch(len(splits.train)), done, losses, step=saved["steps_done"], elapsed=elapsed)
        job = Job(next(self._ids), owner, config, state, splits, epoch_hook, listener=listener, run_id=run_id,
                  saved=saved)
        self._goes_on(job, list(done), epochs)
        self._enqueue(job)
        return job

    def resume(self, job: Job, epochs: int) -> None:
        """Go on from the job's last finished epoch (a stopped epoch is trained again from its start)."""
        if not job.resumable:
            raise ValueError(f"job {job.id} ({job.state.status}) cannot go on")
        self._require()
        steps = job.saved["steps_done"]
        snap = job.state.snapshot()
        done = [e for e in snap.epochs if e.step <= steps]
        state = RunState(job.config.minibatch(len(job.splits.train)), done,
                         [(s, v) for s, v in snap.losses if s <= steps], step=steps, elapsed=snap.elapsed)
        state.result = job.state.result  # shown until the new one replaces it
        job.state, job.config = state, replace(job.config, epochs=len(done) + epochs)
        job.cancel_event.clear()
        self._goes_on(job, done, epochs)
        if job.listener:
            job.listener.goes_on_from(steps, len(done))
        self._enqueue(job)

    def _goes_on(self, job: Job, done: list[EpochEvent], epochs: int) -> None:
        with self._lock:
            self._remote[job] = _Remote(self._token(job), (done, epochs))

    @staticmethod
    def _token(job: Job) -> str:
        return f"{os.getpid()}-{job.id}-{time.monotonic_ns()}"

    def cancel(self, job: Job) -> None:
        """Ask the job's task to stop (it keeps its weights); kill it if it has not ended in a while.
        A task still in Ray's queue is taken out of it."""
        job.cancel_event.set()
        with self._lock:
            remote = self._remote.get(job)
        if remote is None or remote.task is None or job.done:
            return
        if job.state.status == "queued":
            ray.cancel(remote.task)
            return
        self._board.stop.remote(remote.token)
        threading.Timer(FORCE_STOP_SECONDS, self._force_stop, args=(job, remote.task)).start()

    def _force_stop(self, job: Job, task) -> None:
        with self._lock:
            remote = self._remote.get(job)
        if remote is not None and remote.task is task and not job.done:
            log.warning("job %s did not stop within %s s: its Ray task is killed", job.id, FORCE_STOP_SECONDS)
            ray.cancel(task, force=True)

    def counts(self) -> tuple[int, int]:
        with self._lock:
            statuses = [j.state.status for j in self._running]
        return statuses.count("running"), statuses.count("queued")

    # running -----------------------------------------------------------------------------------

    def _begin(self, job: Job) -> None:
        """The job goes to Ray's queue: "queued" (with no place in line to show) until its task starts."""
        job.state._set(status="queued", position=0)
        self._remote.setdefault(job, _Remote(self._token(job)))

    def _renumber(self) -> None:
        """Nothing waits in a queue of ours."""

    def _train(self, job: Job) -> RunResult:
        """Start the job's task and read its stream into the job's state and listener."""
        with self._lock:
            remote = self._remote[job]
        done, more = remote.going_on or ([], 0)
        remote.going_on = None
        saved = job.saved if more else None
        config = replace(job.config, epochs=len(done)) if saved else job.config
        remote.task = self._task.options(**self._resources()).remote(
            config, job.splits.files.fingerprint, saved, done, more, self._shared(job.epoch_hook), self._board,
            remote.token)
        if job.cancel_event.is_set():  # stopped before its task existed
            ray.cancel(remote.task)
        try:
            end = self._follow(job, remote.task)
        except TaskCancelledError:
            return self._result(job, "stopped" if job.saved or job.state.result else "cancelled")
        except RayTaskError as exc:  # the training itself raised: as in a thread here, the run failed
            cause = exc.cause if isinstance(exc.cause, Exception) else exc
            raise cause if isinstance(cause, ConfigError) else RuntimeError(str(cause)) from None
        except RayError as exc:  # the worker, its node or the head went away: go on from the last epoch
            log.warning("job %s lost its Ray task: %s", job.id, exc.__class__.__name__)
            return self._result(job, "interrupted")
        finally:
            with self._lock:
                self._remote.pop(job, None)
            self._board.forget.remote(remote.token)
        _, status, weights, diverged_step, best_epoch = end
        return self._result(job, status, weights, diverged_step, best_epoch)

    def _shared(self, hook):
        """The epoch hook as an object in the cluster, put there once per hook: the Lab's hooks hold the
        validation set (3 MB bundled, 19 MB for MNIST's 6,000), and every task of a node reads that copy."""
        if hook is None:
            return None
        with self._lock:
            found = self._hooks.pop(id(hook), None)
            if found is None or found[0] is not hook:  # (a hook that was freed may have left its id)
                found = (hook, ray.put(hook))
            self._hooks[id(hook)] = found  # newest last: the oldest goes first
            while len(self._hooks) > HOOKS_KEPT:
                self._hooks.pop(next(iter(self._hooks)))
            return found[1]

    def _follow(self, job: Job, task) -> tuple:
        """Feed the task's stream to the job; returns its ("end", …) item."""
        state, listener = job.state, job.listener
        for ref in task:
            item = ray.get(ref)
            if item[0] == "running":
                _, per_epoch, total, device = item
                state._set(status="running", started=time.perf_counter(), steps_per_epoch=per_epoch,
                           total_steps=total)
                if listener:
                    listener.running(per_epoch, total, device)
            elif item[0] == "events":
                for event in item[1]:
                    state.on_event(event)
                    if listener:
                        listener.on_event(event)
            elif item[0] == "checkpoint":
                job.saved = item[1]
                if listener:
                    listener.on_checkpoint(item[1])
            else:
                return item
        raise RuntimeError("the Ray task ended without its result")

    def _result(self, job: Job, status: str, weights: dict | None = None, diverged_step=None,
                best_epoch=None) -> RunResult:
        """The job's RunResult: with the weights its task sent at its end, else (stopped by force, or
        its worker lost) with the last epoch's; Ended when it has none (it never finished an epoch)."""
        if weights is None and job.saved is not None:
            weights, best_epoch = job.saved["model"], job.saved["best_epoch"]
        if weights is None:
            if job.state.result is None:
                raise Ended(status)
            return replace(job.state.result, status=status)
        model = job.config.architecture()
        model.load_state_dict(weights)
        snap = job.state.snapshot()
        return RunResult(job.config, model.eval(), status, [loss for _, loss in snap.losses], snap.epochs,
                         diverged_step, best_epoch)
