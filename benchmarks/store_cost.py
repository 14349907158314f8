"""What the run store costs: training with and without it, an epoch's write, bytes per run, a reload.

    python benchmarks/store_cost.py [--url postgresql+psycopg://USER@HOST/DB] [--epochs 3] [--seeds 20]
                                    [--threads N]

Everything is measured in one run on the bundled sample (8,000 training digits), CPU:

Each run gets the torch threads one of the app's jobs gets (cores / TLL_MAX_JOBS: 1 on a 2-core
machine; `--threads` to change it), and so does the textbook loop. On a busy machine two threads
per run are a trap: a tiny op's OpenMP barrier waits for a thread the kernel has parked, and a
textbook epoch of 1.5 s took 15-30 s while other work ran (one thread: 1-2 s).

1. The Lab's default run (TrainConfig(device="cpu"): MLP, Adam, batch 64) through a
   `core.jobs.JobManager(max_running=1)`, without a listener and with the store's `Recorder`
   (`StoreWriter.recorder(run_id)`), the order rotating from seed to seed; for the MLP also a third,
   diagnostic arm: a Recorder without checkpoints (curves only, no weights). Then the CNN.
   "Epoch cycle" is the wall time from one epoch's end to the next one's (taken in the
   `epoch_hook`, after the evaluation pass), so it holds the training pass, the evaluation pass and
   the previous epoch's hand-off to the store (its EpochEvent, `Trainer.checkpoint()`, the queue),
   while the writer thread serializes and writes that epoch beside it. Median of epochs 2..N.
2. What one epoch costs the writer thread (`StoreWriter._merge` serializing weights + optimizer
   state, `StoreWriter._write` writing the figures, that epoch's step losses and both blobs) and
   what the training thread pays itself (`Recorder.on_event`, `Recorder.on_checkpoint` and
   `Trainer.checkpoint()`, which runs only when a listener wants checkpoints). Timed by wrapping
   those methods here, not in core/.
3. Bytes per stored run, MLP and CNN: the blobs' lengths, rows in `epochs` / `step_losses`, and the
   database's growth over the stored runs (SQLite: pages in use after a WAL checkpoint;
   PostgreSQL: the tables' pg_total_relation_size, TOAST and indexes included, after VACUUM FULL).
   Also checks that every stored run kept its last epoch's optimizer state (what "go on" needs).
4. A reload: `Store.runs(key)` for a learner with 10 and 50 stored runs (copies of one real run),
   and 50 runs at the step-loss cap (4,000 points, 32 epochs each).
5. The engine's speed bar with the store on: `benchmarks/train_speed.py`'s textbook loop against
   the engine without and with the store (its setup: evaluated each epoch on the 2,000 held-out
   digits); whole-epoch speed-up (the bar is >= 8x on the CPU).

`--url` picks the database (default: a SQLite file in a temporary folder, removed afterwards; a
PostgreSQL database gets one new learner per part and keeps them).
"""
import argparse
import dataclasses
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import torch
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import data as D  # noqa: E402
from core.jobs import JobManager, RunState  # noqa: E402
from core.store import Recorder, Store, StoreWriter, new_learner_key  # noqa: E402
from core.store import schema as S  # noqa: E402
from core.train import EpochEvent, StepEvent, TrainConfig, Trainer  # noqa: E402
from train_speed import lesson_splits, textbook_epochs  # noqa: E402

TABLES = ("learners", "runs", "epochs", "step_losses", "weights")


# timing what the store does, from outside core/ ------------------------------------------------

class Probe:
    """Durations of the store's calls, on the training thread (per run) and the writer thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.train = defaultdict(float)  # this run's training-thread seconds, by what
        self.writes = []  # (seconds, {(run_id, epoch) this write carries}, is_end, steps)
        self.serialize = {}  # (run_id, epoch) -> seconds to serialize its weights + optimizer state
        self.end_with_checkpoint = 0  # a run's end merged into the same flush as its last checkpoint

    def new_run(self):
        self.train = defaultdict(float)


PROBE = Probe()


def _timed_train(name, method):
    def wrapper(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            PROBE.train[name if name != "on_event" else
                        ("step_event" if isinstance(args[0], StepEvent) else "epoch_event")] += \
                time.perf_counter() - t0
    return wrapper


def _timed_merge(method):
    def wrapper(self, pending, run_id, what):
        before = pending.get(run_id)
        if "weights" in what and what["weights"][0] is None and before is not None \
                and before.weights is not None and "resume" in before.weights:
            PROBE.end_with_checkpoint += 1
        t0 = time.perf_counter()
        urgent = method(self, pending, run_id, what)
        if "weights" in what and what["weights"][0] is not None:  # an epoch's checkpoint, not a run's end
            PROBE.serialize[(run_id, what["weights"][2])] = time.perf_counter() - t0
        return urgent
    return wrapper


def _timed_write(method):
    def wrapper(self, pending, beat):
        carries, end, steps = set(), False, 0
        for run_id, p in pending.items():
            carries.update((run_id, e.epoch) for e in p.epochs)
            if p.weights is not None:
                if "resume" in p.weights:
                    carries.add((run_id, p.weights["epoch"]))
                else:
                    end = True
            end = end or p.fields.get("status") not in (None, "queued", "running")
            steps += len(p.steps)
        t0 = time.perf_counter()
        written = method(self, pending, beat)
        with PROBE.lock:
            PROBE.writes.append((time.perf_counter() - t0, carries, end, steps))
        return written
    return wrapper


ORIGINAL = {"merge": StoreWriter._merge, "write": StoreWriter._write}  # unwrapped, for the idle replay
EVENTS: list[tuple[float, bool]] = []  # (when, is an EpochEvent) for every event of the run under way


def _timed_state(method):
    def wrapper(self, event):
        EVENTS.append((time.perf_counter(), isinstance(event, EpochEvent)))
        return method(self, event)
    return wrapper


def install_probe() -> None:
    RunState.on_event = _timed_state(RunState.on_event)  # the job's own progress: heard in every arm
    Recorder.on_event = _timed_train("on_event", Recorder.on_event)
    Recorder.on_checkpoint = _timed_train("on_checkpoint", Recorder.on_checkpoint)
    Trainer.checkpoint = _timed_train("checkpoint", Trainer.checkpoint)
    StoreWriter._merge = _timed_merge(StoreWriter._merge)
    StoreWriter._write = _timed_write(StoreWriter._write)


# one run through the job manager ---------------------------------------------------------------

THREADS = [1]  # torch threads of a run (main() sets it)
ARMS = {"off": "no store", "on": "store", "curves": "store, no checkpoints"}


def one_run(config, splits, arm: str = "off", store=None, writer=None, key=None) -> dict:
    """Train `config` through a JobManager: without a listener ("off"), with the store's Recorder
    ("on"), or with a Recorder that takes no checkpoints ("curves": figures and losses only, no
    Trainer.checkpoint(), no blobs; a diagnosis, not something the app does). Returns the epoch
    cycles (s), the whole run (s), the training thread's time in the store's calls and the run's id."""
    manager = JobManager(max_running=1, threads_per_job=THREADS[0])
    marks = []

    def hook(model, epoch):
        marks.append(time.perf_counter())
        return {}

    run_id = listener = None
    if arm != "off":
        run_id = store.create_run(key, config, device="cpu", data_source="bundled")[0]
        listener = writer.recorder(run_id)
        if arm == "curves":
            listener.on_checkpoint = None  # JobManager hands the Trainer no on_checkpoint
    PROBE.new_run()
    EVENTS.clear()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    job = manager.submit(config, splits, owner="bench", epoch_hook=hook, listener=listener, run_id=run_id)
    while job.thread is None:
        time.sleep(0.001)
    job.thread.join()
    wall = time.perf_counter() - t0
    snap = job.state.snapshot()
    if snap.status != "finished":
        raise SystemExit(f"a run did not finish: {snap.status} {snap.error}")
    if arm != "off" and not writer.flush(30):
        raise SystemExit("the store writer did not catch up within 30 s")
    cpu = time.process_time() - cpu0  # the process's CPU for the run, its writes included
    return {"cycles": [b - a for a, b in zip(marks, marks[1:])], "segments": segments(EVENTS),
            "wall": wall, "cpu": cpu, "run_id": run_id,
            "train": dict(PROBE.train), "epochs": len(snap.epochs), "val_acc": snap.epochs[-1].val_acc,
            "epoch_seconds": [e.seconds for e in snap.epochs]}


def segments(events) -> list[list[float]]:
    """Epochs 2..N cut into pieces, each from one event to the next: [the previous epoch's end to this
    epoch's first loss (its hand-off to the store, `Trainer.checkpoint()`, step 1), step 2, …, the last
    step, the evaluation pass]."""
    ends = [i for i, (_, is_epoch) in enumerate(events) if is_epoch]
    return [[events[i + 1][0] - events[i][0] for i in range(a, b)] for a, b in zip(ends, ends[1:])]


def robust_epoch(runs) -> list[float]:
    """An epoch as the sum over its pieces of each piece's median over every run and epoch: a burst
    of other work on the machine slows a few pieces of a few epochs, and a median passes over them."""
    pieces = [seg for r in runs for seg in r["segments"]]
    n = min(len(p) for p in pieces)
    return [statistics.median(p[k] for p in pieces) for k in range(n)]


def compare(config, splits, seeds, arms, store, writer, key, warm_up: bool) -> tuple[dict, list[int]]:
    """For each seed one run per arm, the order rotating from seed to seed (a first round as a
    warm-up when `warm_up`); returns the measured runs by arm and the ids of the "on" runs stored."""
    runs, stored, diagnostic = {arm: [] for arm in arms}, [], []
    for seed in range(-1 if warm_up else 0, seeds):
        cfg = dataclasses.replace(config, seed=max(seed, 0))
        shift = seed % len(arms)
        for arm in arms[shift:] + arms[:shift]:
            r = one_run(cfg, splits, arm, store, writer, key)
            (stored if arm == "on" else diagnostic).append(r["run_id"])
            if seed >= 0:
                runs[arm].append(r)
    store.delete_runs(key, [i for i in diagnostic if i is not None])  # what is left is the app's own runs
    return runs, stored


def median_cycle(runs) -> float:
    return statistics.median(c for r in runs for c in r["cycles"])


def paired_ratio(runs, arm: str) -> float:
    """Median over seeds of (the seed's median epoch cycle in `arm` / without the store)."""
    return statistics.median(statistics.median(r["cycles"]) / statistics.median(off["cycles"])
                             for off, r in zip(runs["off"], runs[arm]))


# the database -------------------------------------------------------------------------------------

def is_sqlite(store) -> bool:
    return make_url(store.url).get_backend_name() == "sqlite"


def db_bytes(store) -> int:
    """The database's bytes in use: SQLite's pages less its free list (after a WAL checkpoint), or
    PostgreSQL's tables with their TOAST and indexes after a VACUUM FULL (without it, every epoch's
    UPDATE of the weights row leaves the old blobs behind as dead versions until autovacuum)."""
    if not is_sqlite(store):  # compact first: what is left is the live rows, not dead versions
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM FULL " + ", ".join(TABLES))
    with store.engine.connect() as conn:
        if is_sqlite(store):
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            pages = conn.exec_driver_sql("PRAGMA page_count").scalar()
            free = conn.exec_driver_sql("PRAGMA freelist_count").scalar()
            return (pages - free) * conn.exec_driver_sql("PRAGMA page_size").scalar()
        return sum(conn.exec_driver_sql(f"SELECT pg_total_relation_size('{t}')").scalar() for t in TABLES)


def idle_epoch_write(store, writer, key, template_id, repeats: int = 5) -> dict:
    """One epoch's write replayed with nothing training beside it: serialize + one transaction with
    the epoch's figures, 125 step losses and both blobs; the first into a new run (INSERT of the
    weights row), the others over it (UPDATE, as epochs 2..N do)."""
    run = store.run(key, template_id)
    saved = store.saved_state(key, template_id)
    model, config = store.model(key, template_id)
    run_id = store.create_run(key, config, device="cpu", status="running")[0]
    serialize, first, again = [], None, []
    for i in range(repeats + 1):
        pending = {}
        t0 = time.perf_counter()
        ORIGINAL["merge"](writer, pending, run_id, {"steps": run.losses[:125], "fields": {"step": 125 * (i + 1)},
                                                     "epoch": dataclasses.replace(run.epochs[0], epoch=i + 1),
                                                     "weights": (saved, config, i + 1, model.state_dict())})
        t1 = time.perf_counter()
        pending[run_id].steps = [(s + 125 * i, v) for s, v in pending[run_id].steps]
        ORIGINAL["write"](writer, pending, False)
        t2 = time.perf_counter()
        serialize.append(t1 - t0)
        if i == 0:
            first = t2 - t1
        else:
            again.append(t2 - t1)
    return {"serialize": statistics.median(serialize), "insert": first, "update": statistics.median(again)}


def stored_sizes(store, run_id) -> dict:
    with store.session.begin() as db:
        model, resume = db.execute(select(func.length(S.Weights.model), func.length(S.Weights.resume))
                                   .where(S.Weights.run_id == run_id)).one()
        epochs = db.scalar(select(func.count()).where(S.EpochRow.run_id == run_id))
        steps = db.scalar(select(func.count()).where(S.StepLoss.run_id == run_id))
        run = db.get(S.Run, run_id)
        return {"model": model, "resume": resume or 0, "epochs": epochs, "steps": steps, "step": run.step}


def resume_is_last_epoch(store, key, run_id) -> bool:
    """The stored optimizer state is the last epoch's (what "go on" needs), not an earlier one's."""
    saved = store.saved_state(key, run_id)
    return saved is not None and saved["steps_done"] == store.run(key, run_id).step


def copy_run(store, key, template_id, long_steps: int = 0) -> int:
    """A new run of `key` holding what the stored run `template_id` holds (rows and blobs); with
    `long_steps`, that many step losses and one epoch per 125 steps instead (a run at the cap)."""
    with store.session.begin() as db:
        tmpl = db.get(S.Run, template_id)
        config = TrainConfig.from_dict(json.loads(tmpl.config))
    run_id = store.create_run(key, config, device="cpu", data_source="bundled", status="finished")[0]
    cols = ("status", "step", "steps_per_epoch", "total_steps", "elapsed", "best_epoch", "loss_stride")
    with store.session.begin() as db:
        tmpl = db.get(S.Run, template_id)
        values = {c: getattr(tmpl, c) for c in cols}
        epochs = [{c.name: getattr(e, c.name) for c in S.EpochRow.__table__.columns}
                  for e in db.scalars(select(S.EpochRow).where(S.EpochRow.run_id == template_id)
                                      .order_by(S.EpochRow.epoch))]
        steps = [{"step": s, "loss": v} for s, v in db.execute(
            select(S.StepLoss.step, S.StepLoss.loss).where(S.StepLoss.run_id == template_id))]
        w = db.get(S.Weights, template_id)
        if long_steps:
            per = values["steps_per_epoch"] or 125
            epochs = [dict(epochs[i % len(epochs)], epoch=i + 1, step=(i + 1) * per)
                      for i in range(long_steps // per)]
            steps = [{"step": s, "loss": 2.3 / s ** 0.3} for s in range(1, long_steps + 1)]
            values.update(step=long_steps, total_steps=long_steps)
        db.execute(update(S.Run).where(S.Run.id == run_id).values(**values))
        db.execute(insert(S.EpochRow), [dict(e, run_id=run_id) for e in epochs])
        db.execute(insert(S.StepLoss), [dict(s, run_id=run_id) for s in steps])
        db.add(S.Weights(run_id=run_id, epoch=w.epoch, model=w.model, resume=w.resume))
    return run_id


def reload_ms(store, key, repeats: int = 7) -> tuple[float, int]:
    store.runs(key)  # warm: statements compiled, pages cached
    times, n = [], 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        n = len(store.runs(key))
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, n


# the report ------------------------------------------------------------------------------------------

def ms(seconds) -> str:
    return f"{seconds * 1000:.2f} ms"


def writer_per_epoch(run_ids) -> dict:
    """Per (run, epoch): seconds the writer thread spent on it (serializing + the writes carrying it)."""
    db = defaultdict(float)
    for seconds, carries, _, _ in PROBE.writes:
        mine = [c for c in carries if c[0] in run_ids]
        for c in mine:
            db[c] += seconds / len(carries)
    keys = [k for k in db if k in PROBE.serialize]
    return {"db": [db[k] for k in keys], "serialize": [PROBE.serialize[k] for k in keys],
            "total": [db[k] + PROBE.serialize[k] for k in keys]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="the store's database (default: SQLite in a temp folder)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=20, help="seeds of the MLP comparison (part 1)")
    parser.add_argument("--cnn-seeds", type=int, default=2)
    parser.add_argument("--bar-seeds", type=int, default=2, help="seeds of the textbook comparison (part 5)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads of each run, the textbook loop's too (default: what one of the app's "
                             "jobs gets, cores / TLL_MAX_JOBS)")
    args = parser.parse_args()
    THREADS[0] = args.threads or JobManager().threads_per_job
    torch.set_num_threads(THREADS[0])  # the textbook loop (part 5) runs on this thread
    tmp = None
    url = args.url
    if url is None:
        tmp = tempfile.mkdtemp(prefix="tll-store-")
        url = f"sqlite:///{tmp}/runs.sqlite"
    install_probe()
    store = Store(url)
    writer = StoreWriter(store)
    splits = D.load_splits(download=False)
    print(f"store {store.where}; torch {torch.__version__}, {THREADS[0]} torch threads per run, "
          f"{os.cpu_count()} cores; {len(splits.train):,} training digits, {args.epochs} epochs, "
          f"{args.seeds} seeds (MLP), {args.cnn_seeds} (CNN)")
    try:
        report(args, store, writer, splits)
    finally:
        store.close()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def report(args, store, writer, splits) -> None:
    rows = []  # (what, figure) for the summary
    results = {}  # model -> (runs by arm, stored run ids, bytes per stored run, learner key)
    for model, seeds, arms in (("mlp", args.seeds, ["off", "on", "curves"]), ("cnn", args.cnn_seeds, ["off", "on"])):
        if seeds < 1:
            continue
        key = new_learner_key()
        config = TrainConfig(device="cpu", model=model, epochs=args.epochs)
        size0 = db_bytes(store)
        runs, stored = compare(config, splits, seeds, arms, store, writer, key, warm_up=model == "mlp")
        grew = (db_bytes(store) - size0) / len(stored)
        results[model] = (runs, stored, grew, key)

    print()
    print("1. the Lab's default run through JobManager, without and with the store "
          "(epoch cycle: median of epochs 2..N, all seeds; paired: median over seeds of the per-seed ratio)")
    for model, (runs, stored, grew, key) in results.items():
        off = median_cycle(runs["off"])
        wall_off = statistics.median(r["wall"] for r in runs["off"])
        cpu_off = statistics.median(r["cpu"] for r in runs["off"])
        print(f"   {model}, {ARMS['off']}: epoch cycle {off:.4f} s, whole run {wall_off:.3f} s "
              f"(process CPU {cpu_off:.3f} s), val acc {statistics.mean(r['val_acc'] for r in runs['off']):.4f}")
        for arm in [a for a in runs if a != "off"]:
            cyc = median_cycle(runs[arm])
            wall = statistics.median(r["wall"] for r in runs[arm])
            cpu = statistics.median(r["cpu"] for r in runs[arm])
            print(f"   {model}, {ARMS[arm]}: epoch cycle {cyc:.4f} s (x{cyc / off:.3f}; "
                  f"paired x{paired_ratio(runs, arm):.3f}), whole run {wall:.3f} s (x{wall / wall_off:.3f}; "
                  f"process CPU {cpu:.3f} s, {1000 * (cpu - cpu_off) / args.epochs:+.1f} ms per epoch), "
                  f"val acc {statistics.mean(r['val_acc'] for r in runs[arm]):.4f}")
            rows.append((f"{model}: s per epoch, {ARMS['off']} / {ARMS[arm]}",
                         f"{off:.4f} / {cyc:.4f} (x{cyc / off:.3f}, paired x{paired_ratio(runs, arm):.3f})"))
        for arm, arm_runs in runs.items():
            print(f"      {arm:6s} per seed: " + " ".join(f"{statistics.median(r['cycles']):.3f}" for r in arm_runs))
        base = robust_epoch(runs["off"])
        print(f"   {model}, epoch as the sum of its steps' medians (robust to bursts of other work): "
              f"{ARMS['off']} {sum(base):.4f} s")
        for arm in [a for a in runs if a != "off"]:
            other = robust_epoch(runs[arm])
            n = min(len(base), len(other))
            diff = [other[k] - base[k] for k in range(n)]
            print(f"      {ARMS[arm]}: {sum(other):.4f} s (x{sum(other) / sum(base):.3f}, {1000 * sum(diff):+.1f} ms): "
                  f"hand-off + step 1 {1000 * diff[0]:+.2f} ms, steps 2-20 {1000 * sum(diff[1:20]):+.2f} ms, "
                  f"steps 21-{n - 1} {1000 * sum(diff[20:n - 1]):+.2f} ms, evaluation {1000 * diff[n - 1]:+.2f} ms")
            rows.append((f"{model}: robust s per epoch, {ARMS['off']} / {ARMS[arm]}",
                         f"{sum(base):.4f} / {sum(other):.4f} (x{sum(other) / sum(base):.3f})"))

    print()
    print("2. one epoch's write (writer thread, beside the training) and what the training thread pays per epoch")
    for model, (runs, stored, grew, key) in results.items():
        w = writer_per_epoch(set(stored))
        per_epoch = defaultdict(list)
        for r in runs["on"]:
            for name, seconds in r["train"].items():
                per_epoch[name].append(seconds / r["epochs"])
        paid = [sum(r["train"].values()) / r["epochs"] for r in runs["on"]]
        cycle = median_cycle(runs["on"])
        print(f"   {model}: writer per epoch median {ms(statistics.median(w['total']))} "
              f"(serialize weights + optimizer state {ms(statistics.median(w['serialize']))}, "
              f"DB transaction(s) {ms(statistics.median(w['db']))}), max {ms(max(w['total']))}: "
              f"{100 * statistics.median(w['total']) / cycle:.1f} % of an epoch cycle")
        idle = idle_epoch_write(store, writer, key, stored[-1])
        print(f"      the same write with nothing training beside it: serialize {ms(idle['serialize'])}, "
              f"transaction {ms(idle['insert'])} (epoch 1: weights row inserted), "
              f"{ms(idle['update'])} (epochs 2..N: updated)")
        print(f"      training thread per epoch: {ms(statistics.median(paid))} "
              f"({100 * statistics.median(paid) / cycle:.2f} % of an epoch cycle): "
              + ", ".join(f"{n} {ms(statistics.median(v))}" for n, v in sorted(per_epoch.items())))
        rows.append((f"{model}: writer per epoch, beside training / alone",
                     f"{ms(statistics.median(w['total']))} / {ms(idle['serialize'] + idle['update'])}"))
        rows.append((f"{model}: training thread per epoch", ms(statistics.median(paid))))
    progress = [s for s, carries, end, _ in PROBE.writes if not carries and not end]
    if progress:
        print(f"   progress-only writes (step losses, fields, heartbeats): {len(progress)}, median "
              f"{ms(statistics.median(progress))}")

    print()
    print("3. bytes per stored run")
    for model, (runs, stored, grew, key) in results.items():
        sizes = stored_sizes(store, stored[-1])
        kept = sum(resume_is_last_epoch(store, key, r) for r in stored)
        print(f"   {model}: weights blob {sizes['model']:,} B, optimizer-state blob {sizes['resume']:,} B; "
              f"{sizes['epochs']} epoch rows, {sizes['steps']} step-loss rows; database growth per run "
              f"{grew:,.0f} B; the last epoch's optimizer state stored for {kept}/{len(stored)} runs")
        rows.append((f"{model}: weights + optimizer state / whole run",
                     f"{sizes['model'] / 1e3:,.0f} + {sizes['resume'] / 1e3:,.0f} kB / {grew / 1e3:,.0f} kB"))
        if kept < len(stored):
            rows.append((f"{model}: PROBLEM: last epoch's optimizer state missing", f"{len(stored) - kept} runs"))
    print(f"   ({PROBE.end_with_checkpoint} runs' end came in the same flush as their last checkpoint)")

    if "mlp" in results:
        print()
        print("4. reload: Store.runs(key) with the curves (median of 7, after one warm call)")
        template = results["mlp"][1][-1]
        for n, long_steps in ((10, 0), (50, 0), (50, 4000)):
            key = new_learner_key()
            for _ in range(n):
                copy_run(store, key, template, long_steps)
            t, got = reload_ms(store, key)
            mark = statistics.median(_time(store.mark_interrupted) for _ in range(7)) * 1000
            label = f"{n} runs" + (f" at the cap ({long_steps:,} step losses, {long_steps // 125} epochs each)"
                                   if long_steps else f" ({args.epochs} epochs each)")
            print(f"   {label}: {t:.1f} ms for {got} runs (of which mark_interrupted {mark:.1f} ms)")
            rows.append((f"reload, {label}", f"{t:.1f} ms"))

    if args.bar_seeds > 0:
        print()
        print("5. the speed bar with the store on: train_speed.py's textbook loop vs the engine (MLP, "
              "evaluated on the 2,000 held-out digits; median of epochs 2..N)")
        lesson = lesson_splits(splits)
        key = new_learner_key()
        bar = {"textbook": [], "off": [], "on": []}
        own = {"off": [], "on": []}  # the trainer's own EpochEvent.seconds, as train_speed.py reports
        for seed in range(args.bar_seeds):
            bar["textbook"] += [e[1] for e in list(textbook_epochs(lesson, args.epochs, torch.device("cpu"), seed))[1:]]
            for arm in (("off", "on") if seed % 2 == 0 else ("on", "off")):
                r = one_run(TrainConfig(device="cpu", epochs=args.epochs, seed=seed), lesson, arm, store, writer, key)
                bar[arm] += r["cycles"]
                own[arm] += r["epoch_seconds"][1:]
        tb = statistics.median(bar["textbook"])
        print(f"   textbook: whole epoch {tb:.3f} s")
        for arm in ("off", "on"):
            en = statistics.median(bar[arm])
            print(f"   engine, {ARMS[arm]}: epoch cycle {en:.4f} s: speed-up {tb / en:.1f}x (by the trainer's own "
                  f"EpochEvent.seconds, as train_speed.py: {tb / statistics.median(own[arm]):.1f}x)")
            rows.append((f"speed-up over the textbook loop, engine, {ARMS[arm]}", f"{tb / en:.1f}x"))

    if writer.failures:
        print(f"   WARNING: {writer.failures} store writes failed: {writer.problem}")
    print()
    width = max(len(r[0]) for r in rows)
    for what, figure in rows:
        print(f"{what:<{width}}  {figure}")


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
