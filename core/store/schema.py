"""The store's tables, and how a database of an older version is brought up to this one.

Version 1: learners, runs, per-epoch figures, thinned step losses, each run's latest weights.
Version 2: classes and their members; a run counted on a class wall, hidden from it, its test score.

An empty database is created at SCHEMA_VERSION at once. An older one is brought up by the functions
in UPGRADES, each taking a connection at version N to N + 1, in order, in one transaction; they add
tables and columns and never drop one that holds a class's data.
"""
from datetime import datetime

from sqlalchemy import (Boolean, Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, inspect,
                        select, text)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 3


class Base(DeclarativeBase):
    pass


class Meta(Base):
    __tablename__ = "tll_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Learner(Base):
    __tablename__ = "learners"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of the learner key, never the key
    created_at: Mapped[datetime]
    last_number: Mapped[int] = mapped_column(default=0)  # "Run N" numbers are never reused


class Run(Base):
    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("learner_id", "number"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]  # "Run 3": the learner's third run
    config: Mapped[str] = mapped_column(Text)  # TrainConfig as JSON
    status: Mapped[str] = mapped_column(String(20))  # queued, running, one of jobs.DONE, or interrupted
    error: Mapped[str] = mapped_column(Text, default="")
    device: Mapped[str] = mapped_column(String(64), default="")
    data_source: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]  # the last write about this run
    heartbeat_at: Mapped[datetime]  # a process training or queueing the run says so every few seconds
    step: Mapped[int] = mapped_column(default=0)  # steps trained
    steps_per_epoch: Mapped[int] = mapped_column(default=0)
    total_steps: Mapped[int] = mapped_column(default=0)
    elapsed: Mapped[float] = mapped_column(Float, default=0.0)  # seconds spent training
    diverged_step: Mapped[int | None]
    best_epoch: Mapped[int | None]
    loss_stride: Mapped[int] = mapped_column(default=1)  # every loss_stride-th step's loss is kept
    # version 2: the class wall
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id", ondelete="SET NULL"), index=True)
    # (set when the run started while its learner was in a class open for the contest: it counts there)
    wall_hidden: Mapped[bool] = mapped_column(Boolean, default=False)  # removed from the wall by the teacher
    test_acc: Mapped[float | None] = mapped_column(Float)  # scored once, when the teacher reveals the test set
    # version 3: Stop pressed where the run does not train (another replica): the replica training it
    # reads this with its heartbeat and stops the run
    stop_asked: Mapped[bool] = mapped_column(Boolean, default=False)


class Classroom(Base):
    __tablename__ = "classes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)  # read aloud and projected: no 0/O, 1/I
    name: Mapped[str] = mapped_column(String(80))
    teacher_key_hash: Mapped[str] = mapped_column(String(64))  # sha256 of the teacher link's key
    created_by: Mapped[int | None] = mapped_column(ForeignKey("learners.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)  # closed: new runs no longer count
    show_names: Mapped[bool] = mapped_column(Boolean, default=True)
    projector: Mapped[bool] = mapped_column(Boolean, default=False)  # large type for the room
    revealed_at: Mapped[datetime | None]  # when the test set was revealed (once)


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (UniqueConstraint("class_id", "nickname"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    learner_id: Mapped[int] = mapped_column(ForeignKey("learners.id", ondelete="CASCADE"), index=True)
    nickname: Mapped[str] = mapped_column(String(24))  # plain text, shown as text only
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]  # a learner is in at most one class at a time


class EpochRow(Base):
    __tablename__ = "epochs"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int] = mapped_column(primary_key=True)
    step: Mapped[int]
    train_loss: Mapped[float | None] = mapped_column(Float)  # None stands for NaN (SQLite keeps no NaN)
    train_acc: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    val_acc: Mapped[float | None] = mapped_column(Float)
    train_seconds: Mapped[float] = mapped_column(Float)
    seconds: Mapped[float] = mapped_column(Float)
    samples_per_s: Mapped[float] = mapped_column(Float)
    extra: Mapped[str] = mapped_column(Text, default="{}")  # watched digits' answers, gradient noise (JSON)


class StepLoss(Base):
    __tablename__ = "step_losses"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    step: Mapped[int] = mapped_column(primary_key=True)
    loss: Mapped[float | None] = mapped_column(Float)


class Weights(Base):
    __tablename__ = "weights"
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    epoch: Mapped[int]  # epochs the model has trained
    model: Mapped[bytes] = mapped_column(LargeBinary)  # a checkpoint file (core.checkpoint): the model pages use
    resume: Mapped[bytes | None] = mapped_column(LargeBinary)  # Trainer.checkpoint() at the last epoch's end


def _v1_to_v2(conn: Connection) -> None:
    """Classes and members; three columns on runs (existing runs: on no wall, not hidden, not scored)."""
    Base.metadata.create_all(conn, tables=[Classroom.__table__, Member.__table__])
    conn.execute(text("ALTER TABLE runs ADD COLUMN member_id INTEGER REFERENCES members(id) ON DELETE SET NULL"))
    conn.execute(text("ALTER TABLE runs ADD COLUMN wall_hidden BOOLEAN NOT NULL DEFAULT FALSE"))
    conn.execute(text("ALTER TABLE runs ADD COLUMN test_acc FLOAT"))
    conn.execute(text("CREATE INDEX ix_runs_member_id ON runs (member_id)"))


def _v2_to_v3(conn: Connection) -> None:
    """Stop asked from another replica (existing runs: not asked)."""
    conn.execute(text("ALTER TABLE runs ADD COLUMN stop_asked BOOLEAN NOT NULL DEFAULT FALSE"))


UPGRADES = {1: _v1_to_v2, 2: _v2_to_v3}  # version → the step to the next one


def version(conn: Connection) -> int:
    if not inspect(conn).has_table(Meta.__tablename__):
        return 0
    value = conn.execute(select(Meta.value).where(Meta.key == "schema_version")).scalar()
    return int(value) if value is not None else 0


def upgrade(engine: Engine) -> int:
    """Bring the database to SCHEMA_VERSION (creating it when empty); returns the version found.
    A database newer than this app is left alone and refused (an older app must not write to it)."""
    with engine.begin() as conn:
        found = version(conn)
        if found > SCHEMA_VERSION:
            raise RuntimeError(f"the database has schema version {found}; this app knows {SCHEMA_VERSION}")
        if found == 0:
            Base.metadata.create_all(conn)  # a new database: today's tables at once
        else:
            for step in range(found, SCHEMA_VERSION):
                UPGRADES[step](conn)
        if found != SCHEMA_VERSION:
            Meta.metadata.create_all(conn, tables=[Meta.__table__])
            conn.execute(Meta.__table__.delete().where(Meta.key == "schema_version"))
            conn.execute(Meta.__table__.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
    return found
