"""How the model reads one digit: its ten probabilities, and which pixels pushed its answer."""
import altair as alt
import numpy as np
import pandas as pd
import torch

from ui.pictures import signed, tile
from ui.session import tr

BACKGROUND = 0.35  # mid-grey between feature maps and after a layer's last unit: no unit there


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


def activation_picture(h: torch.Tensor, signed_values: bool = False) -> np.ndarray:
    """One hidden layer's outputs as a picture, black = 0. Grey, brighter = larger (ReLU, sigmoid:
    never negative), or with `signed_values` (tanh, no activation function) red = positive and
    blue = negative. Units as a grid of 8, 16 or 32 columns, its last row filled out in mid-grey;
    a CNN's feature maps side by side."""
    scale = max(h.abs().max().item(), 1e-12)
    if signed_values:
        picture = signed(h, under=0.0, scale=scale)
    else:
        picture = np.repeat((h / scale).numpy()[..., None], 3, axis=-1)
    if h.dim() == 1:  # (units, 3) → (rows, columns, 3)
        columns = 8 if len(h) <= 64 else 16 if len(h) <= 256 else 32
        grid = np.full((-(-len(h) // columns) * columns, 3), BACKGROUND)
        grid[:len(h)] = picture
        return grid.reshape(-1, columns, 3)
    return tile(list(picture), columns=8, gap=1, background=BACKGROUND)  # (C, H, W, 3) → C pictures
