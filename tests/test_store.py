"""The run store (core/store), on SQLite and on a real PostgreSQL server (tests/postgres.py): what a
learner's runs look like after a restart, who may see them, how many are kept, and that many
threads writing at once lose nothing."""
import math
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
import torch
from sqlalchemy import func, select, update

from core import data as D
from core.confusion import WATCHED, make_watch_hook
from apptest import wait_until
from core.jobs import JobManager
from core.store import Store, StoreError, StoreWriter, new_learner_key
from core.store import schema as S
from core.store.runs import MAX_STEP_POINTS, STALE_SECONDS, loss_stride, now
from core.train import EpochEvent, StepEvent, TrainConfig, Trainer, init_model

CONFIG = TrainConfig(epochs=2, train_subset=1000, device="cpu")  # 16 steps an epoch
QUICK = TrainConfig(epochs=1, train_subset=256, batch_size=128, device="cpu")  # 2 steps



@pytest.fixture
def open_store(store_url):
    """Opens a Store on the test's database, as a process does (a second call: as after a restart);
    every one is closed at the end."""
    opened = []

    def open_():
        store = Store(store_url)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


def run_job(manager: JobManager, config: TrainConfig, splits, writer: StoreWriter, run_id: int, **kwargs):
    job = manager.submit(config, splits, listener=writer.recorder(run_id), run_id=run_id, **kwargs)
    wait_until(lambda: job.done)
    assert writer.flush()
    return job


def epoch(n: int, step: int, loss: float = 0.5, **extra) -> EpochEvent:
    return EpochEvent(n, step, loss, 0.8, loss, 0.8, 0.1, 0.2, 1000.0, extra)


def rows(store: Store, table, run_id: int) -> int:
    with store.session() as db:
        return db.scalar(select(func.count()).select_from(table).where(table.run_id == run_id))


def set_status(writer: StoreWriter, run_id: int, status: str) -> None:
    writer.put(run_id, fields={"status": status}, urgent=True)
    assert writer.flush()


# a run, stored while it trains ------------------------------------------------------------------

def test_a_run_stored_while_it_trains_comes_back_after_a_restart(open_store, splits):
    store = open_store()
    writer = StoreWriter(store)
    key = new_learner_key()
    run_id, number, removed = store.create_run(key, CONFIG, device="cpu", data_source="bundled")
    assert (number, removed) == (1, [])
    watch = make_watch_hook(D.to_tensors(splits.val))
    job = run_job(JobManager(1), CONFIG, splits, writer, run_id, epoch_hook=watch)
    snap = job.state.snapshot()
    assert snap.status == "finished" and writer.failures == 0

    run = open_store().run(key, run_id)  # a new Store on the same database: the server restarted
    assert run.status == "finished" and run.number == 1 and not run.active
    assert run.config == job.config and run.data_source == "bundled" and run.device == "cpu"
    assert len(run.epochs) == 2 and run.epochs == snap.epochs  # every figure, exactly
    assert [len(e.extra["watched"]) for e in run.epochs] == [WATCHED, WATCHED]
    assert run.epochs[-1].extra["watched"] == watch(job.state.result.model, 2)["watched"]
    assert run.losses == snap.losses and [s for s, _ in run.losses] == list(range(1, 33))
    assert run.step == run.total_steps == 32 and run.steps_per_epoch == 16 and run.elapsed > 0
    assert run.has_model and run.can_go_on

    model, config = open_store().model(key, run_id)
    assert config == job.config
    x = D.to_tensors(splits.val).x[:100]
    with torch.no_grad():
        assert torch.equal(model(x), job.state.result.model(x))


def test_a_long_run_keeps_at_most_max_step_points_losses(open_store):
    store = open_store()
    writer = StoreWriter(store)
    key = new_learner_key()
    for total in (2 * MAX_STEP_POINTS, 3 * MAX_STEP_POINTS + 7):
        run_id, _, _ = store.create_run(key, CONFIG)
        recorder = writer.recorder(run_id)  # fed as a training thread feeds it, without the training
        recorder.queued(CONFIG)
        recorder.running(total, total, "cpu")
        for step in range(1, total + 1):
            recorder.on_event(StepEvent(1, step, math.nan if step == total else 1 / step))
        recorder.ended("diverged", None, "", 12.5, total)
        assert writer.flush()

        run = open_store().run(key, run_id)
        steps = [s for s, _ in run.losses]
        stride = loss_stride(total)
        assert stride > 1 and len(steps) <= MAX_STEP_POINTS, (total, len(steps))
        assert steps[0] == 1 and all(s % stride == 0 for s in steps[1:-1])
        assert steps[-1] == total and math.isnan(run.losses[-1][1])  # the diverged step is always kept
        assert run.status == "diverged" and run.diverged_step == total and run.step == total


# who may see a run --------------------------------------------------------------------------------

def test_another_learner_cannot_list_read_or_delete_a_run(open_store, splits):
    store = open_store()
    writer = StoreWriter(store)
    owner, other = new_learner_key(), new_learner_key()
    run_id, _, _ = store.create_run(owner, QUICK)
    run_job(JobManager(1), QUICK, splits, writer, run_id)
    other_run, other_number, _ = store.create_run(other, QUICK)

    assert other_number == 1  # each learner counts their own runs
    assert [r.id for r in store.runs(other)] == [other_run]
    assert store.run(other, run_id) is None
    assert store.runs(other, [run_id]) == []
    assert store.model(other, run_id) is None and store.saved_state(other, run_id) is None
    assert store.delete_runs(other, [run_id]) == 0

    mine = store.run(owner, run_id)  # still there, whole
    assert mine.status == "finished" and mine.can_go_on and len(mine.epochs) == 1
    assert store.model(owner, run_id) is not None and store.saved_state(owner, run_id) is not None
    assert [r.id for r in store.runs(owner)] == [run_id]


GARBAGE_KEYS = ["x", "<script>alert(1)</script>", "a" * 31, "a" * 33, "", None, 12345, "' OR '1'='1' --",
                "ä" * 32, "../" * 11]


def test_a_garbage_key_sees_nothing_and_raises_nothing(open_store):
    store = open_store()
    key = new_learner_key()
    run_id, _, _ = store.create_run(key, QUICK)
    for garbage in GARBAGE_KEYS:
        assert store.runs(garbage) == [] and store.runs(garbage, [run_id]) == [], garbage
        assert store.run(garbage, run_id) is None, garbage
        assert store.model(garbage, run_id) is None and store.saved_state(garbage, run_id) is None, garbage
        assert store.delete_runs(garbage, [run_id]) == 0, garbage
    assert [r.id for r in store.runs(key)] == [run_id]


def test_an_unknown_key_sees_nothing_and_is_not_stored(open_store):
    store = open_store()
    assert store.runs(new_learner_key()) == []
    with store.session() as db:
        assert db.scalar(select(func.count()).select_from(S.Learner)) == 0


# going on after a restart -------------------------------------------------------------------------

def test_a_run_taken_up_after_a_restart_goes_on_as_one_uninterrupted_run(open_store, splits):
    whole = JobManager(1).submit(replace(CONFIG, epochs=3), splits)
    wait_until(lambda: whole.done)

    store = open_store()
    writer = StoreWriter(store)
    key = new_learner_key()
    run_id, _, _ = store.create_run(key, CONFIG)
    run_job(JobManager(1), CONFIG, splits, writer, run_id)
    # the server dies in the third epoch: some of its losses reached the store, the run says "running"
    writer.put(run_id, steps=[(33, 2.5), (34, 2.4)], fields={"status": "running", "step": 34}, urgent=True)
    assert writer.flush()

    store = open_store()  # the restart
    assert store.mark_interrupted(stale=0) == 1
    run = store.run(key, run_id)
    assert run.status == "interrupted" and run.can_go_on and len(run.epochs) == 2
    saved = store.saved_state(key, run_id)
    assert saved["steps_done"] == 32

    writer = StoreWriter(store)
    recorder = writer.recorder(run_id)
    recorder.goes_on_from(saved["steps_done"], len(run.epochs))
    job = JobManager(1).take_up(run.config, splits, saved, epochs=1, done=run.epochs,
                                losses=[(s, v) for s, v in run.losses if s <= saved["steps_done"]],
                                elapsed=run.elapsed, listener=recorder, run_id=run_id)
    wait_until(lambda: job.done)
    assert writer.flush() and writer.failures == 0

    expected = [e.val_loss for e in whole.state.snapshot().epochs]
    got = [e.val_loss for e in job.state.snapshot().epochs]
    assert got == pytest.approx(expected, abs=1e-6, rel=0)

    stored = open_store().run(key, run_id)
    assert stored.status == "finished" and [e.epoch for e in stored.epochs] == [1, 2, 3]
    assert [e.val_loss for e in stored.epochs] == pytest.approx(expected, abs=1e-6, rel=0)
    assert stored.epochs == job.state.snapshot().epochs
    assert stored.losses == job.state.snapshot().losses  # the dead epoch's two losses replaced, none twice
    assert [s for s, _ in stored.losses] == list(range(1, 49)) and stored.step == 48
    model, _ = open_store().model(key, run_id)
    x = D.to_tensors(splits.val).x[:100]
    with torch.no_grad():
        assert torch.equal(model(x), job.state.result.model(x))


def test_an_end_written_with_the_last_checkpoint_keeps_its_saved_state(open_store):
    """A short run's last epoch checkpoint and its end often reach the writer in one flush: the end's
    weights (no optimizer state) must not drop the checkpoint's, or the run goes on from an older epoch."""
    store = open_store()
    writer = StoreWriter(store)
    key = new_learner_key()
    run_id, _, _ = store.create_run(key, QUICK)
    state = init_model(QUICK, torch.device("cpu")).state_dict()
    pending = {}
    writer._merge(pending, run_id, {"weights": ({"steps_done": 2}, QUICK, 1, state)})  # the epoch's checkpoint
    writer._merge(pending, run_id, {"weights": (None, QUICK, 1, state)})  # the end, in the same flush
    assert writer._write(pending, beat=False) is not False
    assert store.saved_state(key, run_id) == {"steps_done": 2} and store.model(key, run_id) is not None


def test_a_run_whose_process_went_quiet_reads_interrupted_and_can_go_on(open_store, splits):
    store = open_store()
    writer = StoreWriter(store)
    key = new_learner_key()
    trained, _, _ = store.create_run(key, QUICK)
    waiting, _, _ = store.create_run(key, QUICK)
    recorder = writer.recorder(trained)  # one epoch trained and saved, then the process is killed
    recorder.queued(QUICK)
    recorder.running(2, 4, "cpu")
    Trainer(QUICK, splits, on_event=recorder.on_event, on_checkpoint=recorder.on_checkpoint).run()
    queued = writer.recorder(waiting)
    queued.queued(QUICK)
    assert writer.flush()
    for quiet in (recorder, queued):
        writer._set_active(quiet, False)  # the killed process's writer says nothing any more

    runs = {r.id: r for r in open_store().runs(key)}  # heartbeats are fresh: still theirs
    assert runs[trained].status == "running" and runs[waiting].status == "queued"
    assert not runs[trained].can_go_on  # an active run is not taken up

    with store.session.begin() as db:
        db.execute(update(S.Run).values(heartbeat_at=now() - timedelta(seconds=STALE_SECONDS + 1)))
    runs = {r.id: r for r in open_store().runs(key)}
    assert runs[trained].status == runs[waiting].status == "interrupted"
    assert runs[trained].can_go_on and len(runs[trained].epochs) == 1
    assert not runs[waiting].can_go_on  # nothing saved to go on from
    assert store.saved_state(key, trained)["steps_done"] == 2


def test_mark_interrupted_leaves_ended_and_fresh_runs_alone(open_store):
    store = open_store()
    writer = StoreWriter(store)
    key = new_learner_key()
    ended, _, _ = store.create_run(key, QUICK)
    set_status(writer, ended, "finished")
    fresh, _, _ = store.create_run(key, QUICK)
    assert store.mark_interrupted() == 0  # the default: 20 s of silence
    assert store.mark_interrupted(stale=0) == 1
    statuses = {r.id: r.status for r in store.runs(key)}
    assert statuses == {ended: "finished", fresh: "interrupted"}


# how many runs are kept ---------------------------------------------------------------------------

def test_the_oldest_ended_runs_make_room_and_numbers_are_never_reused(open_store, monkeypatch):
    monkeypatch.setenv("TLL_MAX_RUNS", "3")
    store = open_store()
    writer = StoreWriter(store)
    key = new_learner_key()

    def new(status="queued"):
        run_id, number, removed = store.create_run(key, QUICK)
        if status != "queued":
            set_status(writer, run_id, status)
        return run_id, number, removed

    def numbers():
        return [r.number for r in store.runs(key)]

    assert [new(s)[1:] for s in ("finished", "running", "stopped")] == [(1, []), (2, []), (3, [])]
    assert new()[1:] == (4, [1])  # the oldest ended run makes room
    assert numbers() == [2, 3, 4]
    assert new()[1:] == (5, [3])  # run 2 is still running: never removed
    assert new()[1:] == (6, [])  # every run active: none removed, the cap waits
    assert numbers() == [2, 4, 5, 6]
    by_number = {r.number: r.id for r in store.runs(key)}
    for n in (2, 4, 6):
        set_status(writer, by_number[n], "finished")
    assert new()[1:] == (7, [2, 4])
    assert numbers() == [5, 6, 7]
    assert store.delete_runs(key, [r.id for r in store.runs(key)]) == 3
    assert new()[1:] == (8, [])  # numbers go on after every run was deleted
    assert numbers() == [8]


# deleting, NaN ------------------------------------------------------------------------------------

def test_delete_runs_removes_epochs_losses_and_weights(open_store):
    store = open_store()
    writer = StoreWriter(store)
    key = new_learner_key()
    gone, kept = store.create_run(key, QUICK)[0], store.create_run(key, QUICK)[0]
    state = init_model(QUICK, torch.device("cpu")).state_dict()
    for run_id in (gone, kept):
        writer.put(run_id, steps=[(1, 2.3), (2, 2.1)], epoch=epoch(1, 2), weights=({"steps_done": 2}, QUICK, 1, state))
    assert writer.flush() and writer.failures == 0
    tables = (S.EpochRow, S.StepLoss, S.Weights)
    assert [rows(store, t, gone) for t in tables] == [1, 2, 1]

    assert store.delete_runs(key, [gone]) == 1
    assert [rows(store, t, gone) for t in tables] == [0, 0, 0]
    with store.session() as db:
        assert db.get(S.Run, gone) is None
    assert [rows(store, t, kept) for t in tables] == [1, 2, 1]
    assert [r.id for r in store.runs(key)] == [kept] and store.model(key, kept) is not None
    assert store.delete_runs(key, [gone]) == 0  # twice: nothing more


def test_nan_and_infinite_figures_round_trip(open_store):
    store = open_store()
    writer = StoreWriter(store)
    key = new_learner_key()
    run_id, _, _ = store.create_run(key, QUICK)
    nan_epoch = EpochEvent(1, 2, math.nan, 0.1, math.nan, math.nan, 0.1, 0.2, 100.0, {"noise": 1.5})
    inf_epoch = EpochEvent(2, 4, math.inf, 0.1, 2.3, 0.1, 0.1, 0.2, 100.0)
    writer.put(run_id, steps=[(1, 2.3), (2, math.nan), (3, math.inf), (4, 1e-300)], epoch=nan_epoch)
    writer.put(run_id, epoch=inf_epoch)
    assert writer.flush() and writer.failures == 0

    run = open_store().run(key, run_id)
    first, second = run.epochs
    assert math.isnan(first.train_loss) and math.isnan(first.val_loss) and math.isnan(first.val_acc)
    assert first.train_acc == 0.1 and first.extra == {"noise": 1.5}
    assert second == inf_epoch
    steps = dict(run.losses)
    assert steps[1] == 2.3 and math.isnan(steps[2]) and steps[3] == math.inf and steps[4] == 1e-300


# many writers at once -----------------------------------------------------------------------------

def test_many_threads_writing_at_once_lose_nothing(open_store):
    store = open_store()
    writer = StoreWriter(store)  # one writer for the whole process, as the app has
    shared = new_learner_key()  # one learner with many tabs: numbering takes turns
    errors, made = [], {}
    start = threading.Barrier(20)

    def learner(i: int) -> None:
        try:
            key = new_learner_key()
            start.wait()
            run_id, number, _ = store.create_run(key, QUICK)
            assert number == 1
            shared_run = store.create_run(shared, QUICK)
            recorder = writer.recorder(run_id)
            recorder.queued(QUICK)
            recorder.running(40, 200, "cpu")
            step = 0
            for e in range(1, 6):
                for _ in range(40):
                    step += 1
                    recorder.on_event(StepEvent(e, step, 1.0 / step + i))
                recorder.on_event(epoch(e, step, loss=float(i), who=i))
                assert len(store.runs(key)) == 1  # reads go on while others write
            recorder.ended("finished", None, "", 1.0, None)
            made[i] = (key, run_id, shared_run)
        except Exception as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=learner, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert writer.flush(30)
    assert errors == [] and len(made) == 20
    assert writer.failures == 0 and writer.problem == ""

    again = open_store()
    for i, (key, run_id, _) in made.items():
        (run,) = again.runs(key)
        assert run.id == run_id and run.status == "finished" and run.step == 200
        assert [(e.epoch, e.step, e.train_loss, e.extra) for e in run.epochs] == [
            (e, 40 * e, float(i), {"who": i}) for e in range(1, 6)]
        assert run.losses == [(s, 1.0 / s + i) for s in range(1, 201)]
    shared_runs = again.runs(shared)
    assert sorted(r.number for r in shared_runs) == list(range(1, 21))
    assert sorted(r.id for r in shared_runs) == sorted(run[0] for _, _, run in made.values())


# the schema ---------------------------------------------------------------------------------------

def schema_version(store: Store) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        return conn.execute(select(S.Meta.key, S.Meta.value)).all()


def test_a_fresh_database_gets_the_schema_version_and_keeps_its_data_when_opened_again(open_store):
    store = open_store()
    assert schema_version(store) == [("schema_version", str(S.SCHEMA_VERSION))]
    key = new_learner_key()
    run_id, _, _ = store.create_run(key, QUICK)
    store.close()

    again = open_store()
    assert schema_version(again) == [("schema_version", str(S.SCHEMA_VERSION))]
    assert [r.id for r in again.runs(key)] == [run_id]
    assert again.create_run(key, QUICK)[1] == 2


def test_a_database_of_a_newer_app_is_refused_and_left_alone(open_store, store_url):
    store = open_store()
    run_id, _, _ = store.create_run(new_learner_key(), QUICK)
    with store.engine.begin() as conn:
        conn.execute(update(S.Meta).values(value=str(S.SCHEMA_VERSION + 1)))
    store.close()
    with pytest.raises(StoreError) as refused:
        Store(store_url)
    assert f"schema version {S.SCHEMA_VERSION + 1}" in str(refused.value)
    assert refused.value.key == "store_unavailable"
    assert schema_version(store) == [("schema_version", str(S.SCHEMA_VERSION + 1))]
    assert store.count_runs() == 1


def test_a_database_that_cannot_be_used_raises_a_readable_store_error(store_url, tmp_path, request):
    if store_url.startswith("sqlite"):
        junk = tmp_path / "junk.sqlite"
        junk.write_bytes(b"this is not a database, only some bytes\x00\x01\x02" * 200)
        url, says = f"sqlite:///{junk}", "file is not a database"
    else:  # a database that does not exist, and a password that must not be shown
        url = request.getfixturevalue("postgres_url").replace("postgres@", "postgres:s3cret@").rsplit("/", 1)[0] + "/no_such_db"
        says = "no_such_db"
    with pytest.raises(StoreError) as failed:
        Store(url)
    message = str(failed.value)
    assert message.startswith("Runs are not being kept") and says in message
    assert "s3cret" not in message and "Traceback" not in message and "Background on this error" not in message


def test_a_new_run_lets_only_the_newest_go_on_and_the_older_keep_their_models(open_store, splits):
    """Only the newest run can go on (the Lab offers no other): an older run's optimizer state, three
    quarters of its bytes, is dropped when a new run starts; its model stays for the other pages."""
    store = open_store()
    writer = StoreWriter(store)
    key = new_learner_key()
    first, _, _ = store.create_run(key, CONFIG, device="cpu")
    run_job(JobManager(1), CONFIG, splits, writer, first)
    assert store.run(key, first).can_go_on and store.saved_state(key, first) is not None
    second, _, _ = store.create_run(key, CONFIG, device="cpu")
    older = store.run(key, first)
    assert not older.can_go_on and store.saved_state(key, first) is None
    assert older.has_model and store.model(key, first) is not None
    assert store.run(key, second).status == "queued"


def test_stop_pressed_on_another_replica_stops_the_run_where_it_trains(open_store, splits):
    here, elsewhere = open_store(), open_store()  # the replica training the run, and another one
    writer = StoreWriter(here)
    key = new_learner_key()
    run_id, _, _ = here.create_run(key, CONFIG)
    manager = JobManager(1)
    recorder = writer.recorder(run_id)
    job = manager.submit(TrainConfig(epochs=50, train_subset=2000, batch_size=4, device="cpu"), splits,
                         listener=recorder, run_id=run_id)
    assert job.state.wait_first_loss(30)
    assert elsewhere.ask_stop(new_learner_key(), [run_id]) == 0  # another learner cannot stop it
    assert elsewhere.ask_stop(key, [run_id]) == 1
    wait_until(recorder.stop_asked.is_set, timeout=10)  # read with the training replica's next heartbeat
    assert manager.reap(lambda owner: True, grace=30) == 1
    wait_until(lambda: job.done, timeout=10)
    assert job.state.status == "stopped" and job.resumable
    assert writer.flush()
    run = elsewhere.run(key, run_id)
    assert run.status == "stopped" and run.step == job.state.snapshot().step
    manager.resume(job, epochs=1)  # going on clears the request: the run trains again
    wait_until(lambda: job.state.status == "running", timeout=10)
    assert not recorder.stop_asked.is_set() and manager.reap(lambda owner: True, grace=30) == 0
    manager.cancel(job)
    wait_until(lambda: job.done, timeout=10)
