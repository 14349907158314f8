"""Epochs of minibatches as plain lists of item numbers, for showing them: the engine's own shuffle.

Nothing here decides how batches are cut: `core.data.epoch_indices` does, exactly as training
uses it. This file only draws several epochs the way `core.train.Trainer` does (one generator,
seeded once, drawn again at the start of every epoch) and says which items an epoch left out.
"""
import torch

from core.data import epoch_indices


def shuffled_epochs(n: int, batch_size: int, seed: int, epochs: int = 2,
                    drop_last: bool = False) -> list[list[list[int]]]:
    """`epochs` epochs of minibatches of items 0…n-1: epochs[e][i] holds iteration i's items.

    One generator for all epochs, as in training: the second epoch continues the random stream,
    so it is shuffled differently, yet the whole sequence is fixed by `seed`.
    """
    generator = torch.Generator().manual_seed(seed)
    return [[batch.tolist() for batch in epoch_indices(n, batch_size, generator, drop_last)]
            for _ in range(epochs)]


def left_out(n: int, batches: list[list[int]]) -> list[int]:
    """The items no minibatch of this epoch holds (drop_last drops the short last batch), in order."""
    used = {item for batch in batches for item in batch}
    return [item for item in range(n) if item not in used]
