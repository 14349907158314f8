"""A class pressing Train at once: N of the Lab's default runs through the job manager, one machine.

    python benchmarks/concurrent_jobs.py --students 16 --max-jobs 1 2 4 8 16 [--device cuda]

Each student's run is the Lab's default (TrainConfig(): MLP, Adam, batch 64, 3 epochs on the
bundled 8,000 digits, evaluated each epoch). All N are submitted together to a fresh
`core.jobs.JobManager(max_running=M)` — what TLL_MAX_JOBS sets on a server — and the script waits
for all. Prints, per M (and on a GPU with the CUDA-graph step on and off): the time until the last
run ends, the median and slowest wait from Train to the first loss, and the median run time.
What an admin reads from it: which TLL_MAX_JOBS keeps a class's first losses quick without
making the whole class wait longer.
"""
import argparse
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from core import data as D  # noqa: E402
from core.device import pick_device  # noqa: E402
from core.jobs import JobManager  # noqa: E402
from core.train import TrainConfig, train  # noqa: E402


def one_class(manager: JobManager, runs: int, config: TrainConfig, splits: D.MnistSplits) -> dict:
    """Submit `runs` runs at once (seeds 0…runs-1) to `manager` (either executor); wait until all have
    ended. Returns each run's seconds to its first loss ("first"), the seconds until all ended ("wall"),
    how long submitting took ("submit") and one run's median training time ("run")."""
    t0 = time.perf_counter()
    jobs = [manager.submit(dataclasses.replace(config, seed=i), splits, owner=f"learner-{i}") for i in range(runs)]
    submitted = time.perf_counter() - t0
    while not all(job.done for job in jobs):
        time.sleep(0.005)
    wall = time.perf_counter() - t0
    snaps = [job.state.snapshot() for job in jobs]
    failed = [s.error or s.status for s in snaps if s.status != "finished"]
    if failed:
        raise SystemExit(f"{len(failed)} of {runs} runs did not finish: {failed[0]}")
    first = [s.seconds_to_first_loss for s in snaps]
    return {"first": first, "wall": wall, "submit": submitted, "run": statistics.median(s.elapsed for s in snaps)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=16)
    parser.add_argument("--max-jobs", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    args = parser.parse_args()
    device = pick_device(args.device)
    splits = D.load_splits(download=False)
    graph_modes = [True, False] if device.type == "cuda" else [False]
    train(TrainConfig(device=device.type, epochs=1, train_subset=640), splits)  # warm-up: CUDA, cuBLAS, dynamo
    print(f"device {device}; {args.students} students, each the Lab's default run "
          f"({TrainConfig().epochs} epochs, batch {TrainConfig().batch_size}, {len(splits.train):,} digits)")
    print("TLL_MAX_JOBS  CUDA graph  all done   first loss median / slowest   one run (median)")
    for cuda_graph in graph_modes:
        config = TrainConfig(device=device.type, cuda_graph=cuda_graph)
        for max_jobs in args.max_jobs:
            r = one_class(JobManager(max_running=max_jobs), args.students, config, splits)
            print(f"{max_jobs:>12}  {str(cuda_graph) if device.type == 'cuda' else '-':>10}  {r['wall']:7.2f} s"
                  f"   {statistics.median(r['first']):7.3f} s / {max(r['first']):7.3f} s       {r['run']:7.2f} s")


if __name__ == "__main__":
    main()
