"""What a full class wall costs the server: reading it, drawing it, and 40 viewers watching it.

    python benchmarks/class_wall.py [--students 40] [--runs 10] [--viewers 8] [--seconds 60]
                                    [--reads 20] [--renders 5] [--no-server]

A class of `--students` learners, each with `--runs` ended runs on the wall, is written straight into
a fresh SQLite store in a temporary folder (no training): each learner joins the class through
`Classes.join`, each run is created through `Store.create_run` (which sets its `member_id`: the
learner is in the open class) and then finished by writing its row and its 3-10 `epochs` rows (and
its step losses, at the store's own stride) through the schema. Configs are what a class tries in
the Lab: optimizer, learning rate, batch size, dropout, MLP or CNN, 3-10 epochs, 300-8,000 digits;
curves fall and, for the longer runs, turn up again; 1 run in 6 stops early. No weights are stored
(the wall never reads them; only the reveal does).

1. `Classes.wall(code)`: the one query a wall makes, median (and 90th percentile) of `--reads` reads.
2. The whole server-side draw of the class page for its teacher: `AppTest` of pages/class.py with
   the creator's learner key in session_state and `?class=CODE`, so the page draws the wall, the
   leaderboard, both charts, the final ranking (none before a reveal) and the teacher's controls.
   Median of `--renders` script runs with the wall read from the database (cache cleared) and with
   the wall cached (what most of a viewer's 3-s redraws find: the read is shared for 1.5 s).
3. The server CPU that viewers cost: a real server (tests/e2e/conftest.start_server) on this store,
   `--viewers` Chromium tabs on /class?class=CODE (each redraws the wall every 3 s, as the page
   asks), and the server process's CPU seconds (utime + stime from /proc/PID/stat, all its threads)
   over `--seconds`, after the tabs have loaded and minus the idle server's rate measured before.
   Each tab counts its own redraws (script runs), so the figure is also given per redraw; scaled to
   40 viewers at the page's 20 redraws a minute each. 40 real tabs do not fit on a 2-core machine
   beside the server (the browser would slow the redraws it is meant to cause), hence fewer tabs
   and the scaling; the tabs' redraw rate is printed to show whether they kept up.
"""
import argparse
import json
import logging
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FOLDER = Path(tempfile.mkdtemp(prefix="tll-class-wall-"))
os.environ["TLL_DATABASE_URL"] = f"sqlite:///{FOLDER / 'runs.sqlite'}"  # before core reads it
os.environ.setdefault("TLL_OFFLINE", "1")
os.environ.setdefault("TLL_DATA_DIR", str(ROOT / "tests" / "no-data-dir"))  # → the bundled sample

from sqlalchemy import insert, update  # noqa: E402

from core.store import Store, new_learner_key  # noqa: E402
from core.store import schema as S  # noqa: E402
from core.store.classes import Classes  # noqa: E402
from core.store.runs import loss_stride, now  # noqa: E402
from core.train import OPTIMIZERS, TrainConfig  # noqa: E402

PAGE = str(ROOT / "pages" / "class.py")
REDRAWS_PER_MINUTE = 60 / 3.0  # ui.class_wall.REFRESH_SECONDS
LRS = [1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0]
BATCHES = [1, 8, 16, 32, 64, 128, 256, 512, 1024]
SUBSETS = [300, 1000, 3000, 8000]


def a_config(rng: random.Random) -> TrainConfig:
    return TrainConfig(optimizer=rng.choice(list(OPTIMIZERS)), learning_rate=rng.choice(LRS),
                       batch_size=rng.choice(BATCHES), dropout=rng.choice([0.0, 0.0, 0.1, 0.2, 0.5]),
                       model=rng.choice(["mlp", "mlp", "cnn"]), epochs=rng.randint(3, 10),
                       train_subset=rng.choice(SUBSETS), seed=rng.randint(0, 9), device="cpu")


def curves(rng: random.Random, epochs: int) -> list[tuple[float, float, float, float]]:
    """(train loss, train acc, val loss, val acc) per epoch: falling, then (sometimes) overfitting."""
    floor, speed, turn = rng.uniform(0.08, 0.6), rng.uniform(0.3, 1.2), rng.randint(3, 12)
    rows = []
    for e in range(1, epochs + 1):
        train_loss = floor * 0.7 + 2.3 * math.exp(-speed * e)
        val_loss = floor + 2.2 * math.exp(-speed * e) + max(0, e - turn) * 0.03 + rng.uniform(-0.01, 0.01)
        rows.append((train_loss, min(0.999, 1.02 - train_loss / 2.5), val_loss,
                     max(0.05, min(0.995, 1.0 - val_loss / 2.4 + rng.uniform(-0.01, 0.01)))))
    return rows


def build_class(store: Store, students: int, runs: int, seed: int = 0) -> tuple[str, str]:
    """The class (its code) and its teacher's learner key, with `students` × `runs` ended runs."""
    rng = random.Random(seed)
    classes = Classes(store)
    teacher = new_learner_key()
    info, _ = classes.create("Benchmark class", teacher)
    for i in range(students):
        key = new_learner_key()
        classes.join(key, info.code, f"Student {i + 1:02d}")
        for _ in range(runs):
            config = a_config(rng)
            run_id, _, _ = store.create_run(key, config, "cpu", "bundled sample")
            steps_per_epoch = math.ceil(config.train_subset / config.batch_size)
            rows = curves(rng, config.epochs)
            status = "early_stopped" if rng.random() < 1 / 6 and config.epochs > 3 else "finished"
            best = min(range(len(rows)), key=lambda e: rows[e][2]) + 1
            kept = rows[:min(len(rows), best + 2)] if status == "early_stopped" else rows
            total = steps_per_epoch * len(kept)
            stride = loss_stride(steps_per_epoch * config.epochs)
            with store.session.begin() as db:
                t = now()
                db.execute(insert(S.EpochRow), [
                    {"run_id": run_id, "epoch": e, "step": e * steps_per_epoch, "train_loss": tl, "train_acc": ta,
                     "val_loss": vl, "val_acc": va, "train_seconds": 1.5, "seconds": 1.8, "samples_per_s": 5000.0,
                     "extra": "{}"} for e, (tl, ta, vl, va) in enumerate(kept, 1)])
                db.execute(insert(S.StepLoss), [
                    {"run_id": run_id, "step": s, "loss": kept[min((s - 1) // steps_per_epoch, len(kept) - 1)][0]}
                    for s in range(1, total + 1) if s == 1 or s % stride == 0])
                db.execute(update(S.Run).where(S.Run.id == run_id).values(
                    status=status, updated_at=t, heartbeat_at=t, step=total, steps_per_epoch=steps_per_epoch,
                    total_steps=steps_per_epoch * config.epochs, elapsed=1.8 * len(kept), loss_stride=stride,
                    best_epoch=best if status == "early_stopped" else None))
    return info.code, teacher


def quantiles(values: list[float]) -> str:
    values = sorted(values)
    return (f"median {statistics.median(values) * 1000:7.1f} ms, 90th percentile "
            f"{values[math.ceil(0.9 * len(values)) - 1] * 1000:7.1f} ms (n={len(values)})")


def time_reads(store: Store, code: str, reads: int) -> list[float]:
    classes = Classes(store)
    classes.wall(code)  # warm: SQLite's page cache, SQLAlchemy's compiled statements
    times = []
    for _ in range(reads):
        t0 = time.perf_counter()
        classes.wall(code)
        times.append(time.perf_counter() - t0)
    return times


def time_renders(code: str, teacher: str, renders: int) -> tuple[list[float], list[float], dict]:
    """Script run times of the class page for its teacher: wall read from the database, wall cached."""
    from streamlit.testing.v1 import AppTest

    from ui import classes as C

    # clearing the cache outside a script run warns each time
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").disabled = True

    def page() -> AppTest:
        at = AppTest.from_file(PAGE, default_timeout=120)
        at.session_state["lang"], at.session_state["learner_key"] = "en", teacher
        at.query_params["class"] = code
        return at

    first = page()
    first.run()  # imports, the store, the catalogue: the server has them by the time a class looks
    assert not first.exception, first.exception
    drawn = {"caption": next(c.value for c in first.caption if "runs on the wall" in c.value),
             "leaderboard rows": len(first.dataframe[0].value), "charts": len(first.get("vega_lite_chart")),
             "teacher buttons": sorted(b.key for b in first.button if b.key)}
    cold, warm = [], []
    for _ in range(renders):
        C.wall.clear()
        at = page()
        t0 = time.perf_counter()
        at.run()
        cold.append(time.perf_counter() - t0)
        at = page()
        t0 = time.perf_counter()
        at.run()  # within 1.5 s of the last: the cached wall
        warm.append(time.perf_counter() - t0)
        assert not at.exception, at.exception
    return cold, warm, drawn


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid`, all its threads (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


COUNT_REDRAWS = """() => { window.__redraws = 0; const app = document.querySelector('[data-testid="stApp"]');
    new MutationObserver(() => { if (app.getAttribute('data-test-script-state') === 'running') window.__redraws++; })
        .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']}); }"""


def time_viewers(code: str, viewers: int, seconds: float, idle_seconds: float = 20) -> dict:
    from playwright.sync_api import sync_playwright

    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, start_server, wait_for_app

    server = start_server(free_port(), {"TLL_DATABASE_URL": os.environ["TLL_DATABASE_URL"]})
    url = server.args[server.args.index("--server.port") + 1]
    try:
        time.sleep(3)
        c0 = cpu_seconds(server.pid)
        time.sleep(idle_seconds)
        idle_rate = (cpu_seconds(server.pid) - c0) / idle_seconds
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            context = browser.new_context(locale="en-US", viewport={"width": 1024, "height": 768})
            tabs = []
            for _ in range(viewers):
                tab = context.new_page()
                tab.goto(f"http://127.0.0.1:{url}/class?class={code}")
                wait_for_app(tab, timeout=180_000)
                tab.wait_for_selector('[data-testid="stVegaLiteChart"] svg', timeout=180_000)
                tabs.append(tab)
            time.sleep(4)  # every tab past its first redraw
            for tab in tabs:
                tab.evaluate(COUNT_REDRAWS)
            c0, t0 = cpu_seconds(server.pid), time.perf_counter()
            time.sleep(seconds)
            used, elapsed = cpu_seconds(server.pid) - c0, time.perf_counter() - t0
            redraws = [tab.evaluate("() => window.__redraws") for tab in tabs]
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    viewers_cpu = used - idle_rate * elapsed
    per_redraw = viewers_cpu / max(1, sum(redraws))
    return {"elapsed": elapsed, "used": used, "idle_rate": idle_rate, "viewers_cpu": viewers_cpu,
            "redraws": redraws, "per_redraw": per_redraw,
            "per_viewer_minute": per_redraw * REDRAWS_PER_MINUTE,
            "forty_per_minute": 40 * per_redraw * REDRAWS_PER_MINUTE}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--runs", type=int, default=10, help="ended runs per student")
    parser.add_argument("--reads", type=int, default=20)
    parser.add_argument("--renders", type=int, default=5)
    parser.add_argument("--viewers", type=int, default=8, help="real Chromium tabs watching the wall")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--no-server", action="store_true", help="skip part 3 (no server, no browser)")
    args = parser.parse_args()
    try:
        store = Store()
        t0 = time.perf_counter()
        code, teacher = build_class(store, args.students, args.runs)
        wall = Classes(store).wall(code)
        epochs = sum(len(r.val_losses) for r in wall.runs)
        print(f"class {code}: {wall.students} students, {len(wall.runs)} ended runs, {epochs} epochs "
              f"(built in {time.perf_counter() - t0:.1f} s; SQLite file + WAL "
              f"{sum(f.stat().st_size for f in FOLDER.glob('runs.sqlite*')) / 1e6:.1f} MB; {os.cpu_count()} CPU cores)")

        print(f"1. Classes.wall(code), one read:     {quantiles(time_reads(store, code, args.reads))}")
        cold, warm, drawn = time_renders(code, teacher, args.renders)
        print(f"2. class page for its teacher (AppTest script run): {json.dumps(drawn, ensure_ascii=False)}")
        print(f"   wall read from the database:      {quantiles(cold)}")
        print(f"   wall cached (shared for 1.5 s):   {quantiles(warm)}")
        store.close()
        if args.no_server:
            return
        v = time_viewers(code, args.viewers, args.seconds)
        minute = 60 / v["elapsed"]
        print(f"3. {args.viewers} Chromium tabs on the wall for {v['elapsed']:.0f} s: server CPU {v['used']:.1f} s "
              f"(idle server {v['idle_rate'] * 60:.2f} s/min, subtracted)")
        print(f"   redraws per tab per minute: {', '.join(f'{r * minute:.1f}' for r in v['redraws'])} "
              f"(the page asks for {REDRAWS_PER_MINUTE:.0f})")
        print(f"   server CPU per redraw {v['per_redraw'] * 1000:.0f} ms; per viewer {v['per_viewer_minute']:.1f} CPU s/min"
              f" at {REDRAWS_PER_MINUTE:.0f} redraws/min; 40 viewers: {v['forty_per_minute']:.0f} CPU s/min "
              f"= {v['forty_per_minute'] / 60:.2f} cores busy")
        print(f"   measured rate, {args.viewers} tabs as they ran: {v['viewers_cpu'] * minute:.1f} CPU s/min "
              f"= {v['viewers_cpu'] * minute / args.viewers:.2f} per tab")
    finally:
        shutil.rmtree(FOLDER, ignore_errors=True)


if __name__ == "__main__":
    main()
