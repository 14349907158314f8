"""The store's tables, and how a database of an older version is brought up to this one.

Version 1: learners, runs, per-epoch figures, thinned step losses, each run's latest weights.
An upgrade is a function in UPGRADES that takes a connection at version N to N + 1; `upgrade`
applies them in order in one transaction and never drops a table that holds a class's data.
"""
from datetime import datetime

from sqlalchemy import (Float, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint, inspect,
                        select)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SCHEMA_VERSION = 1


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


def _v0_to_v1(conn: Connection) -> None:
    Base.metadata.create_all(conn)


UPGRADES = {0: _v0_to_v1}  # version → the step to the next one


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
        for step in range(found, SCHEMA_VERSION):
            UPGRADES[step](conn)
        if found != SCHEMA_VERSION:
            Meta.metadata.create_all(conn, tables=[Meta.__table__])
            conn.execute(Meta.__table__.delete().where(Meta.key == "schema_version"))
            conn.execute(Meta.__table__.insert().values(key="schema_version", value=str(SCHEMA_VERSION)))
    return found
