"""How the model reads one digit: its ten probabilities, and which pixels pushed its answer."""
import altair as alt
import numpy as np
import pandas as pd
import torch

from ui.pictures import signed, tile
from ui.session import tr


def probability_bars(series: dict[str, torch.Tensor]) -> alt.Chart:
    """The ten probabilities of each named series (10,), side by side per digit."""
    df = pd.DataFrame([{"digit": d, "p": float(p[d]), "series": name} for name, p in series.items() for d in range(10)])
    return alt.Chart(df).mark_bar().encode(
        x=alt.X("digit:O", title=tr("draw.axis_digit"), axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("series:N", sort=list(series)),
        y=alt.Y("p:Q", title=tr("draw.axis_probability"), scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        color=alt.Color("series:N", sort=list(series), title=None, legend=alt.Legend(orient="top") if len(series) > 1 else None),
        tooltip=[alt.Tooltip("series:N", title=" "), alt.Tooltip("digit:O", title=tr("draw.axis_digit")),
                 alt.Tooltip("p:Q", title=tr("draw.axis_probability"), format=".1%")],
    ).properties(height=240)


def saliency_picture(digit: torch.Tensor, grad: torch.Tensor) -> np.ndarray:
    """The digit in dimmed grey under the saliency: red where the gradient is positive (more ink there
    raises the top class), blue where negative. (28, 28) uint8 and (28, 28) → (28, 28, 3) in [0, 1]."""
    return signed(grad, digit.numpy()[..., None] / 255 * 0.6)


def activation_picture(h: torch.Tensor) -> np.ndarray:
    """One hidden layer's ReLU outputs as a grey picture, brighter = larger, black = 0 (cut off by
    the ReLU): 128 or 64 units as a grid of 16 or 8 columns, a CNN's feature maps side by side."""
    grey = (h / max(h.max().item(), 1e-12)).numpy()
    if grey.ndim == 1:  # (units,) → (units / columns, columns)
        return np.repeat(grey.reshape(-1, 16 if grey.size > 64 else 8)[..., None], 3, axis=2)
    maps = [np.repeat(m[..., None], 3, axis=2) for m in grey]  # (C, H, W) → C pictures (H, W, 3)
    return tile(maps, columns=8, gap=1, background=0.35)

