"""One plain-SGD step by hand, θ − α·g, against torch.optim.SGD; the model handed in keeps its weights."""
import pytest
import torch

from core import data as D
from core.models import MLP
from core.sgd_step import sgd_step


def test_the_hand_step_is_what_torch_sgd_does(splits):
    data = D.to_tensors(splits.train, limit=64)
    model = MLP()
    kept = [p.detach().clone() for p in model.parameters()]
    step = sgd_step(model, data.x, data.y, lr=0.5)
    assert step["name"] == "fc1.weight" and step["batch"] == 64 and step["lr"] == 0.5
    assert step["before"] == model.fc1.weight.flatten()[:4].tolist()
    assert step["by_hand"] == pytest.approx([b - 0.5 * g for b, g in zip(step["before"], step["grad"])], abs=1e-6)
    assert any(g != 0 for g in step["grad"]) and step["sgd"] != step["before"]
    assert step["largest_difference"] < 1e-6
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), kept))  # a copy took the step
