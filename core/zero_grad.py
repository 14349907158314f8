"""Forgetting `optimizer.zero_grad()`: the same first steps of a run with and without it, side by side.

`loss.backward()` adds each minibatch's gradient to what `.grad` already holds; `zero_grad()` clears
it first. Forgotten, step k updates with g₁ + g₂ + … + g_k: the gradient norm ‖g‖ grows step by
step and so does every update.
"""
import copy

import torch

from core import data as D
from core.batching import run_batches
from core.train import TrainConfig, diverged, init_model, make_optimizer, train_step

STEPS = 30  # enough steps for the forgotten run's gradient norm to grow several times the normal one's
RUNS = ("zero_grad", "forgotten")  # optimizer.zero_grad() called before each backward, or never


def grad_norm(model: torch.nn.Module) -> float:
    """‖g‖: the Euclidean norm of every parameter's .grad taken together."""
    return torch.sqrt(sum(p.grad.pow(2).sum() for p in model.parameters() if p.grad is not None)).item()


def compare(config: TrainConfig, data: D.TensorSplit, steps: int = STEPS) -> dict[str, dict[str, list[float]]]:
    """From `config`'s initial weights and on the same minibatches of `data` (the training samples it
    uses), `steps` training steps with optimizer.zero_grad() and as many without it (on the CPU):
    {"zero_grad": {"grad_norm": [...], "loss": [...]}, "forgotten": {...}}, one value per step; a
    run that diverges ends at that step. Dropout draws the same masks in both runs."""
    config = config.validate()
    batches = run_batches(config, data.y, steps)
    with torch.random.fork_rng(devices=[]):  # init_model seeds the global generator: leave the caller's as it was
        start = init_model(config, torch.device("cpu")).train()
        return {run: _steps(start, config, data, batches, zero_grad=run == "zero_grad") for run in RUNS}


def _steps(start: torch.nn.Module, config: TrainConfig, data: D.TensorSplit, batches: list[torch.Tensor],
           zero_grad: bool) -> dict[str, list[float]]:
    """Train a copy of `start` on `batches`: the gradient norm and the loss of each step, until one diverges."""
    model = copy.deepcopy(start)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.learning_rate, config.weight_decay,
                               config.momentum)
    torch.manual_seed(config.seed)  # dropout's masks: the same in both runs
    norms, losses = [], []
    for idx in batches:
        loss, _ = train_step(model, optimizer, data.x[idx], data.y[idx], zero_grad)
        losses.append(loss)
        if diverged(loss):
            break
        norms.append(grad_norm(model))
    return {"grad_norm": norms, "loss": losses}
