"""A class pressing Train at once, in-process vs on Ray: submit → first loss for N runs (issue 22).

    python benchmarks/ray_first_loss.py --runs 16 --repeats 2

No browser, no server: N of the Lab's default runs (TrainConfig(): MLP, Adam, batch 64, 3 epochs on
the bundled 8,000 digits; seeds 0…N-1) are submitted together to
- the in-process executor, `core.jobs.JobManager()` with its defaults (TLL_MAX_JOBS unset: one
  training per CPU core, one torch thread each), and
- `core.ray_executor.RayExecutor("local")`: a private Ray of TLL_RAY_CPUS cores (unset: one per CPU
  core, as many trainings at once as the in-process executor), its workers warmed first (each
  imported torch and took a step) and then one round of real runs, so that none of the figures
  pays a worker's start.
Both executors live in this process for the whole script (the idle Ray's own processes run during
the in-process rounds too); the rounds alternate in-process, Ray, in-process, Ray… so that noise
from other work on the machine falls on both. Prints, per round and as the median over rounds: median and p95
of the seconds from submit to first loss (`Snapshot.seconds_to_first_loss`: on Ray this includes
scheduling the task and streaming its first step back), the time until the last run ended, and
the Ray / in-process ratio of each.
"""
import argparse
import dataclasses
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # Ray 2.60 turns token authentication on by default
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("TLL_OFFLINE", "1")
os.environ.setdefault("TLL_DATA_DIR", str(ROOT / "tests" / "no-data-dir"))  # → the bundled sample, as the tests
sys.path.insert(0, str(ROOT))
from core import data as D  # noqa: E402
from core.jobs import JobManager  # noqa: E402
from core.train import TrainConfig  # noqa: E402
from benchmarks.concurrent_jobs import one_class  # noqa: E402


def pct(values: list[float], q: float) -> float:
    """The q-quantile by linear interpolation between the sorted values (numpy's default)."""
    values = sorted(values)
    k = (len(values) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def summary(r: dict) -> dict:
    f = r["first"]
    return {"median": statistics.median(f), "p95": pct(f, 0.95), "max": max(f), "wall": r["wall"], "run": r["run"]}


def line(name: str, r: dict) -> str:
    f = r["first"]
    return (f"{name:<11} first loss median {statistics.median(f):6.3f} s  p95 {pct(f, 0.95):6.3f} s  "
            f"max {max(f):6.3f} s | all ended {r['wall']:6.2f} s | one run (median) {r['run']:5.2f} s"
            f" | submitting took {r['submit'] * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=16, help="runs submitted at once")
    parser.add_argument("--repeats", type=int, default=2, help="rounds per executor (alternating)")
    parser.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    parser.add_argument("--train-subset", type=int, default=0, help="0: all training digits")
    args = parser.parse_args()

    import ray

    from core.ray_executor import RayExecutor

    splits = D.load_splits_or_bundled()[0]  # what a Ray worker loads too (its fingerprint must match)
    config = TrainConfig(device="cpu", epochs=args.epochs, train_subset=args.train_subset)
    warm = dataclasses.replace(config, epochs=1, train_subset=640)

    here = JobManager()
    t0 = time.perf_counter()
    ray_ex = RayExecutor("local")
    ray_ex.warm(splits).join(180)
    if ray_ex.problem or not ray_ex.slots:
        raise SystemExit(f"Ray did not start: {ray_ex.problem}")
    ray_start = time.perf_counter() - t0
    for manager in (here, ray_ex):  # one round of short real runs: dynamo imported, workers used once
        one_class(manager, max(manager.slots, 2), warm, splits)

    print(f"{args.runs} runs at once, each TrainConfig(epochs={config.epochs}, train_subset={config.train_subset or 'all'}) "
          f"on {config.samples(len(splits.train)):,} digits, batch {config.batch_size}; "
          f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f} at start")
    print(f"in-process: JobManager(), {here.slots} trainings at once, {here.threads_per_job} thread(s) each")
    print(f"Ray: RayExecutor('local'), {ray_ex.slots} CPUs (trainings at once), started and warmed in {ray_start:.1f} s")
    results = {"in-process": [], "Ray": []}
    for k in range(args.repeats):
        for name, manager in (("in-process", here), ("Ray", ray_ex)):
            r = one_class(manager, args.runs, config, splits)
            results[name].append(r)
            print(f"round {k + 1}: " + line(name, r), flush=True)
    print(f"median over the {args.repeats} rounds (each round's median, p95, max, end; noise on the machine "
          f"falls on single rounds):")
    merged = {name: {key: statistics.median(summary(r)[key] for r in rs) for key in ("median", "p95", "max", "wall", "run")}
              for name, rs in results.items()}
    for name, m in merged.items():
        print(f"          {name:<11} first loss median {m['median']:6.3f} s  p95 {m['p95']:6.3f} s  max {m['max']:6.3f} s"
              f" | all ended {m['wall']:6.2f} s | one run (median) {m['run']:5.2f} s")
    a, b = merged["in-process"], merged["Ray"]
    print(f"Ray / in-process: first loss median {b['median'] / a['median']:.2f}×, p95 {b['p95'] / a['p95']:.2f}×, "
          f"all ended {b['wall'] / a['wall']:.2f}×")
    print("per round, Ray / in-process p95: " + ", ".join(
        f"{summary(y)['p95'] / summary(x)['p95']:.2f}×" for x, y in zip(results["in-process"], results["Ray"])))
    ray.shutdown()


if __name__ == "__main__":
    main()
