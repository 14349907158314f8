"""core.batching draws epochs exactly as training does, and agrees with batch_plan everywhere."""
import math

import pytest
import torch

from core import data as D
from core.batching import batch_epochs, digit_starts, left_out


def training_order(n: int, batch_size: int, seed: int, epochs: int, drop_last: bool) -> list[list[list[int]]]:
    """The item numbers the Trainer's fast path feeds, epoch after epoch: labels 0…n-1 through device_epoch."""
    data = D.TensorSplit(torch.zeros(n, 1, 28, 28), torch.arange(n))
    generator = torch.Generator().manual_seed(seed)  # as Trainer: seeded once with config.seed
    return [[data.y[idx].tolist() for idx in D.device_epoch(data, batch_size, generator, drop_last)]
            for _ in range(epochs)]


@pytest.mark.parametrize("n, batch_size, drop_last", [(20, 6, False), (20, 6, True), (7, 7, False), (5, 8, True),
                                                      (60, 1, False), (1, 32, False)])
def test_epochs_are_the_training_order(n, batch_size, drop_last):
    shown = batch_epochs(n, batch_size, seed=3, epochs=3, drop_last=drop_last)
    assert shown == training_order(n, batch_size, 3, 3, drop_last)


def test_every_size_agrees_with_batch_plan():
    for n in range(1, 61):
        for batch_size in range(1, 33):
            for drop_last in (False, True):
                iterations, last = D.batch_plan(n, batch_size, drop_last)
                epoch = batch_epochs(n, batch_size, seed=0, epochs=1, drop_last=drop_last)[0]
                rounding = math.floor if drop_last else math.ceil
                assert len(epoch) == iterations == rounding(n / batch_size)
                assert (len(epoch[-1]) if epoch else 0) == last
                assert sum(map(len, epoch)) + len(left_out(n, epoch)) == n


def test_each_epoch_uses_every_item_once_in_a_new_order():
    one, two = batch_epochs(40, 8, seed=0)
    assert sorted(sum(one, [])) == sorted(sum(two, [])) == list(range(40))
    assert one != two
    assert batch_epochs(40, 8, seed=0) == [one, two]  # the seed fixes the whole sequence
    assert batch_epochs(40, 8, seed=1)[0] != one


def test_left_out_is_the_short_last_batch():
    epoch = batch_epochs(10, 4, seed=0, epochs=1, drop_last=True)[0]
    assert len(epoch) == 2
    kept = sum(epoch, [])
    assert sorted(kept + left_out(10, epoch)) == list(range(10))
    assert len(left_out(10, epoch)) == 2
    assert left_out(10, batch_epochs(10, 4, seed=0, epochs=1)[0]) == []


@pytest.mark.parametrize("order", D.ORDERS)
def test_epochs_in_an_order_are_the_trainers(order):
    labels = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9])
    fixed = D.fixed_order(order, labels, seed=4)  # as the Trainer asks for it
    shown = batch_epochs(len(labels), 4, seed=4, epochs=2, order=fixed)
    generator = torch.Generator().manual_seed(4)
    assert shown == [[b.tolist() for b in D.epoch_indices(len(labels), 4, generator, order=fixed)] for _ in range(2)]
    assert (shown[0] == shown[1]) == (order != "shuffle")  # only "shuffle" draws a new order each epoch
    if order == "sorted":
        assert [[int(labels[i]) for i in batch] for batch in shown[0]] == [[1, 1, 2, 3], [3, 4, 5, 5],
                                                                           [5, 6, 7, 8], [9, 9, 9]]


def test_digit_starts_are_the_steps_whose_minibatch_first_holds_a_digit(splits):
    labels = splits.train.labels
    starts = digit_starts(labels, 64)
    assert [d for _, d in starts] == list(range(10)) and starts[0] == (1, 0)
    batches = D.epoch_indices(len(labels), 64, torch.Generator(), order=D.fixed_order("sorted", labels, 0))
    digits = [set(labels[b].tolist()) for b in batches]
    for step, digit in starts:
        assert digit in digits[step - 1] and all(digit not in earlier for earlier in digits[:step - 1])
    counts = torch.bincount(labels).tolist()
    assert starts[1] == (counts[0] // 64 + 1, 1)  # the 0s fill counts[0] // 64 minibatches and part of the next


def test_digit_starts_leave_out_a_digit_whose_only_minibatch_drop_last_drops():
    labels = torch.tensor([0, 0, 0, 1, 1, 2])
    assert digit_starts(labels, 2) == [(1, 0), (2, 1), (3, 2)]  # [0 0] [0 1] [1 2]
    assert digit_starts(labels, 4) == [(1, 0), (1, 1), (2, 2)]  # [0 0 0 1] [1 2]: two digits start in step 1
    assert digit_starts(labels, 4, drop_last=True) == [(1, 0), (1, 1)]  # [1 2] is dropped


def test_a_runs_first_minibatches_follow_its_seed_and_its_order():
    from core.batching import run_batches
    from core.data import epoch_indices
    from core.train import TrainConfig

    labels = torch.arange(10).repeat_interleave(6)  # 60 samples, sorted by digit already
    shuffled = run_batches(TrainConfig(batch_size=8, seed=5), labels, 10)  # 8 batches an epoch: into epoch 2
    generator = torch.Generator().manual_seed(5)
    expected = epoch_indices(60, 8, generator) + epoch_indices(60, 8, generator)
    assert [b.tolist() for b in shuffled] == [b.tolist() for b in expected[:10]]
    mixed = labels[torch.randperm(60, generator=torch.Generator().manual_seed(1))]
    first = run_batches(TrainConfig(batch_size=6, order="sorted"), mixed, 1)[0]
    assert len(first) == 6 and set(mixed[first].tolist()) == {0}  # sorted by digit: the 0s come first
