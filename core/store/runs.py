"""The run store: every learner's runs, their curves and models, in one SQL database.

    store = Store()                                  # TLL_DATABASE_URL, else SQLite in the cache dir
    key = new_learner_key()                          # the learner's secret: whoever holds it owns the runs
    run_id, number, removed = store.create_run(key, config, device="cpu", data_source="bundled")
    store.runs(key)                                  # [StoredRun …] with epochs and step losses
    store.model(key, run_id)                         # (model, config), read through core.checkpoint

Every learner-facing call takes the learner's key and only ever touches that learner's runs: a
key is stored as its SHA-256, and a run id of another learner reads as missing. Writes during
training come from `core.store.writer` (batched, off the training thread), not from here.
"""
import hashlib
import json
import math
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from core.checkpoint import read_checkpoint, read_saved_state
from core.i18n import LessonError
from core.settings import env_number
from core.store import schema as S
from core.store.db import database_url, describe, make_engine
from core.train import EpochEvent, TrainConfig

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")  # secrets.token_urlsafe(24): 192 random bits
ACTIVE = ("queued", "running")
RESUMABLE = ("finished", "stopped", "interrupted")  # ends a stored run can go on from (with saved weights)
STALE_SECONDS = 10.0  # a queued or running run whose process has not said so for this long was interrupted
MAX_STEP_POINTS = 4000  # step losses kept per run: a longer run keeps every k-th (the chart draws ~1,500)


def max_runs() -> int:
    """TLL_MAX_RUNS: stored runs per learner; the oldest finished ones make room for new ones."""
    return env_number("TLL_MAX_RUNS", 50, minimum=1)


class StoreError(LessonError):
    """The database cannot be used: the app goes on without keeping runs, and says so."""


def new_learner_key() -> str:
    return secrets.token_urlsafe(24)


def valid_learner_key(key) -> bool:
    return isinstance(key, str) and KEY_PATTERN.fullmatch(key) is not None


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)  # naive UTC: SQLite and PostgreSQL alike


def loss_stride(total_steps: int) -> int:
    """Keep every k-th step's loss so that a run keeps at most MAX_STEP_POINTS of them: with step 1
    and a diverged last step (both always kept, writer.Recorder) on top of the k-th ones."""
    if total_steps <= MAX_STEP_POINTS:
        return 1
    return math.ceil(total_steps / (MAX_STEP_POINTS - 2))


def _nan(value):
    return math.nan if value is None else value


def _finite(value: float) -> float | None:
    """A float as a column holds it: NaN as NULL (SQLite has no NaN)."""
    return None if value is None or math.isnan(value) else value


@dataclass(frozen=True)
class StoredRun:
    """A run as the store has it: settings, status and curves, without its weights."""
    id: int
    number: int
    config: TrainConfig
    status: str  # queued, running, finished, stopped, diverged, early_stopped, cancelled, failed, interrupted
    error: str
    device: str
    data_source: str
    created_at: datetime
    updated_at: datetime
    step: int
    steps_per_epoch: int
    total_steps: int
    elapsed: float
    diverged_step: int | None
    best_epoch: int | None
    epochs: list[EpochEvent]
    losses: list[tuple[int, float]]  # (step, loss), every loss_stride-th step
    has_model: bool
    can_go_on: bool  # ended finished, stopped or interrupted, with an epoch's weights and optimizer state

    @property
    def active(self) -> bool:
        return self.status in ACTIVE


def epoch_event(row: S.EpochRow) -> EpochEvent:
    return EpochEvent(row.epoch, row.step, _nan(row.train_loss), _nan(row.train_acc), _nan(row.val_loss),
                      _nan(row.val_acc), row.train_seconds, row.seconds, row.samples_per_s, json.loads(row.extra))


class Store:
    def __init__(self, url: str | None = None):
        self.url = url or database_url()
        self.where = describe(self.url)
        try:
            self.engine = make_engine(self.url)
            self._upgrade()
        except (SQLAlchemyError, RuntimeError, OSError, ValueError) as exc:
            raise StoreError("store_unavailable", where=self.where, problem=_short(exc)) from None
        self.session = sessionmaker(self.engine, expire_on_commit=False)

    def _upgrade(self) -> None:
        try:
            S.upgrade(self.engine)
        except SQLAlchemyError:  # another replica upgraded it at the same moment: check once more
            S.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    # learners ----------------------------------------------------------------------------------

    def _learner(self, db: Session, key: str, lock: bool = False) -> S.Learner | None:
        """This key's learner; `lock` holds its row till the end of `db`'s transaction (PostgreSQL: two
        tabs numbering runs at once take turns)."""
        if not valid_learner_key(key):
            raise ValueError("not a learner key")
        query = select(S.Learner).where(S.Learner.key_hash == _hash(key))
        return db.scalar(query.with_for_update() if lock else query)

    def _add_learner(self, key: str) -> None:
        """Store this key's learner if it is new, in a transaction of its own: never inside another one,
        whose connection would wait for a second from the pool (many tabs at once: every connection
        held, each waiting for one more, until the pool times out)."""
        if not valid_learner_key(key):
            raise ValueError("not a learner key")
        try:
            with self._unit() as db:
                if db.scalar(select(S.Learner.id).where(S.Learner.key_hash == _hash(key))) is None:
                    db.add(S.Learner(key_hash=_hash(key), created_at=now(), last_number=0))
        except IntegrityError:
            pass  # another tab of the same learner added it at the same moment: harmless

    def learner_id(self, key: str, create: bool = False) -> int | None:
        """The numeric id of this key's learner (stored first when `create`), None when unknown."""
        if create:
            self._add_learner(key)
        with self._unit() as db:
            learner = self._learner(db, key)
            return learner.id if learner else None

    # runs --------------------------------------------------------------------------------------

    def create_run(self, key: str, config: TrainConfig, device: str = "", data_source: str = "",
                   status: str = "queued") -> tuple[int, int, list[int]]:
        """A new run of this learner: (its id, its number, the numbers of old runs removed to make room
        under max_runs(); active runs are never removed)."""
        self._add_learner(key)
        with self._unit() as db:
            learner = self._learner(db, key, lock=True)
            # counted in the database, not from the row read above: on SQLite that read is no lock, and two
            # tabs adding 1 to the same number would both take it
            learners = S.Learner.__table__
            number = db.execute(learners.update().where(learners.c.id == learner.id)
                                .values(last_number=learners.c.last_number + 1)
                                .returning(learners.c.last_number)).scalar_one()
            t = now()
            counted_in = db.scalar(  # the class the learner is in, while its contest is open: the run counts there
                select(S.Member.id).join(S.Classroom, S.Classroom.id == S.Member.class_id)
                .where(S.Member.learner_id == learner.id, S.Member.left_at.is_(None), S.Classroom.is_open.is_(True)))
            run = S.Run(learner_id=learner.id, number=number, config=config.to_json(), status=status,
                        device=device, data_source=data_source, created_at=t, updated_at=t, heartbeat_at=t,
                        member_id=counted_in, wall_hidden=False)
            db.add(run)
            db.flush()
            others = db.execute(select(S.Run.id, S.Run.number, S.Run.status).where(
                S.Run.learner_id == learner.id, S.Run.id != run.id).order_by(S.Run.number)).all()
            over = len(others) + 1 - max_runs()  # active runs count too, but only ended ones go
            removed = [r for r in others if r.status not in ACTIVE][:max(0, over)]
            if removed:
                db.execute(delete(S.Run).where(S.Run.id.in_([r.id for r in removed])))
            # only a learner's newest run can go on: the older ones' optimizer state (3/4 of a stored
            # MLP run) goes; their weights stay for the other pages
            ended = [r.id for r in others if r.status not in ACTIVE and r not in removed]
            if ended:
                db.execute(update(S.Weights).where(S.Weights.run_id.in_(ended), S.Weights.resume.is_not(None))
                           .values(resume=None))
            return run.id, number, [r.number for r in removed]

    def runs(self, key: str, run_ids: list[int] | None = None) -> list[StoredRun]:
        """This learner's runs (or those of `run_ids` among them), oldest first, with their curves.
        Runs whose process stopped saying it trains them show as "interrupted"."""
        if not valid_learner_key(key):
            return []
        self.mark_interrupted()
        with self._unit() as db:
            learner = self._learner(db, key)
            if learner is None:
                return []
            query = select(S.Run).where(S.Run.learner_id == learner.id).order_by(S.Run.number)
            if run_ids is not None:
                query = query.where(S.Run.id.in_(run_ids))
            rows = db.scalars(query).all()
            ids = [r.id for r in rows]
            epochs, losses = {i: [] for i in ids}, {i: [] for i in ids}
            for e in db.scalars(select(S.EpochRow).where(S.EpochRow.run_id.in_(ids))
                                .order_by(S.EpochRow.run_id, S.EpochRow.epoch)):
                epochs[e.run_id].append(epoch_event(e))
            for run_id, step, loss in db.execute(select(S.StepLoss.run_id, S.StepLoss.step, S.StepLoss.loss)
                                                 .where(S.StepLoss.run_id.in_(ids))
                                                 .order_by(S.StepLoss.run_id, S.StepLoss.step)):
                losses[run_id].append((step, _nan(loss)))
            weights = dict(db.execute(select(S.Weights.run_id, S.Weights.resume.is_not(None))
                                      .where(S.Weights.run_id.in_(ids))).all())
            return [StoredRun(r.id, r.number, TrainConfig.from_dict(json.loads(r.config)), r.status, r.error,
                              r.device, r.data_source, r.created_at, r.updated_at, r.step, r.steps_per_epoch,
                              r.total_steps, r.elapsed, r.diverged_step, r.best_epoch, epochs[r.id], losses[r.id],
                              r.id in weights, bool(weights.get(r.id)) and r.status in RESUMABLE and bool(epochs[r.id]))
                    for r in rows]

    def run_ids(self, key: str) -> list[int]:
        """The ids of this learner's runs, oldest first: a cheap look for runs started elsewhere."""
        if not valid_learner_key(key):
            return []
        with self._unit() as db:
            return list(db.scalars(select(S.Run.id).join(S.Learner).where(S.Learner.key_hash == _hash(key))
                                   .order_by(S.Run.number)))

    def run(self, key: str, run_id: int) -> StoredRun | None:
        found = self.runs(key, [run_id])
        return found[0] if found else None

    def delete_runs(self, key: str, run_ids: list[int]) -> int:
        """Delete these runs of this learner (with their curves and weights); returns how many."""
        return self._change_runs(key, run_ids, delete(S.Run))

    def _change_runs(self, key: str, run_ids: list[int], statement) -> int:
        """Run a DELETE or UPDATE of `runs` on those of `run_ids` that are this learner's; returns how many."""
        if not valid_learner_key(key) or not run_ids:
            return 0
        with self._unit() as db:
            learner = self._learner(db, key)
            if learner is None:
                return 0
            return db.execute(statement.where(S.Run.learner_id == learner.id, S.Run.id.in_(run_ids))).rowcount

    def ask_stop(self, key: str, run_ids: list[int]) -> int:
        """Ask whichever process trains these runs of this learner to stop them (a Stop pressed on another
        replica; that process's writer reads it with its next heartbeat); returns how many were asked."""
        return self._change_runs(key, run_ids, update(S.Run).where(S.Run.status.in_(ACTIVE)).values(stop_asked=True))

    def _blob(self, key: str, run_id: int, column) -> bytes | None:
        """One blob of this learner's run's weights row; None when there is none."""
        if not valid_learner_key(key):
            return None
        with self._unit() as db:
            return db.scalar(select(column).join(S.Run, S.Run.id == S.Weights.run_id)
                             .join(S.Learner, S.Learner.id == S.Run.learner_id)
                             .where(S.Weights.run_id == run_id, S.Learner.key_hash == _hash(key)))

    def model(self, key: str, run_id: int):
        """(model, config) of this learner's run, as its latest saved weights; None when it has none.
        Read through core.checkpoint: weights only, size limit, architecture check."""
        blob = self._blob(key, run_id, S.Weights.model)
        return read_checkpoint(blob, f"run {run_id}") if blob is not None else None

    def saved_state(self, key: str, run_id: int) -> dict | None:
        """Trainer.checkpoint() after the run's last finished epoch, for going on; None when there is none."""
        blob = self._blob(key, run_id, S.Weights.resume)
        return read_saved_state(blob, f"run {run_id}") if blob is not None else None

    def mark_interrupted(self, stale: float = STALE_SECONDS) -> int:
        """Queued or running runs whose process went quiet (killed, restarted) become "interrupted"."""
        with self._unit() as db:
            return db.execute(update(S.Run).where(S.Run.status.in_(ACTIVE),
                                                  S.Run.heartbeat_at < now() - timedelta(seconds=stale))
                              .values(status="interrupted", updated_at=now())).rowcount

    def count_runs(self) -> int:
        with self._unit() as db:
            return db.scalar(select(func.count()).select_from(S.Run))

    def _unit(self):
        """One transaction: committed at the end of the `with`, rolled back on an error."""
        return self.session.begin()


def _short(exc: BaseException) -> str:
    """The first line of an error, without SQLAlchemy's "(Background on this error …)" tail."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return text[0][:200] if text else exc.__class__.__name__
