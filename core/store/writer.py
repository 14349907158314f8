"""Writing runs to the store off the training thread.

A `Recorder` is a job's listener (core.jobs): the training thread hands it events and each epoch's
checkpoint, which it only queues. One `StoreWriter` thread per process drains the queue: step
losses and progress at most every FLUSH_SECONDS, an epoch's figures and weights as soon as they
come, all of one flush in one transaction. It also says every HEARTBEAT_SECONDS that this process
still trains or queues its runs; a run whose heartbeat stops (a killed server) reads "interrupted".
With the heartbeat it reads which of its runs another replica asked to stop (Store.ask_stop): their
Recorders' `stop_asked` is set, and the executor stops those jobs (core.jobs.JobManager.reap).

A write that fails (database gone, disk full) is tried again, with what came in meanwhile, for
half a minute; its words are kept in `problem` and the app says so on screen. What could not be
written by then is named in `lost_runs` (the app says so too); the training goes on regardless and
keeps its results in memory.
"""
import json
import logging
import queue
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError

from core.checkpoint import saved_state_bytes, weights_bytes
from core.store import schema as S
from core.store.runs import Store, _finite, _short, loss_stride, now
from core.train import EpochEvent, RunResult, StepEvent, TrainConfig, diverged

FLUSH_SECONDS = 0.5  # live progress reaches the store at most this long after a step
HEARTBEAT_SECONDS = 2.0
RETRY_SECONDS = 1.0  # a failed write is tried again after this long, with what came in meanwhile …
MAX_ATTEMPTS = 30  # … this many times (half a minute): then it is given up, and `lost_runs` says whose
log = logging.getLogger(__name__)


@dataclass
class _Pending:
    """What one flush writes about one run."""
    fields: dict = field(default_factory=dict)  # columns of `runs` to set
    steps: list[tuple[int, float]] = field(default_factory=list)
    epochs: list[EpochEvent] = field(default_factory=list)
    weights: dict | None = None  # {"epoch", "model": bytes, "resume": bytes (absent: keep the stored one)}
    clear_after: int | None = None  # delete stored step losses past this step (a run taken up again)


class StoreWriter:
    def __init__(self, store: Store):
        self.store = store
        self._queue: queue.Queue = queue.Queue()
        self._active: set[int] = set()  # runs this process queues or trains
        self._recorders: dict[int, "Recorder"] = {}  # … and their listeners, told when a stop is asked
        self._lock = threading.Lock()
        self.failures = 0
        self.problem = ""  # the last write error, for the screen
        self.lost_runs: set[int] = set()  # runs some of whose progress could not be written
        self._counts = threading.Condition()
        self._queued = self._settled = 0  # items put, and items written (or given up) since the start
        self._thread = threading.Thread(target=self._loop, name="store-writer", daemon=True)
        self._thread.start()

    def recorder(self, run_id: int) -> "Recorder":
        return Recorder(self, run_id)

    def put(self, run_id: int, **what) -> None:
        with self._counts:
            self._queued += 1
            self._queue.put((run_id, what))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything queued so far is written (tests, and a clean shutdown); False when
        the database did not take it within `timeout` seconds."""
        self.put(-1)  # a marker: the loop writes at once
        with self._counts:
            target = self._queued
            return self._counts.wait_for(lambda: self._settled >= target, timeout)

    def _set_active(self, recorder: "Recorder", active: bool) -> None:
        with self._lock:
            if active:
                self._active.add(recorder.run_id)
                self._recorders[recorder.run_id] = recorder
            else:
                self._active.discard(recorder.run_id)
                self._recorders.pop(recorder.run_id, None)

    def _loop(self) -> None:
        last_beat = 0.0
        pending: dict[int, _Pending] = {}
        taken = 0  # queue items folded into `pending`
        attempts = 0  # failed writes of what is pending
        while True:
            deadline = time.monotonic() + RETRY_SECONDS if pending else None
            while True:  # gather for up to FLUSH_SECONDS, or until an epoch or an end needs writing now
                until = deadline if deadline is not None else last_beat + HEARTBEAT_SECONDS
                timeout = max(0.0, until - time.monotonic())
                try:
                    run_id, what = self._queue.get(timeout=timeout)
                except queue.Empty:
                    break
                urgent = self._merge(pending, run_id, what)
                taken += 1
                deadline = deadline or time.monotonic() + FLUSH_SECONDS
                if urgent:
                    while not self._queue.empty():  # take what else is there, then write
                        self._merge(pending, *self._queue.get_nowait())
                        taken += 1
                    break
            beat = time.monotonic() - last_beat > HEARTBEAT_SECONDS
            if pending or beat:
                written = self._write(pending, beat)
                last_beat = time.monotonic() if beat else last_beat
                attempts = 0 if written else attempts + 1
                if written or attempts >= MAX_ATTEMPTS:
                    if not written:  # the database stays away: say what is lost, keep going
                        self.lost_runs |= set(pending)
                        log.error("the run store lost the progress of runs %s: %s", sorted(pending), self.problem)
                    pending, attempts = {}, 0
            if not pending:
                with self._counts:
                    self._settled += taken
                    self._counts.notify_all()
                taken = 0

    def _merge(self, pending: dict[int, _Pending], run_id: int, what: dict) -> bool:
        """Fold one queued item into the pending flush; True when it should be written now."""
        if run_id < 0:
            return True
        p = pending.setdefault(run_id, _Pending())
        p.fields.update(what.get("fields", {}))
        p.steps.extend(what.get("steps", ()))
        if "epoch" in what:
            p.epochs.append(what["epoch"])
        if "weights" in what:
            saved, config, epoch, model_state = what["weights"]  # serialized here, not in the training thread
            # an end's weights (no `saved`) keep the saved state of an epoch's checkpoint in the same flush
            p.weights = {**(p.weights or {}), "epoch": epoch, "model": weights_bytes(model_state, config)}
            if saved is not None:
                p.weights["resume"] = saved_state_bytes(saved)
        if "clear_after" in what:
            p.clear_after = what["clear_after"]
        return bool("epoch" in what or "weights" in what or what.get("urgent"))

    def _write(self, pending: dict[int, _Pending], beat: bool) -> bool:
        """One transaction for everything pending, and the heartbeat; False when it failed."""
        t = now()
        try:
            with self.store.session.begin() as db:
                for run_id, p in pending.items():
                    if p.clear_after is not None:
                        db.execute(delete(S.StepLoss).where(S.StepLoss.run_id == run_id,
                                                            S.StepLoss.step > p.clear_after))
                        db.execute(delete(S.EpochRow).where(S.EpochRow.run_id == run_id,
                                                            S.EpochRow.step > p.clear_after))
                    db.execute(update(S.Run).where(S.Run.id == run_id)
                               .values(updated_at=t, heartbeat_at=t, **p.fields))
                    if p.steps:
                        db.execute(S.StepLoss.__table__.insert(), [
                            {"run_id": run_id, "step": s, "loss": _finite(v)} for s, v in p.steps])
                    if p.epochs:
                        db.execute(S.EpochRow.__table__.insert(), [_epoch_row(run_id, e) for e in p.epochs])
                    if p.weights is not None:
                        self._put_weights(db, run_id, p.weights)
                with self._lock:  # (a copy: training threads add and remove runs meanwhile)
                    active = set(self._active)
                quiet = active - set(pending)
                if beat and quiet:
                    db.execute(update(S.Run).where(S.Run.id.in_(quiet)).values(heartbeat_at=t))
                asked = db.scalars(select(S.Run.id).where(S.Run.id.in_(active), S.Run.stop_asked)).all() \
                    if beat and active else []
            with self._lock:
                for recorder in filter(None, map(self._recorders.get, asked)):
                    recorder.stop_asked.set()
            self.problem = ""
            return True
        except (SQLAlchemyError, OSError) as exc:
            self.failures += 1
            self.problem = _short(exc)
            log.warning("the run store could not write %d runs' progress (will retry): %s", len(pending), self.problem)
            return False

    @staticmethod
    def _put_weights(db, run_id: int, weights: dict) -> None:
        """Insert or update the run's weights row with plain statements: reading the row first would load
        the previous blobs (~1.8 MB for the MLP with Adam) only to overwrite them."""
        values = {k: weights[k] for k in ("epoch", "model", "resume") if k in weights}
        table = S.Weights.__table__
        if db.execute(table.update().where(table.c.run_id == run_id).values(**values)).rowcount == 0:
            db.execute(table.insert().values(run_id=run_id, **values))


def _epoch_row(run_id: int, e: EpochEvent) -> dict:
    return {"run_id": run_id, "epoch": e.epoch, "step": e.step, "train_loss": _finite(e.train_loss),
            "train_acc": _finite(e.train_acc), "val_loss": _finite(e.val_loss), "val_acc": _finite(e.val_acc),
            "train_seconds": e.train_seconds, "seconds": e.seconds, "samples_per_s": e.samples_per_s,
            "extra": json.dumps(e.extra)}


class Recorder:
    """One run's listener (core.jobs): turns its events into queued writes, never blocking."""

    def __init__(self, writer: StoreWriter, run_id: int):
        self.writer, self.run_id = writer, run_id
        self.config: TrainConfig | None = None
        self.stride = 1
        self._steps: list[tuple[int, float]] = []
        self._last_sent = 0.0
        self._step = self._epoch = 0
        self.stop_asked = threading.Event()  # set when another replica asked to stop the run (Store.ask_stop)

    def queued(self, config: TrainConfig) -> None:
        self.config = config
        self.stop_asked.clear()
        self.writer._set_active(self, True)
        self.writer.put(self.run_id, fields={"status": "queued", "config": config.to_json(), "stop_asked": False},
                        urgent=True)

    def running(self, steps_per_epoch: int, total_steps: int, device) -> None:
        self.stride = loss_stride(total_steps)
        self.writer.put(self.run_id, fields={"status": "running", "steps_per_epoch": steps_per_epoch,
                                             "total_steps": total_steps, "loss_stride": self.stride,
                                             "device": str(device)}, urgent=True)

    def on_event(self, event) -> None:
        if isinstance(event, StepEvent):
            self._step = event.step
            if event.step % self.stride == 0 or event.step == 1 or diverged(event.loss):
                self._steps.append((event.step, event.loss))
            if time.monotonic() - self._last_sent >= FLUSH_SECONDS:
                self._send()
        elif isinstance(event, EpochEvent):
            self._epoch = event.epoch
            self._send(epoch=event)

    def _send(self, **what) -> None:
        self._last_sent = time.monotonic()
        steps, self._steps = self._steps, []
        self.writer.put(self.run_id, steps=steps, fields={"step": self._step, "status": "running"}, **what)

    def on_checkpoint(self, saved: dict) -> None:
        """After each epoch: the weights the pages would use and what going on needs (CPU copies)."""
        self.writer.put(self.run_id, weights=(saved, self.config, self._epoch, saved["model"]))

    def goes_on_from(self, step: int, epoch: int) -> None:
        """The run is taken up again from its checkpoint after `epoch` (`step` steps): what it stored
        past that (an interrupted epoch's losses) is dropped."""
        self._step, self._epoch = step, epoch
        self.writer.put(self.run_id, clear_after=step)

    def ended(self, status: str, result: RunResult | None, error: str, elapsed: float,
              diverged_step: int | None) -> None:
        fields = {"status": status, "error": error or "", "elapsed": elapsed, "step": self._step,
                  "diverged_step": diverged_step}
        what = {}
        if result is not None:
            fields["best_epoch"] = result.best_epoch
            kept = result.kept_epoch
            what["weights"] = (None, result.config, kept.epoch if kept else 0, result.model.state_dict())
        steps, self._steps = self._steps, []
        self.writer.put(self.run_id, steps=steps, fields=fields, urgent=True, **what)
        self.writer._set_active(self, False)
