"""Housekeeping of the run store for whoever runs the server: sizes, exports, pruning, backups.

Plain functions that take a Store and return data; `python -m core.store` (core/store/__main__.py)
prints what they return. They read the tables directly, across all learners, and name a learner
by its numeric id only: never by its key (the store never has it) nor by the key's hash.

    sizes(store)                 # rows per table, bytes of weights, runs per status, file size
    export_rows(store)           # one flat row per epoch per run (CSV)
    export_runs(store)           # one nested dict per run with its epochs (JSON)
    prune(store, days=90)        # delete runs not written to for 90 days (never queued or running ones)
    backup(store, "copy.sqlite") # a consistent copy of a SQLite database, while the app runs
    classes(store)               # every class: code, name, students, counted runs, open, revealed, created
    class_rows(store, "K7M2QX")  # one class's wall, a row per run (CSV)
    class_export(store, "K7M2QX")  # the class, its leaderboard, final ranking and runs (JSON)
"""
import json
import math
import os
import sqlite3
import unicodedata
from dataclasses import asdict, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import delete, func, select, text
from sqlalchemy.engine import make_url

from core import classroom
from core.models import hidden_text
from core.store import schema as S
from core.store.classes import Classes, normal_code
from core.store.runs import ACTIVE, STALE_SECONDS, Store, now
from core.train import TrainConfig

SETTINGS = tuple(f.name for f in fields(TrainConfig))
EPOCH_FIGURES = ("epoch", "step", "train_loss", "train_acc", "val_loss", "val_acc", "train_seconds", "seconds",
                 "samples_per_s")
# TrainConfig.device is the setting ("auto", "cpu", "cuda"); run_device is what the run trained on ("cuda:0")
RUN_COLUMNS = ("run_id", "learner_id", "number", "status", "created_at", "updated_at", "run_device",
               "data_source")
CSV_COLUMNS = RUN_COLUMNS + SETTINGS + EPOCH_FIGURES


class AdminError(Exception):
    """A request that cannot be done as asked (a backup of PostgreSQL, onto an existing file …)."""


def backend(store: Store) -> str:
    """"sqlite" or "postgresql" (SQLAlchemy's name of the database kind)."""
    return make_url(store.url).get_backend_name()


def sqlite_file(store: Store) -> Path | None:
    """The SQLite database's file; None for PostgreSQL or an in-memory database."""
    url = make_url(store.url)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _stamp(value: datetime | None) -> str | None:
    """A stored time (naive UTC) as ISO 8601 with its zone, e.g. 2025-03-01T09:30:00+00:00."""
    return None if value is None else value.replace(tzinfo=timezone.utc).isoformat(timespec="seconds")


def _settings(config_json: str) -> dict:
    """A run's TrainConfig as stored (a setting added since then reads as its default)."""
    return asdict(TrainConfig.from_dict(json.loads(config_json)))


# sizes -----------------------------------------------------------------------------------------


def sizes(store: Store) -> dict:
    """What the database holds: rows per table, bytes of the weights' blobs, learners, runs per status,
    the oldest and newest write, and the size on disk (SQLite: the file and its write-ahead log;
    PostgreSQL: pg_database_size)."""
    with store.session() as db:
        rows = {table.name: db.scalar(select(func.count()).select_from(table))
                for table in S.Base.metadata.sorted_tables}
        model_bytes, resume_bytes = db.execute(select(
            func.coalesce(func.sum(func.length(S.Weights.model)), 0),
            func.coalesce(func.sum(func.length(S.Weights.resume)), 0))).one()
        by_status = dict(db.execute(select(S.Run.status, func.count()).group_by(S.Run.status)
                                    .order_by(func.count().desc(), S.Run.status)).all())
        stale = db.scalar(select(func.count()).select_from(S.Run).where(
            S.Run.status.in_(ACTIVE), S.Run.heartbeat_at < now() - timedelta(seconds=STALE_SECONDS)))
        oldest, newest = db.execute(select(func.min(S.Run.updated_at), func.max(S.Run.updated_at))).one()
        version = S.version(db.connection())
        disk = wal = None
        path = sqlite_file(store)
        if path is not None:
            disk = path.stat().st_size if path.exists() else 0
            wal_path = path.with_name(path.name + "-wal")
            wal = wal_path.stat().st_size if wal_path.exists() else 0
        elif backend(store) == "postgresql":
            disk = db.scalar(text("SELECT pg_database_size(current_database())"))
    return {
        "where": store.where,
        "backend": backend(store),
        "schema_version": version,
        "file": str(path) if path is not None else None,
        "database_bytes": disk,  # None: an in-memory SQLite database
        "wal_bytes": wal,  # SQLite only: committed writes not yet copied into the file
        "learners": rows[S.Learner.__tablename__],
        "runs": rows[S.Run.__tablename__],
        "runs_by_status": by_status,
        "active_without_heartbeat": stale,  # queued or running, but their process went quiet: interrupted
        "oldest_update": _stamp(oldest),
        "newest_update": _stamp(newest),
        "rows": rows,
        "blob_bytes": {"model": int(model_bytes), "resume": int(resume_bytes)},
    }


# exports ---------------------------------------------------------------------------------------


def _runs_query(learner: int | None):
    query = select(S.Run).order_by(S.Run.learner_id, S.Run.number)
    return query if learner is None else query.where(S.Run.learner_id == learner)


def _epochs_by_run(db, run_ids: list[int]) -> dict[int, list[S.EpochRow]]:
    found = {i: [] for i in run_ids}
    for start in range(0, len(run_ids), 500):  # a bounded IN list: PostgreSQL and SQLite alike
        chunk = run_ids[start:start + 500]
        for row in db.scalars(select(S.EpochRow).where(S.EpochRow.run_id.in_(chunk))
                              .order_by(S.EpochRow.run_id, S.EpochRow.epoch)):
            found[row.run_id].append(row)
    return found


def export_rows(store: Store, learner: int | None = None) -> list[dict]:
    """One flat row per epoch per run (keys: CSV_COLUMNS), by learner id and run number: the run's ids,
    status and times, every TrainConfig setting, the epoch's figures. A run with no finished epoch
    yet gives one row with empty figures, so that no run is missing. NaN figures are None."""
    out = []
    with store.session() as db:
        runs = db.scalars(_runs_query(learner)).all()
        epochs = _epochs_by_run(db, [r.id for r in runs])
        for r in runs:
            base = {"run_id": r.id, "learner_id": r.learner_id, "number": r.number, "status": r.status,
                    "created_at": _stamp(r.created_at), "updated_at": _stamp(r.updated_at),
                    "run_device": r.device, "data_source": r.data_source, **_settings(r.config)}
            base["hidden"] = hidden_text(base["hidden"])  # "128,64" as the Lab and --hidden write it, not "(128, 64)"
            for e in epochs[r.id] or [None]:
                out.append({**base, **{k: getattr(e, k) if e is not None else None for k in EPOCH_FIGURES}})
    return out


def export_runs(store: Store, learner: int | None = None) -> list[dict]:
    """One JSON-able dict per run, by learner id and run number: settings, status, timestamps, device,
    data source, progress, and its epochs with their `extra` (watched digits, gradient noise).
    Step losses and weights are left out. NaN figures are None (JSON has no NaN)."""
    out = []
    with store.session() as db:
        runs = db.scalars(_runs_query(learner)).all()
        epochs = _epochs_by_run(db, [r.id for r in runs])
        weights = set(db.scalars(select(S.Weights.run_id)))
        for r in runs:
            out.append({
                "run_id": r.id, "learner_id": r.learner_id, "number": r.number, "status": r.status,
                "error": r.error, "created_at": _stamp(r.created_at), "updated_at": _stamp(r.updated_at),
                "heartbeat_at": _stamp(r.heartbeat_at), "device": r.device, "data_source": r.data_source,
                "settings": _settings(r.config), "step": r.step, "steps_per_epoch": r.steps_per_epoch,
                "total_steps": r.total_steps, "elapsed": r.elapsed, "diverged_step": r.diverged_step,
                "best_epoch": r.best_epoch, "has_model": r.id in weights,
                "epochs": [{**{k: getattr(e, k) for k in EPOCH_FIGURES}, "extra": json.loads(e.extra)}
                           for e in epochs[r.id]],
            })
    return out


# prune -----------------------------------------------------------------------------------------


def prune(store: Store, days: float, dry_run: bool = False) -> int:
    """Delete the runs not written to for `days` days (updated_at older than now − days), with their
    epochs, step losses and weights (the foreign keys cascade); queued and running runs are never
    deleted. Returns how many runs were deleted (with `dry_run`: would be; nothing is deleted).
    Learners stay, so that their "Run N" numbers are never used again."""
    if not days >= 0:
        raise AdminError(f"days must be 0 or more, not {days}")
    old = (S.Run.updated_at < now() - timedelta(days=days), S.Run.status.not_in(ACTIVE))
    with store.session.begin() as db:
        if dry_run:
            return db.scalar(select(func.count()).select_from(S.Run).where(*old))
        return db.execute(delete(S.Run).where(*old)).rowcount


# backup ----------------------------------------------------------------------------------------


def backup(store: Store, path: str | os.PathLike) -> int:
    """Copy the SQLite database to `path` as one consistent snapshot, while the app goes on reading and
    writing (SQLite's online backup API in one step: a read transaction, which WAL mode lets writers
    work beside). Returns the copy's size in bytes. Refuses PostgreSQL (pg_dump backs it up) and an
    existing `path`; the copy appears under `path` only once it is complete."""
    if backend(store) != "sqlite":
        raise AdminError(f"{store.where} is not SQLite: back up a PostgreSQL database with pg_dump "
                         f"(e.g. pg_dump -Fc -f runs.dump DBNAME)")
    source = sqlite_file(store)
    if source is None:
        raise AdminError("an in-memory database has nothing to back up")
    target = Path(path)
    if target.exists():
        raise AdminError(f"{target} exists already: give a new file name (a backup never overwrites)")
    if not target.parent.is_dir():
        raise AdminError(f"the folder {target.parent} does not exist")
    if target.resolve() == source.resolve():
        raise AdminError("the backup cannot be the database itself")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(partial)
        try:
            src.backup(dst)  # pages=-1: the whole database in one step, so one consistent snapshot
            if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("the copy fails SQLite's quick_check")
        finally:
            dst.close()
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        src.close()
    try:
        os.link(partial, target)  # never replaces a file that appeared meanwhile
    except FileExistsError:
        partial.unlink(missing_ok=True)
        raise AdminError(f"{target} exists already: give a new file name (a backup never overwrites)") from None
    except OSError:  # a file system without hard links
        if target.exists():
            partial.unlink(missing_ok=True)
            raise AdminError(f"{target} exists already: give a new file name (a backup never overwrites)") from None
        os.replace(partial, target)
    else:
        partial.unlink()
    return target.stat().st_size


# classes ---------------------------------------------------------------------------------------

# the keys of core.classroom.csv_rows, for the header of a class with no runs yet
CLASS_CSV_COLUMNS = ("nickname", "run", "status", "hidden", "optimizer", "learning_rate", "batch_size", "dropout",
                     "model", "epochs", "kept_epoch", "val_acc", "test_acc", "val_rank", "test_rank", "ended_at")


def printable(text: str) -> str:
    """Text without control characters (category C: control, format, unassigned …), for a terminal: a
    class name is the teacher's text, and an escape sequence in it must not reach the admin's terminal."""
    return "".join(ch for ch in str(text) if not unicodedata.category(ch).startswith("C"))


def _figure(value):
    """A float for CSV/JSON: NaN and infinities as None (JSON has no NaN)."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def classes(store: Store) -> list[dict]:
    """Every class, oldest first: code, name (as stored), students in it now, counted runs (any
    status), open or closed, revealed or not, created_at (ISO 8601, UTC)."""
    return [{**c, "created_at": _stamp(c["created_at"])} for c in Classes(store).overview()]


def _wall(store: Store, code: str):
    wall = Classes(store).wall(code)
    if wall is None:
        raise AdminError(f"no class with the code {printable(normal_code(code))}")
    return wall


def _rows(wall) -> list[dict]:
    return [{k: _figure(v) for k, v in row.items()} for row in classroom.csv_rows(wall)]


def class_rows(store: Store, code: str) -> list[dict]:
    """One class's wall as core.classroom.csv_rows gives it: a row per ended run, hidden ones marked
    (NaN figures as None). AdminError for an unknown code; codes are case-insensitive."""
    return _rows(_wall(store, code))


def class_export(store: Store, code: str) -> dict:
    """One class as one JSON-able dict: "class" (code, name, open, revealed_at, …), "leaderboard" (each
    student's best run by validation accuracy), "final" (after the reveal: ranked by test accuracy)
    and "runs" (class_rows). AdminError for an unknown code."""
    wall = _wall(store, code)
    k = wall.klass
    return {
        "class": {"code": k.code, "name": k.name, "open": k.is_open, "revealed_at": _stamp(k.revealed_at),
                  "created_at": _stamp(k.created_at), "show_names": k.show_names, "students": wall.students,
                  "training": wall.training, "ended_runs": len(wall.runs)},
        "leaderboard": [{"rank": p.rank, "nickname": p.nickname, "run": p.run.number, "status": p.run.status,
                         "kept_epoch": p.run.epoch, "val_acc": _figure(p.run.val_acc),
                         "settings": asdict(p.run.config)} for p in classroom.leaderboard(wall)],
        "final": [{"test_rank": f.test_rank, "val_rank": f.val_rank, "moved": f.moved, "nickname": f.nickname,
                   "run": f.run.number, "val_acc": _figure(f.run.val_acc), "test_acc": _figure(f.run.test_acc)}
                  for f in classroom.final_ranking(wall)],
        "runs": _rows(wall),
    }
