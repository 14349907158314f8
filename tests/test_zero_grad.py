"""Forgetting optimizer.zero_grad(): the same first steps with and without it."""
import torch

from core import data as D
from core.train import TrainConfig
from core.zero_grad import compare


def test_forgotten_gradients_grow_step_by_step_beside_a_normal_run(splits):
    data = D.to_tensors(splits.train, limit=1000)
    rng = torch.get_rng_state()
    curves = compare(TrainConfig(optimizer="sgd", learning_rate=0.01, dropout=0.2, device="cpu"), data, steps=20)
    assert torch.equal(torch.get_rng_state(), rng)  # the caller's random numbers are untouched
    normal, forgotten = curves["zero_grad"], curves["forgotten"]
    assert len(normal["grad_norm"]) == len(forgotten["loss"]) == 20
    assert normal["loss"][0] == forgotten["loss"][0] and normal["grad_norm"][0] == forgotten["grad_norm"][0]
    assert forgotten["grad_norm"][-1] > 5 * forgotten["grad_norm"][0]
    assert normal["grad_norm"][-1] < 2 * normal["grad_norm"][0]
