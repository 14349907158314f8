"""Honest capacity (issue 22): the server's CPU per learner action, and first loss for N learners at once.

    python benchmarks/capacity.py                      # in-process, then Ray (TLL_RAY_ADDRESS=local)
    python benchmarks/capacity.py --modes inproc --learners 1 2 --rounds 1 1

The server (`streamlit run app.py`, bundled data, a fresh TLL_CACHE_DIR and so a fresh SQLite store)
runs pinned to one core (`taskset -c 0`); this script, Playwright's driver and every Chromium process
run pinned to the other core (`--browser-cpus`, default 1), so that the tabs' chart rendering does
not eat the server's core as it did in load_test.py.

A learner action: open the Training Lab (a new browser context, i.e. a new session and a new learner),
press Train with the default settings, watch the run live to its end ("Run 1 finished …"), go to
"Draw a digit" through the menu, draw a "1" with the mouse and wait for the prediction.

For N learners at once (--learners, each --rounds times), N actions start together; the script takes
- first loss on screen: from the click on Train to the first step's loss on the page (the progress
  bar's "step 1…", drawn in the same fragment update as the loss chart), both timed in the tab
  (a click listener and a MutationObserver, not Playwright's polling);
- the server process's own CPU seconds (utime + stime from /proc/PID/stat, all its threads, so the
  in-process trainings too) over the round, divided by N; its descendant processes apart: with
  TLL_RAY_ADDRESS=local these are Ray's workers ("ray::…", the trainings) and Ray's own processes
  (GCS, raylet, monitors). Ray is started by the server, so its processes inherit the server's core:
  the trainings compete with the server for core 0 as they do in-process (like for like on latency),
  while the CPU figures are split by process.
One action first, alone, warms the server (imports, Ray's workers, the default model) and is not
counted; the server's idle CPU over a few seconds is printed too. p95 is interpolated between the
sorted samples (numpy's default); with 2–8 samples it is close to the maximum.
"""
import argparse
import asyncio
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.load_test import READY, draw_a_one  # noqa: E402
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, start_server, stop_server  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
# Times, in the tab, the click on Train and the first time the page shows a loss / the run's end.
WATCH = """() => {
  const w = window.__tll = {click: null, first: null, end: null, how: null};
  document.addEventListener('click', e => {
    if (w.click === null && e.target.closest('.st-key-train')) w.click = performance.now();
  }, true);
  const check = () => {
    if (w.click === null || w.end !== null) return;
    const now = performance.now();
    const bar = document.querySelector('[data-testid="stProgress"]');
    if (w.first === null && bar && /step [1-9]/.test(bar.textContent)) w.first = now;
    if (document.querySelector('[data-testid="stException"]')) { w.end = now; w.how = 'exception'; return; }
    for (const a of document.querySelectorAll('[data-testid^="stAlertContent"]')) {
      const text = a.textContent;
      if (/Run \\d+ finished/.test(text)) { if (w.first === null) w.first = now; w.end = now; w.how = 'finished'; }
      else if (/Run \\d+ (diverged|failed|was stopped|was interrupted)/.test(text)) { w.end = now; w.how = text.slice(0, 80); }
    }
  };
  new MutationObserver(check).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


# the server and its processes ---------------------------------------------------------------------

def stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, own CPU seconds: utime + stime) of a process, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class CpuMeter:
    """CPU seconds of the server process and of its descendants, by kind, sampled often enough that a
    process which ends in between keeps the CPU it had used at its last sample."""

    def __init__(self, server: int):
        self.server = server
        self.seen: dict[int, tuple[str, float]] = {}  # pid → (kind, CPU seconds at the latest sample)

    def kind(self, pid: int) -> str:
        if pid == self.server:
            return "server"
        line = cmdline(pid)
        if line.startswith(("ray::IDLE", "ray::train_task", "ray::warm_up")) or "default_worker.py" in line:
            return "ray workers"  # the processes that train (Ray renames a worker after its task)
        return "ray system" if "ray" in line else "other children"  # GCS, raylet, agents, StopBoard actor

    def sample(self) -> None:
        parents, cpu = {}, {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (s := stat(int(entry.name))) is not None:
                parents[int(entry.name)], cpu[int(entry.name)] = s
        for pid in cpu:
            up, hops = pid, 0
            while up not in (self.server, 0, 1) and hops < 20:
                up, hops = parents.get(up, 0), hops + 1
            if up == self.server:
                old = self.seen.get(pid)
                self.seen[pid] = (old[0] if old else self.kind(pid), cpu[pid])

    def totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for kind, seconds in self.seen.values():
            out[kind] = out.get(kind, 0.0) + seconds
        return out

    def pids(self) -> list[int]:
        return [pid for pid in self.seen if pid != self.server]


def affinity(pid: int) -> set[int]:
    try:
        return os.sched_getaffinity(pid)
    except OSError:
        return set()


def descendants(root: int) -> list[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (s := stat(int(entry.name))) is not None:
            parents[int(entry.name)] = s[0]
    found, todo = [], [root]
    while todo:
        up = todo.pop()
        kids = [pid for pid, parent in parents.items() if parent == up]
        found += kids
        todo += kids
    return found


def stop_server_and_ray(proc: subprocess.Popen, meter: CpuMeter) -> None:
    """End the server; then any of its descendants still there (Ray's processes), by pid."""
    stop_server(proc, timeout=30)
    time.sleep(2)
    for pid in meter.pids():
        if stat(pid) is not None and cmdline(pid):
            try:
                os.kill(pid, 15)
            except OSError:
                pass


# one learner ----------------------------------------------------------------------------------------

@dataclass
class Action:
    first_loss: float | None = None  # click → first loss on screen (s)
    run: float | None = None  # click → "finished" on screen (s)
    prediction: str | None = None
    total: float = 0.0
    errors: list[str] = field(default_factory=list)


async def learner_action(browser, url: str) -> Action:
    a = Action()
    started = time.perf_counter()
    context = await browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(240_000)
    try:
        await page.goto(url + "/lab")
        await page.wait_for_function(READY)
        await page.evaluate(WATCH)
        await page.locator(".st-key-train button").click()
        await page.wait_for_function("() => window.__tll.end !== null", polling=200)
        w = await page.evaluate("() => window.__tll")
        if w["how"] != "finished":
            a.errors.append(f"the run ended as: {w['how']}")
            return a
        a.first_loss, a.run = (w["first"] - w["click"]) / 1000, (w["end"] - w["click"]) / 1000
        a.prediction = await draw_a_one(page)
        if await page.locator('[data-testid="stException"]').count():
            a.errors.append("an exception is shown on the page")
    except Exception as exc:  # noqa: BLE001 - a failed action is reported, not raised
        a.errors.append(f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    finally:
        await context.close()
        a.total = time.perf_counter() - started
    return a


# a mode: one server, its rounds ---------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


async def measure_mode(mode: str, args) -> dict:
    from playwright.async_api import async_playwright

    cache = Path(tempfile.mkdtemp(prefix=f"tll-capacity-{mode}-"))
    env = {"TLL_DATA_DIR": str(ROOT / "tests" / "no-data-dir"), "TLL_CACHE_DIR": str(cache),
           "TLL_DATABASE_URL": f"sqlite:///{cache / 'runs.sqlite'}", "TLL_RAY_ADDRESS": ""}  # a fresh store
    if mode == "ray":
        env.update(TLL_RAY_ADDRESS="local", TLL_RAY_CPUS=str(args.ray_cpus), TLL_RAY_CONNECT_TIMEOUT="90",
                   RAY_AUTH_MODE="disabled", RAY_USAGE_STATS_ENABLED="0")
    port = free_port()
    t0 = time.perf_counter()
    server = start_server(port, env, prefix=("taskset", "-c", args.server_cpus), timeout=120)
    meter = CpuMeter(server.pid)
    out_cpus = sorted(affinity(server.pid))
    url = f"http://127.0.0.1:{port}"
    rows: list[dict] = []
    out = {"mode": mode, "rows": rows, "server_cpus": out_cpus}
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            out["browser_cpus"] = sorted({c for pid in descendants(os.getpid()) if "chromium" in cmdline(pid)
                                          for c in affinity(pid)})
            warm = await learner_action(browser, url)  # imports, Ray's start and warm-up, the default model
            if warm.errors:
                raise RuntimeError(f"the warm-up action failed: {warm.errors}")
            meter.sample()
            out["start"] = time.perf_counter() - t0
            out["warm_first_loss"] = warm.first_loss
            idle0, t_idle = meter.totals(), time.perf_counter()
            await asyncio.sleep(args.idle_seconds)
            meter.sample()
            idle = {k: (v - idle0.get(k, 0.0)) / (time.perf_counter() - t_idle) for k, v in meter.totals().items()}
            out["idle"] = idle

            async def sampler():
                while True:
                    meter.sample()
                    await asyncio.sleep(0.5)

            for n, rounds in zip(args.learners, args.rounds):
                firsts, runs_s, walls, cpu, failed, preds = [], [], [], {}, [], []
                for _ in range(rounds):
                    meter.sample()
                    before, r0 = meter.totals(), time.perf_counter()
                    task = asyncio.create_task(sampler())
                    actions = await asyncio.gather(*(learner_action(browser, url) for _ in range(n)))
                    task.cancel()
                    await asyncio.sleep(args.settle)  # closed sessions are cleaned up
                    meter.sample()
                    walls.append(time.perf_counter() - r0)
                    for k, v in meter.totals().items():
                        cpu[k] = cpu.get(k, 0.0) + v - before.get(k, 0.0)
                    for a in actions:
                        if a.errors or a.first_loss is None:
                            failed.append("; ".join(a.errors) or "no first loss")
                        else:
                            firsts.append(a.first_loss)
                            runs_s.append(a.run)
                            preds.append(a.prediction)
                actions_n = n * rounds
                row = {"n": n, "rounds": rounds, "ok": len(firsts), "failed": failed,
                       "p50": statistics.median(firsts) if firsts else math.nan,
                       "p95": pct(firsts, 0.95) if firsts else math.nan,
                       "max": max(firsts) if firsts else math.nan,
                       "run_p50": statistics.median(runs_s) if runs_s else math.nan,
                       "wall": statistics.median(walls), "ones": preds.count("1"),
                       "cpu": {k: v / actions_n for k, v in cpu.items()}}
                rows.append(row)
                print(f"  [{mode}] {n} at once × {rounds}: first loss p50 {row['p50']:.2f} s p95 {row['p95']:.2f} s "
                      f"(max {row['max']:.2f}); run on screen p50 {row['run_p50']:.1f} s; round {row['wall']:.1f} s; "
                      f"CPU per action: " + ", ".join(f"{k} {v:.2f} s" for k, v in sorted(row['cpu'].items()))
                      + (f"; FAILED {len(failed)}: {failed[0]}" if failed else ""), flush=True)
            await browser.close()
    finally:
        meter.sample()
        out["procs"] = sorted({k for k, _ in meter.seen.values()})
        stop_server_and_ray(server, meter)
        shutil.rmtree(cache, ignore_errors=True)
    return out


# the report -----------------------------------------------------------------------------------------

def crossing(rows: list[dict], limit: float) -> str:
    """Where p95 first loss crosses `limit`, linearly between the measured N."""
    ok = [r for r in rows if r["p95"] <= limit]
    if len(ok) == len(rows):
        return f"≥ {rows[-1]['n']} (p95 ≤ {limit:g} s at every N measured)"
    if not ok:
        return f"< {rows[0]['n']} (p95 > {limit:g} s already at N = {rows[0]['n']})"
    below = max((r for r in rows if r["p95"] <= limit), key=lambda r: r["n"])
    above = min((r for r in rows if r["n"] > below["n"] and r["p95"] > limit), key=lambda r: r["n"], default=None)
    if above is None:
        return f"≥ {below['n']}"
    n = below["n"] + (limit - below["p95"]) * (above["n"] - below["n"]) / (above["p95"] - below["p95"])
    return f"≈ {n:.1f} (p95 {below['p95']:.2f} s at N = {below['n']}, {above['p95']:.2f} s at N = {above['n']})"


def report(results: list[dict], args) -> None:
    print()
    print("| server | N at once | actions | first loss p50 | p95 | max | run on screen p50 | round (wall) "
          "| server CPU / action | Ray workers CPU / action | Ray system CPU / action | drawn 1 read as 1 |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for res in results:
        for r in res["rows"]:
            c = r["cpu"]
            ray_cols = (f"{c.get('ray workers', 0):.2f} s | {c.get('ray system', 0):.2f} s" if res["mode"] == "ray"
                        else "— | —")
            print(f"| {res['mode']} | {r['n']} | {r['ok']}/{r['n'] * r['rounds']} | {r['p50']:.2f} s | {r['p95']:.2f} s "
                  f"| {r['max']:.2f} s | {r['run_p50']:.1f} s | {r['wall']:.1f} s | {c.get('server', 0):.2f} s | {ray_cols} "
                  f"| {r['ones']}/{r['ok']} |")
    print()
    for res in results:
        rows = res["rows"]
        total = sum(r["n"] * r["rounds"] for r in rows)
        per = {k: sum(r["cpu"].get(k, 0) * r["n"] * r["rounds"] for r in rows) / total
               for k in ("server", "ray workers", "ray system", "other children")}
        server = per["server"]
        idle = ", ".join(f"{k} {v:.3f}" for k, v in sorted(res["idle"].items()))
        print(f"{res['mode']}: Chromium's processes ran on CPU {res.get('browser_cpus')}, the server's on "
              f"{res.get('server_cpus')}")
        print(f"{res['mode']}: started and warmed in {res['start']:.0f} s (first action's first loss "
              f"{res['warm_first_loss']:.2f} s); idle CPU s/s: {idle}")
        print(f"  CPU per learner action over all {total} actions: server {server:.2f} s"
              + (f", Ray workers {per['ray workers']:.2f} s, Ray system {per['ray system']:.2f} s"
                 if res["mode"] == "ray" else "")
              + (f", other children {per['other children']:.2f} s" if per["other children"] else ""))
        print(f"  → one server core does at most {60 / server:.0f} actions a minute (60 s / {server:.2f} s)"
              + (f"; training them takes {60 / max(per['ray workers'], 1e-9):.0f} a minute per Ray core"
                 if res["mode"] == "ray" else ""))
        print(f"  → learners pressing Train together with p95 first loss ≤ {args.limit:g} s: "
              f"{crossing(rows, args.limit)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["inproc", "ray"], choices=["inproc", "ray"])
    parser.add_argument("--learners", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--rounds", type=int, nargs="+", default=[4, 2, 1, 1],
                        help="rounds for each --learners value")
    parser.add_argument("--server-cpus", default="0", help="taskset list for the server (and Ray, its child)")
    parser.add_argument("--browser-cpus", default="1", help="taskset list for this script, Playwright, Chromium")
    parser.add_argument("--ray-cpus", type=int, default=1, help="TLL_RAY_CPUS: Ray's trainings at once")
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after a round before its CPU is read")
    parser.add_argument("--limit", type=float, default=2.0, help="p95 first-loss target (s)")
    args = parser.parse_args()
    if len(args.rounds) != len(args.learners):
        parser.error("give one --rounds value per --learners value")
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install chromium)")
    # this process first: Playwright's driver and Chromium inherit its core; the server gets its own
    os.sched_setaffinity(0, {int(c) for c in args.browser_cpus.split(",")})
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), "?")
    print(f"{os.cpu_count()} CPUs ({cpu}); server on CPU {args.server_cpus}, browsers on CPU {args.browser_cpus}; "
          f"load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    started = time.perf_counter()
    results = [asyncio.run(measure_mode(mode, args)) for mode in args.modes]
    report(results, args)
    print(f"\nwhole script {time.perf_counter() - started:.0f} s; load average at the end "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    failed = sum(len(r["failed"]) for res in results for r in res["rows"])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
