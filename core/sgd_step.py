"""One step of plain SGD by hand, θ ← θ − α·g, checked against what torch.optim.SGD's step does.

g is the gradient of the minibatch's mean loss, (1/|B|)·Σᵢ∇Lᵢ(θ). Everything happens on a copy:
the model handed in keeps its weights.
"""
import copy

import torch
import torch.nn.functional as F
from torch import nn

SHOWN = 4  # weights of the first layer shown before, as gradient and after


def sgd_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, shown: int = SHOWN) -> dict:
    """One plain-SGD step with learning rate `lr` on the minibatch (x, y), on a copy of `model` in training
    mode. Returns plain values: the first `shown` weights of the first parameter (`name`) as θ before,
    their gradient g, θ − α·g computed here and the value torch.optim.SGD's step left; the minibatch's
    size and loss; and `largest_difference`, the largest |θ − α·g − SGD's result| over every parameter."""
    model = copy.deepcopy(model).train()
    x, y = x.to(next(model.parameters()).device), y.to(next(model.parameters()).device)
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)  # the mean over the minibatch: (1/|B|)·Σᵢ Lᵢ
    loss.backward()
    names, params = zip(*[(n, p) for n, p in model.named_parameters() if p.grad is not None])
    with torch.no_grad():
        by_hand = [p - lr * p.grad for p in params]  # θ − α·g
        before = params[0].flatten()[:shown].tolist()
        grad = params[0].grad.flatten()[:shown].tolist()
    torch.optim.SGD(params, lr=lr).step()
    largest = max((p.detach() - want).abs().max().item() for p, want in zip(params, by_hand))
    return {"name": names[0], "lr": lr, "batch": len(y), "loss": loss.item(), "before": before, "grad": grad,
            "by_hand": by_hand[0].flatten()[:shown].tolist(), "sgd": params[0].detach().flatten()[:shown].tolist(),
            "largest_difference": largest}
