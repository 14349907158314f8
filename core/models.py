"""④ the model: the lesson's MLP (784→128→64→10, ReLU) and a small CNN."""
import torch
from torch import nn

MODEL_NAMES = ("mlp", "cnn")


class MLP(nn.Module):
    """The lesson's network: 784 inputs → 128 → 64 → 10 logits, ReLU between.

    `dropout` (0 = none) follows each hidden ReLU; `batchnorm` puts a BatchNorm1d between each
    hidden Linear and its ReLU. With both off it has exactly the lesson's 109,386 parameters.
    """

    def __init__(self, dropout: float = 0.0, batchnorm: bool = False):
        super().__init__()
        self.fc1 = nn.Linear(28 * 28, 128)
        self.bn1 = nn.BatchNorm1d(128) if batchnorm else nn.Identity()
        self.fc2 = nn.Linear(128, 64)
        self.bn2 = nn.BatchNorm1d(64) if batchnorm else nn.Identity()
        self.fc3 = nn.Linear(64, 10)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The hidden layers' ReLU outputs, (N, 128) and (N, 64): what the network computes inside."""
        h1 = torch.relu(self.bn1(self.fc1(x.view(-1, 28 * 28))))  # (N, 1, 28, 28) → (N, 784) → (N, 128)
        h2 = torch.relu(self.bn2(self.fc2(self.dropout(h1))))
        return [h1, h2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc3(self.dropout(self.hidden(x)[-1]))  # (N, 10) logits; the loss applies softmax


class CNN(nn.Module):
    """A small convolutional network: two 3×3 conv + ReLU + 2×2 max-pool blocks, then one Linear."""

    def __init__(self, dropout: float = 0.0, batchnorm: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16) if batchnorm else nn.Identity()
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(32) if batchnorm else nn.Identity()
        self.pool = nn.MaxPool2d(2)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.fc = nn.Linear(32 * 7 * 7, 10)

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The conv blocks' ReLU feature maps before pooling, (N, 16, 28, 28) and (N, 32, 14, 14)."""
        h1 = torch.relu(self.bn1(self.conv1(x)))
        h2 = torch.relu(self.bn2(self.conv2(self.pool(h1))))
        return [h1, h2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.pool(self.hidden(x)[-1]).flatten(1)))  # (N, 32, 7, 7) → (N, 10)


def build_model(name: str = "mlp", dropout: float = 0.0, batchnorm: bool = False) -> nn.Module:
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODEL_NAMES)}")
    return (MLP if name == "mlp" else CNN)(dropout=dropout, batchnorm=batchnorm)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())



def first_layer_filters(model: nn.Module) -> torch.Tensor:
    """What each unit of the first layer looks for, as pictures (a copy on the CPU): the MLP's fc1
    rows laid out as the 28×28 image they multiply, the CNN's 3×3 conv1 kernels."""
    if isinstance(model, MLP):
        return model.fc1.weight.detach().cpu().clone().view(-1, 28, 28)  # (128, 784) → (128, 28, 28)
    return model.conv1.weight.detach().cpu().clone()[:, 0]  # (16, 1, 3, 3) → (16, 3, 3)


@torch.no_grad()
def first_layer_activity(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """(units,) how often each first-layer unit's ReLU fires (output > 0) on the inputs x (N, 1, 28, 28):
    for an MLP unit, the share of the digits; for a CNN filter, the share of (digit, position) pairs.
    0 marks a "dead" unit: it never fires, so no gradient reaches its weights and they stop learning.
    Pass a model in evaluation mode. In batches: a CNN's (N, 16, 28, 28) maps would be large."""
    fired = 0
    for chunk in x.split(batch_size):
        h = model.hidden(chunk)[0]  # MLP (n, 128); CNN (n, 16, 28, 28)
        fired = fired + (h > 0).sum(dim=[d for d in range(h.dim()) if d != 1])
    positions = 1 if isinstance(model, MLP) else 28 * 28
    return (fired / (len(x) * positions)).float().cpu()
