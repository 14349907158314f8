"""④ the model: the lesson's MLP (784→128→64→10, ReLU; other hidden layers and activations) and a small CNN."""
import torch
from torch import nn

from core.i18n import LessonError

MODEL_NAMES = ("mlp", "cnn")
LESSON_HIDDEN = (128, 64)  # the lesson's hidden layers' widths
MAX_HIDDEN_LAYERS, MAX_WIDTH = 4, 1024


def _identity(h: torch.Tensor) -> torch.Tensor:
    return h


# the activation functions an MLP may put after each hidden layer ("none": the layers stay linear)
ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "none": _identity}


def parse_hidden(text: str) -> tuple[int, ...]:
    """"128,64" → (128, 64); "" or "0" → () (no hidden layer). ValueError for anything not whole numbers."""
    text = text.strip()
    return () if text in ("", "0") else tuple(int(part) for part in text.split(","))


def hidden_text(hidden: tuple[int, ...]) -> str:
    """(128, 64) → "128,64"; () → "0": what --hidden and the Lab's URL take."""
    return ",".join(map(str, hidden)) or "0"


def layer_widths(hidden: tuple[int, ...]) -> list[int]:
    """[784, *hidden, 10]: the widths an MLP's signal passes through, input to output."""
    return [28 * 28, *hidden, 10]


def shape_text(hidden: tuple[int, ...]) -> str:
    """"784 → 128 → 64 → 10": the widths an MLP's signal passes through."""
    return " → ".join(map(str, layer_widths(hidden)))


class MLP(nn.Module):
    """The lesson's network: 784 inputs → 128 → 64 → 10 logits, ReLU between; other `hidden` widths
    (0 to 4 layers) and activation functions give other stacks of Linear layers.

    Layer i is `fc{i}` (the output layer the last), the lesson's names, so that its checkpoints load.
    `dropout` (0 = none) follows each hidden layer's activation; `batchnorm` puts a BatchNorm1d
    (`bn{i}`) between each hidden Linear and its activation. The lesson's shape with both off has
    exactly 109,386 parameters.
    """

    def __init__(self, dropout: float = 0.0, batchnorm: bool = False, hidden: tuple[int, ...] = LESSON_HIDDEN,
                 activation: str = "relu"):
        super().__init__()
        self.hidden_sizes, self.activation = tuple(hidden), activation
        widths = layer_widths(self.hidden_sizes)
        for i, (n_in, n_out) in enumerate(zip(widths, widths[1:]), start=1):  # created in this order: the
            self.add_module(f"fc{i}", nn.Linear(n_in, n_out))  # seed gives the lesson's initial weights
            if i < len(widths) - 1:
                self.add_module(f"bn{i}", nn.BatchNorm1d(n_out) if batchnorm else nn.Identity())
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def hidden(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each hidden layer's output after its activation, (N, width) each: what the network computes
        inside ([] for a network without hidden layers)."""
        h, outputs = x.view(-1, 28 * 28), []  # (N, 1, 28, 28) → (N, 784)
        activate = ACTIVATIONS[self.activation]
        for i in range(1, len(self.hidden_sizes) + 1):
            fc, bn = getattr(self, f"fc{i}"), getattr(self, f"bn{i}")
            h = activate(bn(fc(self.dropout(h) if outputs else h)))
            outputs.append(h)
        return outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs = self.hidden(x)
        last = getattr(self, f"fc{len(self.hidden_sizes) + 1}")  # the output layer
        # (N, 10) logits; the loss applies softmax
        return last(self.dropout(outputs[-1]) if outputs else x.view(-1, 28 * 28))


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


def build_model(name: str = "mlp", dropout: float = 0.0, batchnorm: bool = False,
                hidden: tuple[int, ...] = LESSON_HIDDEN, activation: str = "relu") -> nn.Module:
    """The model `name`; `hidden` and `activation` shape the MLP (the CNN has its own fixed layers)."""
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODEL_NAMES)}")
    if name == "cnn":
        return CNN(dropout=dropout, batchnorm=batchnorm)
    return MLP(dropout=dropout, batchnorm=batchnorm, hidden=hidden, activation=activation)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def parameter_count(name: str, batchnorm: bool, hidden: tuple[int, ...]) -> int:
    """The parameters such a model has, counted without making its weights (on the meta device: no
    memory used, no random numbers drawn)."""
    with torch.device("meta"):
        return count_parameters(build_model(name, 0.0, batchnorm, hidden))


@torch.no_grad()
def fold_linear(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """An MLP without activation function as the one linear layer it is: W (10, 784) and b (10,), in
    float64 on the CPU, with model(x) = x.flatten(1) @ W.T + b in evaluation mode. There dropout is
    off and each BatchNorm multiplies and shifts every unit by fixed numbers (its running statistics),
    so every layer is linear (plus a bias) and their composition is one.

    Refuses (LessonError "fold_nonlinear") a network with a nonlinearity between its layers.
    """
    if not isinstance(model, MLP) or (model.hidden_sizes and model.activation != "none"):
        raise LessonError("fold_nonlinear")
    weight = torch.eye(28 * 28, dtype=torch.float64)
    bias = torch.zeros(28 * 28, dtype=torch.float64)
    for i in range(1, len(model.hidden_sizes) + 2):
        fc, bn = getattr(model, f"fc{i}"), getattr(model, f"bn{i}", None)  # the output layer has no bn
        w = fc.weight.cpu().double()
        weight, bias = w @ weight, w @ bias + fc.bias.cpu().double()
        if isinstance(bn, nn.BatchNorm1d):  # γ (x − μ) / √(σ² + ε) + β, per unit
            scale = bn.weight.cpu().double() / torch.sqrt(bn.running_var.cpu().double() + bn.eps)
            weight = scale[:, None] * weight
            bias = scale * (bias - bn.running_mean.cpu().double()) + bn.bias.cpu().double()
    return weight, bias


def first_layer_filters(model: nn.Module) -> torch.Tensor:
    """What each unit of the first layer looks for, as pictures (a copy on the CPU): the MLP's fc1
    rows laid out as the 28×28 image they multiply (without hidden layers fc1 is the output layer:
    one picture per digit), the CNN's 3×3 conv1 kernels."""
    if isinstance(model, MLP):
        return model.fc1.weight.detach().cpu().clone().view(-1, 28, 28)  # (128, 784) → (128, 28, 28)
    return model.conv1.weight.detach().cpu().clone()[:, 0]  # (16, 1, 3, 3) → (16, 3, 3)


@torch.no_grad()
def first_layer_activity(model: nn.Module, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """(units,) how often each first-layer unit's ReLU fires (output > 0) on the inputs x (N, 1, 28, 28):
    for an MLP unit, the share of the digits; for a CNN filter, the share of (digit, position) pairs.
    0 marks a "dead" unit: it never fires, so no gradient reaches its weights and they stop learning.
    Pass a model in evaluation mode, with a hidden layer. In batches: a CNN's (N, 16, 28, 28) maps would be large."""
    if isinstance(model, MLP) and not model.hidden_sizes:
        raise ValueError("without hidden layers the first layer is the output layer: it has no units that fire")
    fired = 0
    for chunk in x.split(batch_size):
        h = model.hidden(chunk)[0]  # MLP (n, 128); CNN (n, 16, 28, 28)
        fired = fired + (h > 0).sum(dim=[d for d in range(h.dim()) if d != 1])
    positions = 1 if isinstance(model, MLP) else 28 * 28
    return (fired / (len(x) * positions)).float().cpu()
