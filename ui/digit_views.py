"""How the model reads one digit: its ten probabilities, and which pixels pushed its answer."""
import altair as alt
import numpy as np
import pandas as pd
import torch

from ui.pictures import signed
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
