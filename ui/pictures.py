"""Small pictures built from tensors: enlarged pixels, and signed values as red / blue."""
import numpy as np
import torch

RED, BLUE = np.array([0.9, 0.1, 0.1]), np.array([0.15, 0.35, 1.0])  # positive, negative
# a frame: read right / wrong. Okabe–Ito blue and orange, not green and red: told apart with any
# colour vision (green and red look alike to about 1 in 12 men) and on a washed-out projector
RIGHT, WRONG = np.array([0, 114, 178]) / 255, np.array([230, 159, 0]) / 255


def enlarge(picture: np.ndarray, cell: int = 10) -> np.ndarray:
    """(H, W[, 3]) → (H·cell, W·cell[, 3]): every pixel a cell×cell square, crisp on screen."""
    return picture.repeat(cell, 0).repeat(cell, 1)


def framed(digit: np.ndarray, right: bool, border: int = 3) -> np.ndarray:
    """A (28, 28) uint8 digit in grey inside a blue (right) or orange (wrong) frame: (34, 34, 3) in [0, 1]."""
    picture = np.empty((28 + 2 * border, 28 + 2 * border, 3))
    picture[:] = RIGHT if right else WRONG
    picture[border:-border, border:-border] = digit[..., None] / 255
    return picture


def signed(values: torch.Tensor, under: np.ndarray | float, scale: float | None = None) -> np.ndarray:
    """(H, W) values → (H, W, 3) in [0, 1]: red where positive, blue where negative, the more opaque
    the larger |value| / `scale` (default: the largest |value|), over the picture `under`:
    (H, W, 1), (H, W, 3) or 1.0 for white."""
    scale = scale or max(values.abs().max().item(), 1e-12)
    s = (values / scale).clamp(-1, 1).numpy()[..., None]  # (H, W, 1) in −1…1
    return under * (1 - np.abs(s)) + np.where(s > 0, RED, BLUE) * np.abs(s)


def tile(pictures: list[np.ndarray], columns: int, gap: int = 1, background: float = 1.0) -> np.ndarray:
    """Equal-sized (H, W, 3) pictures in a grid, `columns` wide, `gap` pixels of `background` between."""
    h, w = pictures[0].shape[:2]
    rows = -(-len(pictures) // columns)
    grid = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, 3), background)
    for i, p in enumerate(pictures):
        r, c = divmod(i, columns)
        grid[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = p
    return grid
