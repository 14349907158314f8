"""core.batching draws epochs exactly as training does, and agrees with batch_plan everywhere."""
import math

import pytest
import torch

from core import data as D
from core.batching import left_out, shuffled_epochs


def training_order(n: int, batch_size: int, seed: int, epochs: int, drop_last: bool) -> list[list[list[int]]]:
    """The item numbers the Trainer's fast path feeds, epoch after epoch: labels 0…n-1 through device_epoch."""
    data = D.TensorSplit(torch.zeros(n, 1, 28, 28), torch.arange(n))
    generator = torch.Generator().manual_seed(seed)  # as Trainer: seeded once with config.seed
    return [[data.y[idx].tolist() for idx in D.device_epoch(data, batch_size, generator, drop_last)]
            for _ in range(epochs)]


@pytest.mark.parametrize("n, batch_size, drop_last", [(20, 6, False), (20, 6, True), (7, 7, False), (5, 8, True),
                                                      (60, 1, False), (1, 32, False)])
def test_epochs_are_the_training_order(n, batch_size, drop_last):
    shown = shuffled_epochs(n, batch_size, seed=3, epochs=3, drop_last=drop_last)
    assert shown == training_order(n, batch_size, 3, 3, drop_last)


def test_every_size_agrees_with_batch_plan():
    for n in range(1, 61):
        for batch_size in range(1, 33):
            for drop_last in (False, True):
                iterations, last = D.batch_plan(n, batch_size, drop_last)
                epoch = shuffled_epochs(n, batch_size, seed=0, epochs=1, drop_last=drop_last)[0]
                rounding = math.floor if drop_last else math.ceil
                assert len(epoch) == iterations == rounding(n / batch_size)
                assert (len(epoch[-1]) if epoch else 0) == last
                assert sum(map(len, epoch)) + len(left_out(n, epoch)) == n


def test_each_epoch_uses_every_item_once_in_a_new_order():
    one, two = shuffled_epochs(40, 8, seed=0)
    assert sorted(sum(one, [])) == sorted(sum(two, [])) == list(range(40))
    assert one != two
    assert shuffled_epochs(40, 8, seed=0) == [one, two]  # the seed fixes the whole sequence
    assert shuffled_epochs(40, 8, seed=1)[0] != one


def test_left_out_is_the_short_last_batch():
    epoch = shuffled_epochs(10, 4, seed=0, epochs=1, drop_last=True)[0]
    assert len(epoch) == 2
    kept = sum(epoch, [])
    assert sorted(kept + left_out(10, epoch)) == list(range(10))
    assert len(left_out(10, epoch)) == 2
    assert left_out(10, shuffled_epochs(10, 4, seed=0, epochs=1)[0]) == []
