"""The Ray executor (core.ray_executor) on a private local Ray of 2 CPUs: the same figures as a run in
this process, Stop, four runs at once, a killed worker, going on, the store, an unreachable head."""
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # Ray 2.60 turns token authentication on by default
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
ray = pytest.importorskip("ray", reason="scripts/test.sh installs requirements-ray.txt")

from core import data as D  # noqa: E402
from core.confusion import make_watch_hook  # noqa: E402
from core.jobs import JobManager  # noqa: E402
from core.store import Store, StoreWriter, new_learner_key  # noqa: E402
from core.train import TrainConfig  # noqa: E402
from apptest import wait_until  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL = TrainConfig(epochs=2, train_subset=1000, seed=3, device="cpu")  # 16 steps an epoch
SLOW = TrainConfig(epochs=40, train_subset=2000, batch_size=8, device="cpu")  # 250 steps an epoch


@pytest.fixture(scope="module")
def ray_executor(splits):
    from core.ray_executor import RayExecutor

    os.environ["TLL_RAY_CPUS"] = "2"
    executor = RayExecutor("local")
    executor.warm(splits).join(120)  # each worker imports torch once, here, not in the first test
    assert executor.problem == "" and executor.slots == 2
    yield executor
    ray.shutdown()


def in_process(config: TrainConfig, splits, **kwargs):
    manager = JobManager(max_running=1, threads_per_job=1)  # a Ray task trains on one thread too
    job = manager.submit(config, splits, **kwargs)
    wait_until(lambda: job.done, timeout=120)
    return job


def figures(job) -> list[tuple[float, float, float, float]]:
    return [(e.train_loss, e.train_acc, e.val_loss, e.val_acc) for e in job.state.snapshot().epochs]


def assert_same_figures(a, b) -> None:
    assert len(figures(a)) == len(figures(b))
    for mine, theirs in zip(figures(a), figures(b)):
        assert mine == pytest.approx(theirs, abs=1e-6)


def train_task_pids() -> list[int]:
    """Ray worker processes running a training now (Ray names them after the task)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().startswith(b"ray::train_task"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def test_a_run_on_ray_gives_the_figures_of_a_run_in_this_process(ray_executor, splits):
    watch = make_watch_hook(D.to_tensors(splits.val))
    job = ray_executor.submit(SMALL, splits, epoch_hook=watch)
    wait_until(lambda: job.done, timeout=120)
    assert job.state.status == "finished", job.state.snapshot().error
    here = in_process(SMALL, splits, epoch_hook=watch)
    assert_same_figures(job, here)
    snap = job.state.snapshot()
    assert [s for s, _ in snap.losses] == list(range(1, 33))  # every step's loss came back
    assert [v for _, v in snap.losses] == pytest.approx([v for _, v in here.state.snapshot().losses], abs=1e-6)
    assert snap.epochs[-1].extra["watched"] == here.state.snapshot().epochs[-1].extra["watched"]
    x = D.to_tensors(splits.val).x[:200]
    assert (job.state.result.model(x) - here.state.result.model(x)).abs().max() < 1e-5


def test_stop_ends_a_ray_run_within_two_seconds_and_keeps_its_weights(ray_executor, splits):
    job = ray_executor.submit(SLOW, splits)
    assert job.state.wait_first_loss(60)
    time.sleep(0.5)
    asked = time.monotonic()
    ray_executor.cancel(job)
    wait_until(lambda: job.done, timeout=10)
    took = time.monotonic() - asked
    assert took < 2.0 and job.state.status == "stopped"
    assert job.state.result is not None and job.state.snapshot().epoch < SLOW.epochs  # its weights, as they were
    steps = job.state.snapshot().step
    time.sleep(0.5)
    assert job.state.snapshot().step == steps  # nothing trains on


def test_four_runs_at_once_wait_in_rays_queue_and_all_finish(ray_executor, splits):
    configs = [TrainConfig(epochs=2, train_subset=1500, seed=seed, device="cpu") for seed in range(4)]
    started = [ray_executor.submit(config, splits) for config in configs]
    seen_queued = set()

    def all_done():
        seen_queued.update(j.id for j in started if j.state.status == "queued")
        running, queued = ray_executor.counts()
        assert running <= 2  # two CPUs: Ray runs two and keeps the others waiting
        return all(j.done for j in started)

    wait_until(all_done, timeout=180)
    assert [j.state.status for j in started] == ["finished"] * 4
    assert len(seen_queued) >= 2  # the last two waited, and said so
    assert len({figures(j)[-1] for j in started}) == 4  # four different seeds, four different runs


def test_a_killed_worker_interrupts_the_run_which_goes_on_from_its_last_epoch(ray_executor, splits):
    job = ray_executor.submit(SLOW, splits)
    wait_until(lambda: job.saved is not None, timeout=120)  # epoch 1's weights came back
    [pid] = train_task_pids()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: job.done, timeout=30)
    assert job.state.status == "interrupted" and job.resumable
    kept = job.saved["steps_done"] // 250  # the epochs the last checkpoint holds
    assert kept >= 1 and job.state.result is not None

    ray_executor.resume(job, epochs=1)
    wait_until(lambda: job.done, timeout=120)
    assert job.state.status == "finished" and job.state.snapshot().epoch == kept + 1
    assert_same_figures(job, in_process(replace(SLOW, epochs=kept + 1), splits))


def test_going_on_after_a_finished_run_gives_the_curves_of_one_longer_run_and_is_stored(ray_executor, splits,
                                                                                          tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'runs.sqlite'}")
    writer = StoreWriter(store)
    key = new_learner_key()
    run_id, _, _ = store.create_run(key, SMALL, device="cpu", data_source=splits.source)
    job = ray_executor.submit(SMALL, splits, listener=writer.recorder(run_id), run_id=run_id)
    wait_until(lambda: job.done, timeout=120)
    ray_executor.resume(job, epochs=1)
    wait_until(lambda: job.done, timeout=120)
    longer = in_process(replace(SMALL, epochs=3), splits)
    assert_same_figures(job, longer)
    assert writer.flush()
    stored = store.run(key, run_id)
    assert stored.status == "finished" and len(stored.epochs) == 3 and stored.has_model and stored.can_go_on
    assert [e.val_loss for e in stored.epochs] == pytest.approx([e.val_loss for e in longer.state.snapshot().epochs],
                                                                abs=1e-6)
    store.close()


def test_an_unreachable_head_refuses_new_runs_in_words_without_hanging():
    code = ("import time; from core import data as D; from core.train import TrainConfig, ConfigError\n"
            "from core.ray_executor import RayExecutor\n"
            "ex = RayExecutor('127.0.0.1:9'); t = time.monotonic(); joining = repr(ex.problem)\n"
            "try:\n    ex.submit(TrainConfig(epochs=1), D.load_splits_or_bundled()[0])\n"
            "except ConfigError as exc:\n"
            "    print(joining, '|', round(time.monotonic() - t, 1), '|', exc.key, '|', exc, flush=True)\n"
            "import os; os._exit(0)\n")
    env = {**os.environ, "TLL_RAY_CONNECT_TIMEOUT": "3", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    joining, seconds, key, words = out.stdout.strip().split(" | ")
    assert joining == "''"  # nothing said while the first attempt may still succeed (it said "after 0 s")
    assert key == "ray_unreachable" and float(seconds) < 5
    assert "127.0.0.1:9" in words and "cannot be reached" in words


def test_an_epoch_hook_goes_to_the_cluster_once_for_all_its_runs(ray_executor, splits):
    watch = make_watch_hook(D.to_tensors(splits.val))  # holds the 1,000 validation digits: ~3 MB
    first = ray_executor._shared(watch)
    assert ray_executor._shared(watch) == first  # the same object in the cluster, not a new copy per run
    jobs_ = [ray_executor.submit(replace(SMALL, epochs=1, seed=s), splits, epoch_hook=watch) for s in (1, 2)]
    wait_until(lambda: all(j.done for j in jobs_), timeout=120)
    assert all(len(j.state.snapshot().epochs[0].extra["watched"]) == 20 for j in jobs_)
    assert ray_executor._shared(make_watch_hook(D.to_tensors(splits.val))) != first  # another hook: its own
