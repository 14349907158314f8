"""`python -m core.store`: sizes, exports, pruning, backups and classes of the run store, on a temp SQLite
file (sizes, export and prune on PostgreSQL too)."""
import csv
import io
import json
import sqlite3
import threading
import time
from datetime import datetime
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select, update

from core.jobs import JobManager
from core.store import Store, StoreWriter, admin, new_learner_key
from core.store import schema as S
from core.store.__main__ import main
from core.store.classes import Classes, Teacher
from core.store.runs import _hash
from core.train import TrainConfig

CONFIG = dict(epochs=2, train_subset=300, device="cpu")


def train(store: Store, key: str, config: TrainConfig, splits) -> int:
    """A run of `key`'s, trained to its end and written to the store: its id."""
    writer = StoreWriter(store)
    run_id, _, _ = store.create_run(key, config, device="cpu", data_source="bundled sample")
    job = JobManager(1).submit(config, splits, listener=writer.recorder(run_id), run_id=run_id)
    deadline = time.time() + 60
    while not job.done and time.time() < deadline:
        time.sleep(0.02)
    job.thread.join(timeout=10)  # the listener hears the end just after `done`
    assert writer.flush() and job.state.status == "finished"
    return run_id


@pytest.fixture(scope="module")
def trained(tmp_path_factory, splits):
    """A database with one learner's finished two-epoch run: (its file, the run's id, the learner's key)."""
    path = tmp_path_factory.mktemp("store") / "template.sqlite"
    store = Store(f"sqlite:///{path}")
    key = new_learner_key()
    run_id = train(store, key, TrainConfig(**CONFIG), splits)
    store.close()
    return path, run_id, key


@pytest.fixture(scope="module")
def classes_db(tmp_path_factory, splits):
    """A database with two classes: "5年2組" (Aiko with a trained one-epoch run, Ben with none; revealed,
    so closed) and an open, empty one whose name holds control characters. (its URL, the first's code)"""
    url = f"sqlite:///{tmp_path_factory.mktemp('classes') / 'runs.sqlite'}"
    store = Store(url)
    classes = Classes(store)
    info, teacher_key = classes.create("5年2組", new_learner_key())
    aiko, ben = new_learner_key(), new_learner_key()
    classes.join(aiko, info.code, "Aiko")
    classes.join(ben, info.code, "Ben")
    train(store, aiko, TrainConfig(epochs=1, train_subset=300, device="cpu"), splits)  # counts: she is in the class
    assert classes.reveal(info.code, Teacher(teacher_key=teacher_key), lambda model: 0.5) == 1
    empty, _ = classes.create("Empty room", new_learner_key())
    with store.engine.begin() as conn:  # a name the app refuses, but a database may hold
        conn.execute(update(S.Classroom).where(S.Classroom.code == empty.code)
                     .values(name="Empty \x1b[2Jroom\u202e\x07"))
    store.close()
    return url, info.code


@pytest.fixture
def db(trained, tmp_path):
    """A fresh copy of the trained database for one test: (its URL, its file, the run's id, the key)."""
    template, run_id, key = trained
    path = tmp_path / "runs.sqlite"
    with sqlite3.connect(template) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    return f"sqlite:///{path}", path, run_id, key


def cli(capsys, *args) -> tuple[int, str, str]:
    """main(args) → (exit code, stdout, stderr)."""
    try:
        code = main(list(args))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, expected_code=2):
    assert code == expected_code, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("error:") and "Traceback" not in err, err


def test_sizes_shows_the_runs_and_what_they_take(db, capsys):
    url, path, _, _ = db
    code, out, _ = cli(capsys, "--url", url, "sizes")
    assert code == 0
    assert "runs       1: 1 finished" in out and "learners   1" in out and "epochs 2" in out
    code, out, _ = cli(capsys, "sizes", "--json", "--url", url)  # --url after the command works too
    found = json.loads(out)
    assert found["runs"] == 1 and found["runs_by_status"] == {"finished": 1} and found["rows"]["epochs"] == 2
    assert found["blob_bytes"]["model"] > 10_000 and found["blob_bytes"]["resume"] > found["blob_bytes"]["model"]
    assert found["database_bytes"] >= path.stat().st_size > 0 and found["schema_version"] == S.SCHEMA_VERSION


def test_csv_has_a_row_per_epoch_with_the_settings_and_no_key(db, capsys):
    url, _, run_id, key = db
    code, out, _ = cli(capsys, "--url", url, "export", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["run_id"], r["epoch"]) for r in rows] == [(str(run_id), "1"), (str(run_id), "2")]
    row = rows[1]
    assert (row["learner_id"], row["number"], row["status"], row["run_device"]) == ("1", "1", "finished", "cpu")
    assert (row["epochs"], row["train_subset"], row["device"], row["optimizer"]) == ("2", "300", "cpu", "adam")
    assert row["hidden"] == "128,64"  # as the Lab writes the lesson's hidden layers, not "(128, 64)"
    assert 0 < float(row["val_acc"]) <= 1 and float(row["train_loss"]) > 0 and row["created_at"].endswith("+00:00")
    assert key not in out and _hash(key) not in out
    assert cli(capsys, "--url", url, "export", "--format", "csv", "--learner", "99")[1].count("\n") == 1  # header


def test_json_holds_each_run_with_its_epochs(db, capsys, tmp_path):
    url, _, run_id, key = db
    target = tmp_path / "runs.json"
    code, out, _ = cli(capsys, "--url", url, "export", "--format", "json", "--output", str(target))
    assert code == 0 and out == f"exported 1 run to {target}\n"
    [run] = json.loads(target.read_text())
    assert run["run_id"] == run_id and run["learner_id"] == 1 and run["status"] == "finished"
    assert run["settings"]["train_subset"] == 300 and run["data_source"] == "bundled sample" and run["has_model"]
    assert [e["epoch"] for e in run["epochs"]] == [1, 2] and all("extra" in e for e in run["epochs"])
    assert key not in target.read_text() and _hash(key) not in target.read_text()


def test_prune_deletes_old_runs_with_their_rows_but_never_an_active_one(db, capsys):
    url, _, old_id, key = db
    store = Store(url)
    running_id, _, _ = store.create_run(key, TrainConfig(**CONFIG), status="running")
    recent_id, _, _ = store.create_run(key, TrainConfig(**CONFIG), status="finished")

    code, out, _ = cli(capsys, "--url", url, "prune", "--days", "0", "--dry-run")
    assert code == 0 and out.startswith("would delete 2 runs") and store.count_runs() == 3

    with store.engine.begin() as conn:  # the trained run and the running one: last written in 2001
        conn.execute(update(S.Run).where(S.Run.id.in_([old_id, running_id])).values(updated_at=datetime(2001, 1, 1)))
    code, out, _ = cli(capsys, "--url", url, "prune", "--days", "30")
    assert code == 0 and out.startswith("deleted 1 run ")
    with store.session() as s:
        assert set(s.scalars(select(S.Run.id))) == {running_id, recent_id}
        for table in (S.EpochRow, S.StepLoss, S.Weights):  # the cascade took the old run's rows
            assert s.scalar(select(func.count()).select_from(table).where(table.run_id == old_id)) == 0
        assert s.scalar(select(func.count()).select_from(S.Learner)) == 1  # run numbers are never reused
    assert cli(capsys, "--url", url, "prune", "--days", "30")[1].startswith("deleted 0 runs")
    store.close()


def test_backup_while_a_writer_writes_is_a_consistent_copy(db, capsys, tmp_path):
    url, path, run_id, _ = db
    store = Store(url)
    writer = StoreWriter(store)
    before = {r["run_id"] for r in admin.export_runs(store)}
    stop, other = threading.Event(), new_learner_key()

    def keep_writing():
        while not stop.is_set():
            new_id, _, _ = store.create_run(other, TrainConfig(**CONFIG), device="cpu")
            writer.put(new_id, steps=[(i, 2.3 - i / 100) for i in range(1, 50)], fields={"step": 49}, urgent=True)
            time.sleep(0.002)

    thread = threading.Thread(target=keep_writing, daemon=True)
    thread.start()
    try:
        while store.count_runs() < 5:  # the writing is under way
            time.sleep(0.01)
        target = tmp_path / "backup" / "copy.sqlite"
        target.parent.mkdir()
        code, out, err = cli(capsys, "--url", url, "backup", str(target))
        assert code == 0, err
        assert out.startswith(f"backed up {url} to {target}")
    finally:
        stop.set()
        thread.join(timeout=10)
    writer.flush()
    after = {r["run_id"] for r in admin.export_runs(store)}
    assert [p.name for p in target.parent.iterdir()] == ["copy.sqlite"]  # no partial file left
    copy = Store(f"sqlite:///{target}")
    copied = {r["run_id"]: r for r in admin.export_runs(copy)}
    assert before <= set(copied) <= after and len(copied) >= 5 and len(after) > len(copied)  # a moment's state
    assert [e["epoch"] for e in copied[run_id]["epochs"]] == [1, 2] and copied[run_id]["has_model"]
    with sqlite3.connect(target) as check:
        assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    copy.close()
    store.close()


def test_backup_never_overwrites_and_refuses_postgresql(db, capsys, tmp_path):
    url, _, _, _ = db
    existing = tmp_path / "precious.sqlite"
    existing.write_bytes(b"keep me")
    code, _, err = cli(capsys, "--url", url, "backup", str(existing))
    one_line_error(code, err)
    assert "exists already" in err and existing.read_bytes() == b"keep me"
    postgres = SimpleNamespace(url="postgresql+psycopg://tll:secret@db/tll", where="postgresql+psycopg://tll@db/tll")
    with pytest.raises(admin.AdminError, match="pg_dump"):
        admin.backup(postgres, tmp_path / "pg.sqlite")


def test_an_unusable_database_or_bad_arguments_get_one_line(capsys, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database, just words " * 100)
    missing = tmp_path / "typo.sqlite"
    for url in ("junk", f"sqlite:///{junk}", f"sqlite:///{missing}", "nosuchdb://host/db"):
        code, _, err = cli(capsys, "--url", url, "sizes")
        one_line_error(code, err)
        assert "cannot be used" in err, err
    assert not missing.exists()  # a typing mistake leaves no empty database behind
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    Store(url).close()
    for args in (["prune"], ["prune", "--days", "-1"], ["prune", "--days", "soon"], ["export", "--format", "xml"],
                 ["export"], [], ["vacuum"], ["backup"]):
        code, _, err = cli(capsys, "--url", url, *args)
        one_line_error(code, err)
    code, _, err = cli(capsys, "--url", url, "export", "--format", "csv", "--output", str(tmp_path / "no" / "x.csv"))
    one_line_error(code, err, expected_code=1)


def test_sizes_export_and_prune_on_both_databases(store_url, capsys):
    """PostgreSQL deletes a pruned run's rows by its foreign keys' ON DELETE CASCADE, SQLite by its own."""
    store, key = Store(store_url), new_learner_key()
    old_id, _, _ = store.create_run(key, TrainConfig(**CONFIG), device="cpu", status="finished")
    active_id, _, _ = store.create_run(key, TrainConfig(**CONFIG), status="queued")
    with store.session.begin() as s:
        s.add(S.EpochRow(run_id=old_id, epoch=1, step=5, train_loss=2.2, train_acc=0.2, val_loss=None, val_acc=0.3,
                         train_seconds=0.1, seconds=0.2, samples_per_s=3000.0, extra='{"noise": 0.5}'))
        s.add(S.StepLoss(run_id=old_id, step=5, loss=2.2))
        s.add(S.Weights(run_id=old_id, epoch=1, model=b"m" * 1000, resume=b"r" * 3000))
        s.execute(update(S.Run).values(updated_at=datetime(2001, 1, 1)))
    found = json.loads(cli(capsys, "--url", store_url, "sizes", "--json")[1])
    assert found["runs_by_status"] == {"finished": 1, "queued": 1} and found["blob_bytes"] == {"model": 1000,
                                                                                                "resume": 3000}
    assert found["database_bytes"] > 0 and found["oldest_update"].startswith("2001-01-01")
    [run, _] = json.loads(cli(capsys, "--url", store_url, "export", "--format", "json")[1])
    assert run["epochs"][0]["val_loss"] is None and run["epochs"][0]["extra"] == {"noise": 0.5}  # NaN: null
    code, out, _ = cli(capsys, "--url", store_url, "prune", "--days", "365")
    assert code == 0 and out.startswith("deleted 1 run ")
    with store.session() as s:
        assert list(s.scalars(select(S.Run.id))) == [active_id]
        assert [s.scalar(select(func.count()).select_from(t)) for t in (S.EpochRow, S.StepLoss, S.Weights)] == [0] * 3
    store.close()


def test_classes_lists_each_class_with_its_students_and_runs(classes_db, capsys):
    url, code = classes_db
    code_, out, _ = cli(capsys, "--url", url, "classes")
    assert code_ == 0
    header, first, second = out.splitlines()
    assert header.split()[:5] == ["CODE", "STUDENTS", "RUNS", "CONTEST", "REVEALED"] and header.endswith("NAME")
    assert first.startswith(code) and first.split()[1:5] == ["2", "1", "closed", "yes"] and first.endswith(" 5年2組")
    assert second.split()[1:5] == ["0", "0", "open", "no"] and second.endswith(" Empty [2Jroom")  # no control chars
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    found = json.loads(cli(capsys, "--url", url, "classes", "--json")[1])
    assert [(c["code"], c["name"], c["students"], c["runs"], c["open"], c["revealed"]) for c in found][0] == \
        (code, "5年2組", 2, 1, False, True)
    assert found[1]["name"] == "Empty \x1b[2Jroom\u202e\x07" and found[0]["created_at"].endswith("+00:00")  # as stored


def test_export_class_csv_has_a_row_per_run(classes_db, capsys, tmp_path):
    url, code = classes_db
    status, out, _ = cli(capsys, "--url", url, "export-class", code.lower())  # codes are case-insensitive
    assert status == 0
    reader = csv.DictReader(io.StringIO(out))
    [row] = list(reader)
    assert reader.fieldnames == list(admin.CLASS_CSV_COLUMNS)
    assert (row["nickname"], row["run"], row["status"], row["hidden"], row["kept_epoch"]) == \
        ("Aiko", "1", "finished", "False", "1")
    assert 0 < float(row["val_acc"]) <= 1 and (row["test_acc"], row["val_rank"], row["test_rank"]) == ("0.5", "1", "1")
    target = tmp_path / "wall.csv"
    status, out, _ = cli(capsys, "--url", url, "export-class", code, "--format", "csv", "--output", str(target))
    assert status == 0 and out == f"exported 1 run of the class {code} to {target}\n" and "Aiko" in target.read_text()
    empty = json.loads(cli(capsys, "--url", url, "classes", "--json")[1])[1]["code"]
    assert cli(capsys, "--url", url, "export-class", empty)[1] == ",".join(admin.CLASS_CSV_COLUMNS) + "\n"


def test_export_class_json_holds_the_class_its_rankings_and_runs(classes_db, capsys):
    url, code = classes_db
    status, out, _ = cli(capsys, "--url", url, "export-class", code, "--format", "json")
    assert status == 0
    found = json.loads(out)
    assert found["class"]["code"] == code and found["class"]["name"] == "5年2組" and found["class"]["students"] == 2
    assert found["class"]["open"] is False and found["class"]["revealed_at"].endswith("+00:00")
    [place] = found["leaderboard"]
    assert (place["rank"], place["nickname"], place["run"]) == (1, "Aiko", 1) and 0 < place["val_acc"] <= 1
    assert place["settings"]["train_subset"] == 300
    [final] = found["final"]
    assert (final["nickname"], final["test_rank"], final["val_rank"], final["moved"], final["test_acc"]) == \
        ("Aiko", 1, 1, 0, 0.5)
    assert [r["nickname"] for r in found["runs"]] == ["Aiko"] and found["runs"][0]["val_acc"] == place["val_acc"]


def test_export_class_of_an_unknown_code_is_one_line(classes_db, capsys, tmp_path):
    url, _ = classes_db
    target = tmp_path / "nothing.json"
    for args in (["export-class", "nope99"], ["export-class", "nope-99", "--format", "json", "--output", str(target)]):
        code, out, err = cli(capsys, "--url", url, *args)
        one_line_error(code, err)
        assert err == "error: no class with the code NOPE99\n" and out == ""
    assert not target.exists()  # no empty file left behind
    for args in (["export-class"], ["export-class", "X", "--format", "xml"], ["classes", "--csv"]):
        code, _, err = cli(capsys, "--url", url, *args)
        one_line_error(code, err)
