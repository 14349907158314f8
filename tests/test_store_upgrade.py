"""Upgrading the app never drops a class's data: a version-1 database (before class walls) opens
with its runs, curves and weights intact, at today's schema version, ready for the new tables."""
import sqlite3

from core.store import Store, StoreWriter, new_learner_key
from core.store.schema import SCHEMA_VERSION
from core.jobs import JobManager
from core.train import TrainConfig

V1_RUN_COLUMNS = ("id, learner_id, number, config, status, error, device, data_source, created_at, updated_at, "
                  "heartbeat_at, step, steps_per_epoch, total_steps, elapsed, diverged_step, best_epoch, loss_stride")


def as_version_1(path) -> None:
    """Take a database back to schema version 1: no classes, no members, runs without their wall columns."""
    db = sqlite3.connect(path)
    db.executescript(f"""
        CREATE TABLE runs_v1 AS SELECT {V1_RUN_COLUMNS} FROM runs;
        DROP TABLE runs; ALTER TABLE runs_v1 RENAME TO runs;
        DROP TABLE members; DROP TABLE classes;
        UPDATE tll_meta SET value = '1' WHERE key = 'schema_version';""")
    db.commit()
    db.close()


def test_a_version_1_database_is_upgraded_in_place_keeping_every_run(tmp_path, splits):
    path = tmp_path / "runs.sqlite"
    store = Store(f"sqlite:///{path}")
    key = new_learner_key()
    run_id, _, _ = store.create_run(key, TrainConfig(epochs=1, train_subset=300, device="cpu"), "cpu", "bundled")
    writer = StoreWriter(store)
    job = JobManager(1).submit(TrainConfig(epochs=1, train_subset=300, device="cpu"), splits,
                               listener=writer.recorder(run_id), run_id=run_id)
    job.thread.join(60)
    assert writer.flush()
    before = store.runs(key)
    store.close()
    as_version_1(path)

    upgraded = Store(f"sqlite:///{path}")
    after = upgraded.runs(key)
    assert [(r.number, r.status, r.epochs, r.losses) for r in after] == \
        [(r.number, r.status, r.epochs, r.losses) for r in before]
    assert upgraded.model(key, run_id) is not None
    db = sqlite3.connect(path)
    assert db.execute("SELECT value FROM tll_meta").fetchone() == (str(SCHEMA_VERSION),)
    assert db.execute("SELECT member_id, wall_hidden, test_acc FROM runs").fetchall() == [(None, 0, None)]
    assert {"classes", "members"} <= {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
