"""A hand-drawn digit as the model reads it: canvas → 28×28 MNIST-style input → prediction.

MNIST's digits were made this way (LeCun et al.): the ink of each digit was scaled to fit a
20×20 box keeping its aspect ratio (anti-aliasing gives the grey levels), then placed in the
28×28 image so that its centre of mass sits at the centre. A drawing on a 280×280 canvas goes
through the same steps, then the training's own `normalize`, so the model sees what it was
trained on. Also here: saliency (which pixels push the top class up or down) and one
optimizer step on the drawing ("teach it this digit").
"""
import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from core import data as D
from core.train import make_optimizer, train_step

SIZE = 28  # MNIST images are 28×28
BOX = 20  # the digit's ink fits a 20×20 box inside them
INK_THRESHOLD = 0.2  # ink (0…1) above this counts as drawn: the bounding box and the blank test


# canvas → 28×28 -------------------------------------------------------------------------------

def ink(image: np.ndarray) -> np.ndarray:
    """How much ink each canvas pixel holds, (H, W) float32 in [0, 1].

    `image` is the canvas's (H, W, 4) uint8 RGBA (also accepted: (H, W, 3) RGB or (H, W) grey).
    Ink is brightness times opacity: white strokes on a black or a transparent background.
    """
    pixels = np.asarray(image, dtype=np.uint8).astype(np.float32) / 255  # (H, W[, C])
    if pixels.ndim == 2:
        return pixels
    brightness = pixels[..., :3].mean(-1)  # (H, W)
    return brightness * pixels[..., 3] if pixels.shape[-1] == 4 else brightness


def is_blank(amount: np.ndarray) -> bool:
    """True when no pixel holds enough ink to count as drawn (an empty or cleared canvas)."""
    return amount.size == 0 or amount.max() <= INK_THRESHOLD


def crop_to_ink(amount: np.ndarray) -> np.ndarray:
    """The bounding box of the drawn pixels, (h, w)."""
    drawn = amount > INK_THRESHOLD
    rows, cols = np.flatnonzero(drawn.any(1)), np.flatnonzero(drawn.any(0))
    return amount[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def fit_box(crop: np.ndarray, box: int = BOX) -> np.ndarray:
    """Scale (h, w) so its longer side is `box` pixels, keeping the aspect ratio; peak ink becomes 1.

    Shrinking averages each output pixel's area of the canvas, which turns a thick pen stroke
    into MNIST's grey-edged 2–3 pixel stroke (and exactly undoes a blocky enlargement); a tiny
    drawing, such as a dot, is enlarged smoothly. Rescaling the peak keeps a thin pen as bright
    as MNIST's ink.
    """
    h, w = crop.shape
    scale = box / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    options = {"mode": "area"} if scale < 1 else {"mode": "bilinear", "align_corners": False}
    resized = F.interpolate(torch.from_numpy(np.ascontiguousarray(crop))[None, None], size=size, **options)
    resized = resized[0, 0].numpy().clip(min=0)
    return resized / resized.max()


def centre_of_mass(patch: np.ndarray) -> tuple[float, float]:
    """(row, column) of the ink's centre of mass, in pixel indices."""
    total = patch.sum()
    return (patch.sum(1) @ np.arange(patch.shape[0]) / total).item(), \
        (patch.sum(0) @ np.arange(patch.shape[1]) / total).item()


def place_by_mass(patch: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Put the patch in a size×size field with its centre of mass on pixel (14, 14), never outside.

    MNIST's digits have their centre of mass within half a pixel of index 14 on both axes.
    """
    h, w = patch.shape
    row, col = centre_of_mass(patch)
    top = min(max(round(size // 2 - row), 0), size - h)
    left = min(max(round(size // 2 - col), 0), size - w)
    field = np.zeros((size, size), dtype=np.float32)
    field[top:top + h, left:left + w] = patch
    return field


def to_mnist(image: np.ndarray | None) -> torch.Tensor | None:
    """A canvas drawing as an MNIST digit: (28, 28) uint8, white on black; None when blank.

    NumPy, not torch, for the steps on the whole canvas: tiny single-threaded operations stay
    fast on a busy CPU, where torch's thread pool would wait for free cores at every step.
    """
    if image is None:  # the canvas sends no image before the first stroke
        return None
    amount = ink(image)
    if is_blank(amount):
        return None
    digit = place_by_mass(fit_box(crop_to_ink(amount)))  # (28, 28) in [0, 1]
    return torch.from_numpy((digit * 255).round().astype(np.uint8))


def model_input(digit: torch.Tensor) -> torch.Tensor:
    """(28, 28) uint8 → (1, 1, 28, 28) in [-1, 1]: the same normalization as training."""
    return D.normalize(digit[None])


def as_canvas(digit: torch.Tensor, size: int = 280, scale: int = 10, top: int = 0, left: int = 0) -> np.ndarray:
    """The inverse, for tests and benchmarks: an MNIST digit drawn on a size×size RGBA canvas.

    The (28, 28) uint8 digit is enlarged `scale` times (bilinear, smooth as a pen stroke) and put
    at (top, left) on an opaque black canvas; returns (size, size, 4) uint8.
    """
    side = SIZE * scale
    big = np.asarray(Image.fromarray(digit.numpy()).resize((side, side), Image.Resampling.BILINEAR))
    canvas = np.zeros((size, size, 4), dtype=np.uint8)
    canvas[..., 3] = 255
    canvas[top:top + side, left:left + side, :3] = big[..., None]
    return canvas


# reading it -----------------------------------------------------------------------------------

def for_inference(model: nn.Module) -> nn.Module:
    """The model itself when it is in evaluation mode, else an evaluation-mode copy.

    The model is shared with other pages and sessions: never switch its mode in place.
    """
    return copy.deepcopy(model).eval() if model.training else model


def on_device(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return x.to(next(model.parameters()).device)


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The ten class probabilities (10,) for one input (1, 1, 28, 28), on the CPU."""
    model = for_inference(model)
    return F.softmax(model(on_device(model, x)), dim=1)[0].cpu()


@torch.no_grad()
def activations(model: nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """The hidden layers' outputs (after their activation) for one input (1, 1, 28, 28), on the CPU
    without the batch dimension: the MLP's (width,) per hidden layer, e.g. (128,) and (64,), none
    without hidden layers; the CNN's (16, 28, 28) and (32, 14, 14) feature maps."""
    model = for_inference(model)
    return [h[0].cpu() for h in model.hidden(on_device(model, x))]


def saliency(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """∂(top logit)/∂(input pixel), (28, 28) on the CPU.

    Positive: more ink there would raise the top class's score; negative: it would lower it.
    `autograd.grad` asks only for the input's gradient, so the shared weights' .grad stay untouched.
    """
    model = for_inference(model)
    x = on_device(model, x).clone().requires_grad_(True)
    logits = model(x)  # (1, 10)
    top = logits[0, logits[0].argmax()]
    (grad,) = torch.autograd.grad(top, x)
    return grad[0, 0].cpu()


# teaching it ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lesson:
    """One optimizer step on one drawing, on a copy of the model."""

    model: nn.Module  # the taught copy, in evaluation mode
    label: int  # the digit the learner says it is
    before: torch.Tensor  # (10,) probabilities before the step
    after: torch.Tensor  # (10,) probabilities after it
    loss_before: float  # cross-entropy for `label`
    loss_after: float


def teach_step(model: nn.Module, x: torch.Tensor, label: int, optimizer: str, lr: float) -> Lesson:
    """Copy the model, take one `optimizer` step with learning rate `lr` on (x, label), compare.

    The step runs in evaluation mode: with a single example, batch normalization has no batch
    statistics to use and dropout would make "before" and "after" differ by chance.
    """
    taught = copy.deepcopy(model).eval()
    x = on_device(taught, x)
    y = torch.tensor([label], device=x.device)
    before = predict(taught, x)
    loss_before, _ = train_step(taught, make_optimizer(optimizer, taught.parameters(), lr), x, y)
    with torch.no_grad():
        loss_after = F.cross_entropy(taught(x), y).item()
    return Lesson(taught, label, before, predict(taught, x), loss_before, loss_after)
