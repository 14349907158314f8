"""Altair charts of the Training Lab: loss (per step and per epoch) and accuracy, one or many runs."""
import math
from dataclasses import dataclass

import altair as alt
import pandas as pd

from core.history import overfitting_epochs
from core.jobs import Snapshot
from ui.session import tr

MAX_STEP_POINTS = 2000  # per run: more points than pixels only slow the browser down
LOSS_FLOOR = 1e-4  # the loss axis is logarithmic: keep zero losses on it


@dataclass(frozen=True)
class Curve:
    """One run as the charts draw it."""

    label: str  # legend entry
    snap: Snapshot


def _step_frame(curve: Curve) -> pd.DataFrame:
    """Per-step losses at x = epochs done (step / steps per epoch), thinned by averaging."""
    losses, per_epoch = curve.snap.losses, max(curve.snap.steps_per_epoch, 1)
    finite = [(i + 1, v) for i, v in enumerate(losses) if math.isfinite(v)]
    stride = max(1, math.ceil(len(finite) / MAX_STEP_POINTS))
    rows = []
    for k in range(0, len(finite), stride):
        chunk = finite[k:k + stride]
        step = chunk[-1][0]
        rows.append({"run": curve.label, "epoch": step / per_epoch, "step": step,
                     "loss": max(sum(v for _, v in chunk) / len(chunk), LOSS_FLOOR)})
    return pd.DataFrame(rows, columns=["run", "epoch", "step", "loss"])


def _epoch_frame(curves: list[Curve]) -> pd.DataFrame:
    rows = []
    for c in curves:
        for e in c.snap.epochs:
            for series, loss, acc in (("train", e.train_loss, e.train_acc), ("val", e.val_loss, e.val_acc)):
                rows.append({"run": c.label, "series": tr(f"lab.series_{series}"), "epoch": e.epoch,
                             "loss": max(loss, LOSS_FLOOR), "accuracy": acc})
    return pd.DataFrame(rows, columns=["run", "series", "epoch", "loss", "accuracy"])


def _tooltip(*fields):
    return [alt.Tooltip(f, title=tr(f"lab.axis_{f.split(':')[0]}"), format=fmt) if fmt else
            alt.Tooltip(f, title=tr(f"lab.axis_{f.split(':')[0]}"))
            for f, fmt in fields]


def loss_chart(curves: list[Curve]) -> alt.LayerChart:
    """Light per-step loss, per-epoch training and validation loss on top, overfitting and divergence marked."""
    color = alt.Color("run:N", title=tr("lab.axis_run"), legend=alt.Legend(orient="bottom", columns=1))
    x = alt.X("epoch:Q", title=tr("lab.axis_epoch"), scale=alt.Scale(domainMin=0))
    y_scale = alt.Scale(type="log")
    steps = pd.concat([_step_frame(c) for c in curves]) if curves else pd.DataFrame()
    layers = [alt.Chart(steps).mark_line(opacity=0.3, strokeWidth=1).encode(
        x=x, y=alt.Y("loss:Q", title=tr("lab.axis_loss"), scale=y_scale), color=color,
        tooltip=_tooltip(("step:Q", None), ("loss:Q", ".4f")))]
    epochs = _epoch_frame(curves)
    dash = alt.StrokeDash("series:N", title=tr("lab.axis_series"))
    base = alt.Chart(epochs).encode(x=x, y=alt.Y("loss:Q", scale=y_scale), color=color, strokeDash=dash)
    layers += [base.mark_line(strokeWidth=2.5),
               base.mark_point(filled=True, size=70).encode(
                   tooltip=_tooltip(("run:N", None), ("series:N", None), ("epoch:Q", None), ("loss:Q", ".4f"),
                                    ("accuracy:Q", ".2%")))]
    marks = _marks(curves)
    if len(marks):
        overfit = marks[marks.kind == "overfit"]
        layers.append(alt.Chart(overfit).mark_rect(color="#f58518", opacity=0.15).encode(
            x="start:Q", x2="end:Q", tooltip=alt.Tooltip("text:N", title="")))
        diverged = marks[marks.kind == "diverged"]
        layers.append(alt.Chart(diverged).mark_rule(color="#d62728", strokeWidth=2).encode(
            x="start:Q", tooltip=alt.Tooltip("text:N", title="")))
        layers.append(alt.Chart(diverged).mark_text(color="#d62728", align="left", dx=4, dy=-6, fontWeight="bold")
                      .encode(x="start:Q", y=alt.value(12), text="text:N"))
    return alt.layer(*layers).properties(height=360).interactive(bind_y=False)


def _marks(curves: list[Curve]) -> pd.DataFrame:
    """Shaded overfitting epochs and the step where a run diverged."""
    rows = []
    for c in curves:
        for epoch in overfitting_epochs(c.snap.epochs):
            rows.append({"kind": "overfit", "start": epoch - 1, "end": epoch, "text": tr("lab.overfit_mark")})
        if c.snap.diverged_step:
            rows.append({"kind": "diverged", "start": c.snap.diverged_step / max(c.snap.steps_per_epoch, 1),
                         "end": None, "text": tr("lab.diverged_mark", step=c.snap.diverged_step)})
    return pd.DataFrame(rows, columns=["kind", "start", "end", "text"])


def accuracy_chart(curves: list[Curve]) -> alt.LayerChart:
    """Validation (solid) and training (dashed) accuracy per epoch."""
    epochs = _epoch_frame(curves)
    base = alt.Chart(epochs).encode(
        x=alt.X("epoch:Q", title=tr("lab.axis_epoch"), scale=alt.Scale(domainMin=0)),
        y=alt.Y("accuracy:Q", title=tr("lab.axis_accuracy"), axis=alt.Axis(format="%"), scale=alt.Scale(zero=False)),
        color=alt.Color("run:N", title=tr("lab.axis_run"), legend=None),
        strokeDash=alt.StrokeDash("series:N", title=tr("lab.axis_series")))
    points = base.mark_point(filled=True, size=70).encode(
        tooltip=_tooltip(("run:N", None), ("series:N", None), ("epoch:Q", None), ("accuracy:Q", ".2%"),
                         ("loss:Q", ".4f")))
    return alt.layer(base.mark_line(strokeWidth=2.5), points).properties(height=260)
