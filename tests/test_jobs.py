"""The job manager: a bounded number of runs at once, first come first served, cancellable."""
import os
import subprocess
import sys
import threading
import time

import pytest
import torch

from core.device import CPU_THREADS, device_label, use_all_cpu_threads
from apptest import wait_until
from core.jobs import JobManager
from core.train import ConfigError, TrainConfig
from conftest import ROOT

SLOW = dict(batch_size=1, epochs=1, train_subset=4000, device="cpu")  # thousands of steps: runs until cancelled
QUICK = dict(batch_size=128, epochs=1, train_subset=256, device="cpu")



def test_runs_a_job_to_the_end_with_its_progress(splits):
    manager = JobManager(max_running=1)
    job = manager.submit(TrainConfig(**QUICK), splits, owner="a")
    wait_until(lambda: job.done)
    snap = job.state.snapshot()
    assert snap.status == "finished" and snap.step == snap.total_steps == 2 and len(snap.losses) == 2
    assert snap.epochs[0].val_acc > 0 and snap.seconds_to_first_loss is not None
    assert job.state.result.model is not None


def test_never_more_than_the_limit_and_queue_order_is_kept(splits):
    manager = JobManager(max_running=2, threads_per_job=1)
    jobs = [manager.submit(TrainConfig(**SLOW, seed=i), splits, owner=f"s{i}") for i in range(5)]
    wait_until(lambda: jobs[1].state.snapshot().step > 0)
    assert [j.state.snapshot().status for j in jobs] == ["running", "running", "queued", "queued", "queued"]
    assert [j.state.snapshot().queue_position for j in jobs[2:]] == [1, 2, 3]
    order = []
    for job in jobs:  # cancel in turn: each freed slot goes to the next in the queue
        wait_until(lambda: job.state.snapshot().status == "running" and job.state.snapshot().step > 0)
        order.append(job.id)
        assert manager.counts()[0] <= 2
        manager.cancel(job)
        wait_until(lambda: job.done)
    assert order == [j.id for j in jobs] and manager.peak_running == 2
    assert all(j.state.snapshot().status == "stopped" for j in jobs)


def test_cancelling_a_queued_job_frees_its_place(splits):
    manager = JobManager(max_running=1)
    running = manager.submit(TrainConfig(**SLOW), splits, owner="a")
    queued = manager.submit(TrainConfig(**QUICK), splits, owner="b")
    last = manager.submit(TrainConfig(**QUICK), splits, owner="c")
    assert last.state.snapshot().queue_position == 2
    manager.cancel(queued)
    assert queued.state.snapshot().status == "cancelled" and last.state.snapshot().queue_position == 1
    manager.cancel(running)
    wait_until(lambda: last.done)
    assert last.state.snapshot().status == "finished"
    assert running.state.snapshot().status == "stopped" and running.state.result.model is not None


def test_cancel_owner_stops_everything_of_one_session(splits):
    manager = JobManager(max_running=1)
    mine = [manager.submit(TrainConfig(**SLOW), splits, owner="closed-tab") for _ in range(2)]
    other = manager.submit(TrainConfig(**QUICK), splits, owner="open-tab")
    assert manager.cancel_owner("closed-tab") == 2
    wait_until(lambda: other.done)
    assert other.state.snapshot().status == "finished"
    assert {j.state.snapshot().status for j in mine} <= {"stopped", "cancelled"}
    assert manager.owners() == set()


def test_impossible_settings_are_refused_before_queueing(splits):
    manager = JobManager(max_running=1)
    with pytest.raises(ConfigError):
        manager.submit(TrainConfig(batch_size=0), splits)
    assert manager.counts() == (0, 0)


def test_a_crashing_run_fails_and_frees_its_slot(splits):
    manager = JobManager(max_running=1)

    def broken_hook(model, epoch):
        raise RuntimeError("measurement broke")

    bad = manager.submit(TrainConfig(**QUICK), splits, epoch_hook=broken_hook)
    good = manager.submit(TrainConfig(**QUICK), splits)
    wait_until(lambda: good.done)
    assert bad.state.snapshot().status == "failed" and "measurement broke" in bad.state.snapshot().error
    assert good.state.snapshot().status == "finished"


def test_a_closed_sessions_jobs_are_cancelled_after_the_grace_period(splits):
    manager = JobManager(max_running=1)
    alive = {"open-tab": True, "closed-tab": False}
    gone = manager.submit(TrainConfig(**SLOW), splits, owner="closed-tab")
    waiting = manager.submit(TrainConfig(**QUICK), splits, owner="open-tab")
    assert manager.reap(alive.get, grace=0.2) == 0  # first sight of a missing owner starts its grace period
    time.sleep(0.3)
    assert manager.reap(alive.get, grace=0.2) == 1
    wait_until(lambda: waiting.done)
    assert gone.state.snapshot().status == "stopped" and waiting.state.snapshot().status == "finished"


def test_a_jobs_share_of_the_cores_does_not_stick_to_the_pages_started_after_it(splits):
    manager = JobManager(max_running=1, threads_per_job=1)
    job = manager.submit(TrainConfig(**QUICK), splits, owner="a")
    wait_until(lambda: job.done)
    seen = []

    def page_run():  # what app.py does at the top of every script run
        use_all_cpu_threads()
        seen.append((torch.get_num_threads(), device_label(torch.device("cpu"))))

    thread = threading.Thread(target=page_run)
    thread.start()
    thread.join()
    assert seen == [(CPU_THREADS, f"CPU ({CPU_THREADS} threads)")]


def test_a_finished_job_goes_on_for_more_epochs_as_the_same_run(splits):
    manager = JobManager(max_running=1)
    job = manager.submit(TrainConfig(**QUICK), splits, owner="a")
    wait_until(lambda: job.done)
    first = job.state.result
    assert job.resumable
    manager.resume(job, epochs=2)
    wait_until(lambda: job.done)
    snap = job.state.snapshot()
    assert snap.status == "finished" and job.config.epochs == 3
    assert snap.step == snap.total_steps == 6 and [e.epoch for e in snap.epochs] == [1, 2, 3]
    assert job.state.result.model is not first.model and len(first.epochs) == 1  # the earlier result untouched
    assert job.state.result.steps == [loss for _, loss in snap.losses]


def test_a_resumed_job_cancelled_while_queued_is_stopped_and_keeps_its_model(splits):
    manager = JobManager(max_running=1)
    job = manager.submit(TrainConfig(**QUICK), splits, owner="a")
    wait_until(lambda: job.done)
    blocker = manager.submit(TrainConfig(**SLOW), splits, owner="b")
    wait_until(lambda: blocker.state.snapshot().step > 0)
    manager.resume(job, epochs=1)
    assert job.state.snapshot().status == "queued" and job.state.snapshot().queue_position == 1
    manager.cancel(job)
    assert job.state.snapshot().status == "stopped" and job.state.result.model is not None and job.resumable
    manager.cancel(blocker)
    wait_until(lambda: blocker.done)


def test_only_finished_or_stopped_jobs_with_their_trainer_go_on(splits):
    manager = JobManager(max_running=1)
    boom = manager.submit(TrainConfig(optimizer="sgd", learning_rate=1e4, batch_size=1, epochs=1, train_subset=200,
                                      device="cpu"), splits)
    running = manager.submit(TrainConfig(**SLOW), splits)
    wait_until(lambda: boom.done and running.state.snapshot().step > 0)
    assert boom.state.status == "diverged" and not boom.resumable and boom.trainer is None
    for job in (boom, running):
        with pytest.raises(ValueError, match="cannot go on"):
            manager.resume(job, epochs=1)
    running.release()  # the session moved on to a newer run: its trainer is not kept
    manager.cancel(running)
    wait_until(lambda: running.done)
    assert running.state.status == "stopped" and running.state.result is not None and not running.resumable


def test_the_default_executor_trains_here_and_never_imports_ray():
    code = ("import os, sys; os.environ.pop('TLL_RAY_ADDRESS', None)\n"
            "from core import jobs\n"
            "import ui.runs, ui.lab_controls\n"
            "executor = jobs.manager()\n"
            "print(type(executor).__name__, executor.slots >= 1, 'ray' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != "TLL_RAY_ADDRESS"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert out.stdout.split() == ["JobManager", "True", "False"], out.stderr[-2000:]
