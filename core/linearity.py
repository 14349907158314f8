"""The lesson's claim "without a nonlinearity, stacked layers are one linear layer", measured.

A trained MLP without activation function is folded (core.models.fold_linear) into one 784 → 10
matrix and bias; on a split, the folded map's logits are compared with the network's. And a
learner's runs are sorted into the three kinds the claim compares: one linear layer, a stack of
linear layers, a stack with ReLU between.
"""
from dataclasses import dataclass

import torch
from torch import nn

from core import data as D
from core.digits import for_inference
from core.models import fold_linear
from core.train import EVAL_BATCH, TrainConfig, split_batches

KINDS = ("no_hidden", "linear_stack", "relu_stack")  # what the claim compares, simplest first


@dataclass(frozen=True)
class FoldCheck:
    max_difference: float  # the largest |network logit − folded logit| over the split
    network_accuracy: float
    folded_accuracy: float
    samples: int
    batchnorm: bool  # BatchNorm layers (in evaluation mode: a fixed scale and shift per unit) folded in too


@torch.no_grad()
def fold_check(model: nn.Module, split: D.TensorSplit, batch_size: int = EVAL_BATCH) -> FoldCheck:
    """Fold `model` into one linear layer and compare both on `split`, in evaluation mode. Raises
    LessonError "fold_nonlinear" for a network with a nonlinearity between its layers."""
    weight, bias = fold_linear(model)  # (10, 784), (10,) float64 on the CPU
    model = for_inference(model)
    largest, right_net, right_folded = 0.0, 0, 0
    for x, y in split_batches(split, batch_size):
        logits = model(x).cpu().double()  # (n, 10)
        folded = x.flatten(1).cpu().double() @ weight.T + bias  # (n, 784) @ (784, 10)
        y = y.cpu()
        largest = max(largest, (logits - folded).abs().max().item())
        right_net += int((logits.argmax(1) == y).sum())
        right_folded += int((folded.argmax(1) == y).sum())
    n = len(split)
    return FoldCheck(largest, right_net / n, right_folded / n, n,
                     any(isinstance(m, nn.BatchNorm1d) for m in model.modules()))


def model_kind(config: TrainConfig) -> str | None:
    """Which of KINDS a run's model is: no hidden layer (one linear layer), hidden layers without
    activation function, hidden layers with ReLU; None for anything else (tanh, sigmoid, the CNN)."""
    if config.model != "mlp":
        return None
    if not config.hidden:
        return "no_hidden"
    return {"none": "linear_stack", "relu": "relu_stack"}.get(config.activation)


def newest_of_each_kind(runs: list[tuple[str, TrainConfig, float]]) -> dict[str, tuple[str, TrainConfig, float]]:
    """From runs (name, config, validation accuracy), oldest first: the newest of each kind that has one."""
    found = {}
    for run in runs:
        kind = model_kind(run[1])
        if kind is not None:
            found[kind] = run
    return {kind: found[kind] for kind in KINDS if kind in found}
