"""Epochs of minibatches as plain lists of item numbers, for showing them: the engine's own shuffle.

Nothing here decides how batches are cut: `core.data.epoch_indices` does, exactly as training
uses it. This file only draws several epochs the way `core.train.Trainer` does (one generator,
seeded once, drawn again at the start of every epoch), says which items an epoch left out, and
where each digit's minibatches begin when the samples are sorted by digit; and a run's first
minibatches, for the Lab's experiments that retrace its first steps.
"""
import torch

from core.data import batch_plan, epoch_indices, fixed_order


def batch_epochs(n: int, batch_size: int, seed: int, epochs: int = 2, drop_last: bool = False,
                 order: torch.Tensor | None = None) -> list[list[list[int]]]:
    """`epochs` epochs of minibatches of items 0…n-1: epochs[e][i] holds iteration i's items.

    One generator for all epochs, as in training: the second epoch continues the random stream,
    so it is shuffled differently, yet the whole sequence is fixed by `seed`. With `order` (the
    Trainer's `core.data.fixed_order`) every epoch takes the items in that order instead.
    """
    generator = torch.Generator().manual_seed(seed)
    return [[batch.tolist() for batch in epoch_indices(n, batch_size, generator, drop_last, order)]
            for _ in range(epochs)]


def run_batches(config, labels: torch.Tensor, steps: int) -> list[torch.Tensor]:
    """The index tensors of the first `steps` minibatches a run with `config` (a TrainConfig) trains
    on, epoch after epoch, over the training samples whose labels are `labels`: its seed, its order."""
    generator = torch.Generator().manual_seed(config.seed)
    order = fixed_order(config.order, labels, config.seed)
    batches = []
    while len(batches) < steps:
        epoch = epoch_indices(len(labels), config.minibatch(len(labels)), generator, config.drop_last, order)
        if not epoch:
            raise ValueError("no minibatch: fewer samples than one batch with drop_last")
        batches += epoch
    return batches[:steps]


def left_out(n: int, batches: list[list[int]]) -> list[int]:
    """The items no minibatch of this epoch holds (drop_last drops the short last batch), in order."""
    used = {item for batch in batches for item in batch}
    return [item for item in range(n) if item not in used]


def digit_starts(labels: torch.Tensor, batch_size: int, drop_last: bool = False) -> list[tuple[int, int]]:
    """(step, digit) for every digit an epoch sorted by digit (order "sorted": all 0s, then all 1s…)
    trains on: the step (1-based, within the epoch) of the first minibatch that holds that digit.
    Where the digit changes the per-step loss jumps up: the model meets a digit it has unlearned."""
    iterations, _ = batch_plan(len(labels), batch_size, drop_last)
    digits, counts = torch.unique_consecutive(labels.sort().values, return_counts=True)
    firsts = counts.cumsum(0) - counts  # (digits,) where each digit's block begins
    return [(int(first) // batch_size + 1, int(digit)) for digit, first in zip(digits, firsts)
            if first // batch_size < iterations]  # drop_last may drop the last digit's only batch
