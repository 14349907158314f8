"""Vega-Lite charts of the Training Lab: loss (per step and per epoch) and accuracy, one or many runs;
which digits a run answers, epoch by epoch.

The live panel redraws every half second while a run trains, for every student on the server.
Building and validating an Altair chart costs ~0.5 s of CPU, so each chart's spec is built once
per language (data by name) and every redraw only fills in its datasets.
"""
import copy
import math
from dataclasses import dataclass
from functools import lru_cache

import altair as alt
import pandas as pd

from core.history import LABEL_SEPARATOR, overfitting_epochs
from core.i18n import t
from core.jobs import Snapshot

OVERFIT_COLOR, DIVERGED_COLOR, DIGIT_COLOR = "#f58518", "#d62728", "#6f6f6f"  # marks on the loss chart, kept off the runs
# one colour per run, in the order the runs are listed, told apart with any colour vision (ΔE ≥ 30
# between runs 1–3 under simulated protan-, deuteran- and tritanopia; Vega's category10 gave
# runs 1 and 3 the same colour for 1 in 12 boys) and from the two marks (Streamlit's default
# would give runs 1 and 2 two blues). Mostly Okabe–Ito and Paul Tol colours.
RUN_COLORS = ["#0072B2", "#882255", "#000000", "#009E73", "#CC79A7", "#8c564b", "#7f7f7f", "#332288"]
EPOCH_PAD = 0.05  # the epoch axis ends this fraction past the last epoch
TALL_LEGEND_LINES = 3  # legend entries naming this many differing settings stand one under another
MAX_STEP_POINTS = 2000  # per run: more points than pixels only slow the browser down
LOSS_FLOOR = 1e-4  # the loss axis is logarithmic: keep zero losses on it
# drawn at the top edge above this (the tooltip keeps the true value): a diverging run's last losses
# (up to 1,000, where the engine stops it) would otherwise stretch the axis over seven decades and
# flatten every other run; guessing uniformly among 10 digits costs ln 10 ≈ 2.3
LOSS_CEILING = 10.0
NAMED_DIGIT_EPOCHS = 5  # sorted by digit: each digit's first step is named on the loss chart up to this many epochs
# on its axis (beyond, a digit's tenth of an epoch is narrower than its name)
SHARE_TEXT_EPOCHS = 12  # the answers' chart writes each share in its cell up to this many epochs


@dataclass(frozen=True)
class Curve:
    """One run as the charts draw it."""

    label: str  # legend entry
    snap: Snapshot
    kept_epoch: int | None = None  # early stopping: the epoch whose weights the run kept
    digit_starts: tuple[tuple[int, int], ...] = ()  # sorted by digit: (step in an epoch, digit), see core.batching


def _tooltip(lang: str, *fields):
    return [alt.Tooltip(f, title=t(f"lab.axis_{f.split(':')[0]}", lang), **({"format": fmt} if fmt else {}))
            for f, fmt in fields]


def run_legend(**options) -> alt.Legend:
    """A legend of runs whose entries are never cut short: an entry names the settings that differ
    ("Run 2 · opt Adam · dropout 0.5"), one per line, side by side (Vega cuts labels at 160 px)."""
    return alt.Legend(labelLimit=0, labelExpr=f"split(datum.label, '{LABEL_SEPARATOR}')", **options)


def run_color(title: str, legend: alt.Legend | None, channel=alt.Color):
    """Colour (or another `channel`, e.g. alt.Fill) = run; runs keep the history's order (sorted
    names would put "Run 10" before "Run 2")."""
    return channel("run:N", title=title, sort=None, scale=alt.Scale(range=RUN_COLORS), legend=legend)


def _hollow_validation(lang: str):
    """Training points filled, validation points hollow, in the run's colour: told apart even where
    no line joins them (after one epoch)."""
    return alt.condition(alt.datum.series == t("lab.series_val", lang), alt.value("white"),
                         run_color(None, None, channel=alt.Fill))


def _series_dash(lang: str) -> alt.StrokeDash:
    """Training solid, validation dashed, in every language (a plain nominal scale would sort the
    names: "検証" comes before "訓練"), with the line styles drawn in the legend. The legend sits above
    the plot: beside it, it took a third of the plot's width on a 1024-px projector (the charts are
    taller by the legend's height instead)."""
    return alt.StrokeDash("series:N", title=t("lab.axis_series", lang),
                          scale=alt.Scale(domain=[t("lab.series_train", lang), t("lab.series_val", lang)],
                                          range=[[1, 0], [6, 4]]),
                          legend=alt.Legend(orient="top", symbolType="stroke", symbolStrokeColor="#4c4c4c",
                                            symbolStrokeWidth=2.5, symbolSize=300))


# a mark's words written up along its vertical line, from the top, just left of it: beside the line they
# needed more room than a 1024-px screen's plot has on either side, and the zoomable plot clips what
# sticks out (a diverged run's words, right of its line at the run's last step, were clipped away)
ALONG_THE_LINE = {"angle": 270, "align": "right", "baseline": "bottom", "dy": -3, "y": 4, "fontWeight": "bold"}
# … but just right of it for a mark at the plot's left edge (a run that diverged at step 4, shown beside a
# 30-epoch run: its words had no room left of the line and were clipped)
RIGHT_OF_THE_LINE = {**ALONG_THE_LINE, "baseline": "top", "dy": 3}
LEFT_EDGE = 0.1  # a mark in this first fraction of the epoch axis has its words right of its line


@lru_cache(maxsize=None)
def _loss_spec(lang: str) -> dict:
    """Light per-step loss, per-epoch training and validation loss on top; overfitting, divergence and the
    epoch early stopping kept marked."""
    # symbolOpacity: the legend would take the faint per-step line's opacity
    color = run_color(t("lab.axis_run", lang), run_legend(orient="bottom", columns=4, symbolOpacity=1))
    x = alt.X("epoch:Q", title=t("lab.axis_epoch", lang), scale=alt.Scale(domainMin=0))
    y_scale = alt.Scale(type="log")
    steps = alt.Chart(alt.Data(name="steps")).mark_line(opacity=0.3, strokeWidth=1).encode(
        x=x, y=alt.Y("shown:Q", title=t("lab.axis_loss", lang), scale=y_scale), color=color,
        tooltip=_tooltip(lang, ("step:Q", None), ("loss:Q", ".4f")))
    base = alt.Chart(alt.Data(name="epochs")).encode(x=x, y=alt.Y("shown:Q", scale=y_scale), color=color)
    # the dash goes on the lines only: a filled point's legend symbol would hide it
    lines = base.mark_line(strokeWidth=2.5).encode(strokeDash=_series_dash(lang))
    points = base.mark_point(size=60, strokeWidth=2, opacity=1).encode(fill=_hollow_validation(lang), tooltip=_tooltip(
        lang, ("run:N", None), ("series:N", None), ("epoch:Q", None), ("loss:Q", ".4f"), ("accuracy:Q", ".2%")))
    overfit = alt.Chart(alt.Data(name="overfit")).mark_rect(color=OVERFIT_COLOR, opacity=0.15).encode(
        x="start:Q", x2="end:Q", tooltip=alt.Tooltip("text:N", title=""))
    diverged = alt.Chart(alt.Data(name="diverged"))
    rule = diverged.mark_rule(color=DIVERGED_COLOR, strokeWidth=2).encode(x="start:Q", tooltip=alt.Tooltip("text:N", title=""))
    labels = [diverged.transform_filter(side).mark_text(color=DIVERGED_COLOR, **place).encode(x="start:Q", text="text:N")
              for side, place in (("!datum.right", ALONG_THE_LINE), ("datum.right", RIGHT_OF_THE_LINE))]
    kept = alt.Chart(alt.Data(name="kept")).encode(x="epoch:Q", color=color)  # dashed, in the run's colour
    kept_rule = kept.mark_rule(strokeWidth=2, strokeDash=[5, 3]).encode(tooltip=alt.Tooltip("text:N", title=""))
    kept_labels = [kept.transform_filter(side).mark_text(**place).encode(text="text:N")
                   for side, place in (("!datum.right", ALONG_THE_LINE), ("datum.right", RIGHT_OF_THE_LINE))]
    digits = alt.Chart(alt.Data(name="digits"))  # sorted by digit: where each digit's minibatches begin
    digit_rules = digits.mark_rule(color=DIGIT_COLOR, strokeDash=[2, 3], opacity=0.7).encode(
        x="start:Q", tooltip=alt.Tooltip("text:N", title=""))
    digit_names = digits.transform_filter("datum.named").mark_text(
        color=DIGIT_COLOR, align="left", baseline="top", dx=2, y=4).encode(x="start:Q", text="digit:N")
    chart = alt.layer(digit_rules, digit_names, steps, lines, points, overfit, rule, *labels, kept_rule, *kept_labels)
    return chart.properties(height=420).interactive(bind_y=False).to_dict()


@lru_cache(maxsize=None)
def _accuracy_spec(lang: str) -> dict:
    """Training (solid) and validation (dashed) accuracy per epoch."""
    base = alt.Chart(alt.Data(name="epochs")).encode(
        x=alt.X("epoch:Q", title=t("lab.axis_epoch", lang), scale=alt.Scale(domainMin=0),
                axis=alt.Axis(tickMinStep=1, format="d")),  # whole epochs: accuracy is measured after each
        y=alt.Y("accuracy:Q", title=t("lab.axis_accuracy", lang), axis=alt.Axis(format="%"),
                scale=alt.Scale(zero=False)),
        color=run_color(t("lab.axis_run", lang), None))
    points = base.mark_point(size=60, strokeWidth=2, opacity=1).encode(fill=_hollow_validation(lang), tooltip=_tooltip(
        lang, ("run:N", None), ("series:N", None), ("epoch:Q", None), ("accuracy:Q", ".2%"), ("loss:Q", ".4f")))
    lines = base.mark_line(strokeWidth=2.5).encode(strokeDash=_series_dash(lang))
    return alt.layer(lines, points).properties(height=320).to_dict()


def _step_frame(curve: Curve) -> pd.DataFrame:
    """Per-step losses at x = epochs done (step / steps per epoch), thinned by averaging."""
    per_epoch = max(curve.snap.steps_per_epoch, 1)
    finite = [(step, v) for step, v in curve.snap.losses if math.isfinite(v)]
    stride = max(1, math.ceil(len(finite) / MAX_STEP_POINTS))
    rows = []
    for k in range(0, len(finite), stride):
        chunk = finite[k:k + stride]
        step = chunk[-1][0]
        loss = sum(v for _, v in chunk) / len(chunk)
        rows.append({"run": curve.label, "epoch": step / per_epoch, "step": step, "loss": loss, "shown": _shown(loss)})
    return pd.DataFrame(rows, columns=["run", "epoch", "step", "loss", "shown"])


def _shown(loss: float) -> float:
    """Where a loss is drawn on the log axis: between LOSS_FLOOR and LOSS_CEILING."""
    return min(max(loss, LOSS_FLOOR), LOSS_CEILING)


def _epoch_frame(curves: list[Curve], lang: str) -> pd.DataFrame:
    rows = []
    for c in curves:
        for e in c.snap.epochs:
            for series, loss, acc in (("train", e.train_loss, e.train_acc), ("val", e.val_loss, e.val_acc)):
                rows.append({"run": c.label, "series": t(f"lab.series_{series}", lang), "epoch": e.epoch,
                             "loss": loss, "shown": _shown(loss), "accuracy": acc})
    return pd.DataFrame(rows, columns=["run", "series", "epoch", "loss", "shown", "accuracy"])


def _digit_marks(curves: list[Curve], lang: str) -> pd.DataFrame:
    """Sorted by digit: a dotted line where each digit's first minibatch begins, every epoch a run has
    trained so far (at x = the step before it, where the loss climbs), its digit named on few epochs."""
    last = max((c.snap.epoch for c in curves), default=0)
    marks = {}
    for c in curves:
        per_epoch = max(c.snap.steps_per_epoch, 1)
        for epoch in range(math.ceil(c.snap.step / per_epoch)):
            for step, digit in c.digit_starts:
                done = epoch * per_epoch + step - 1  # steps before the digit's first
                if done < c.snap.step:
                    marks[done / per_epoch, digit] = {"start": done / per_epoch, "digit": digit,
                                                      "text": t("lab.digit_mark", lang, digit=digit),
                                                      "named": last <= NAMED_DIGIT_EPOCHS}
    return pd.DataFrame(list(marks.values()), columns=["start", "digit", "text", "named"])


def _marks(curves: list[Curve], lang: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(shaded overfitting epochs, the step where a run diverged, the epoch early stopping kept)."""
    last = max((c.snap.epoch for c in curves), default=0)  # the epoch axis ends just past it (see _fill)

    def right(x: float) -> bool:
        return bool(last) and x < LEFT_EDGE * last

    overfit, diverged = [], []
    kept = [{"run": c.label, "epoch": c.kept_epoch, "text": t("lab.kept_mark", lang, epoch=c.kept_epoch),
             "right": right(c.kept_epoch)} for c in curves if c.kept_epoch]
    for c in curves:
        for epoch in overfitting_epochs(c.snap.epochs):
            overfit.append({"start": epoch - 1, "end": epoch, "text": t("lab.overfit_mark", lang)})
        if c.snap.diverged_step:
            start = c.snap.diverged_step / max(c.snap.steps_per_epoch, 1)
            diverged.append({"start": start, "text": t("lab.diverged_mark", lang, step=c.snap.diverged_step),
                             "right": right(start)})
    return (pd.DataFrame(overfit, columns=["start", "end", "text"]),
            pd.DataFrame(diverged, columns=["start", "text", "right"]),
            pd.DataFrame(kept, columns=["run", "epoch", "text", "right"]))


def loss_spec(curves: list[Curve], lang: str) -> dict:
    steps = pd.concat([_step_frame(c) for c in curves]) if curves else _step_frame(Curve("", _EMPTY))
    overfit, diverged, kept = _marks(curves, lang)
    return _fill(_loss_spec(lang), curves, {"steps": steps, "epochs": _epoch_frame(curves, lang), "overfit": overfit,
                                            "diverged": diverged, "kept": kept, "digits": _digit_marks(curves, lang)})


def accuracy_spec(curves: list[Curve], lang: str) -> dict:
    return _fill(_accuracy_spec(lang), curves, {"epochs": _epoch_frame(curves, lang)})


@lru_cache(maxsize=None)
def _answers_spec(lang: str) -> dict:
    """Epochs across, the digits 0–9 down: how often the model answered each digit, darker = more often."""
    share = t("lab.axis_share", lang)
    base = alt.Chart(alt.Data(name="answers")).encode(
        x=alt.X("epoch:O", title=t("lab.axis_epoch", lang), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("digit:O", title=t("lab.axis_answer", lang), axis=alt.Axis(labelAngle=0)))
    cells = base.mark_rect(stroke="white").encode(
        color=alt.Color("share:Q", title=share, scale=alt.Scale(scheme="blues", domain=[0, 1]),
                        legend=alt.Legend(format="%", orient="right")),
        tooltip=[alt.Tooltip("epoch:O", title=t("lab.axis_epoch", lang)),
                 alt.Tooltip("digit:O", title=t("lab.axis_answer", lang)),
                 alt.Tooltip("share:Q", title=share, format=".1%"), alt.Tooltip("count:Q", title=t("lab.axis_count", lang))])
    shares = base.mark_text(fontSize=11).encode(
        text="text:N", color=alt.condition("datum.share > 0.5", alt.value("white"), alt.value("black")))
    return alt.layer(cells, shares).properties(height=alt.Step(22)).to_dict()


def answers_spec(epochs: list[tuple[int, list[int]]], lang: str) -> dict:
    """The answers' chart for (epoch, predicted counts of digits 0–9) pairs."""
    rows = [{"epoch": epoch, "digit": digit, "count": n, "share": n / max(sum(counts), 1),
             "text": f"{n / max(sum(counts), 1):.0%}" if len(epochs) <= SHARE_TEXT_EPOCHS else ""}
            for epoch, counts in epochs for digit, n in enumerate(counts)]
    frame = pd.DataFrame(rows, columns=["epoch", "digit", "count", "share", "text"])
    return {**copy.deepcopy(_answers_spec(lang)), "datasets": {"answers": frame}}


def _fill(spec: dict, curves: list[Curve], datasets: dict) -> dict:
    """A copy of a cached spec with this redraw's data, its epoch axis a little past the last epoch:
    the last epoch's points would otherwise sit half outside the chart (after one epoch, all of them).
    Before the first run the legend of runs, which would be a bare title, is left out."""
    spec = copy.deepcopy(spec)
    last = max((c.snap.epoch for c in curves), default=0)
    # entries naming many differing settings (one line each) side by side ran past a projector's chart
    tall = max((c.label.count(LABEL_SEPARATOR) for c in curves), default=0) >= TALL_LEGEND_LINES
    for layer in spec["layer"]:
        encoding = layer.get("encoding", {})
        if last and "scale" in encoding.get("x", {}):
            encoding["x"]["scale"]["domainMax"] = last * (1 + EPOCH_PAD)
        color = encoding.get("color", {})
        if color.get("field") == "run" and color.get("legend") is not None:
            if not curves:
                color["legend"] = None
            elif tall and "columns" in color["legend"]:
                color["legend"]["columns"] = 1
    return {**spec, "datasets": datasets}


_EMPTY = Snapshot("queued", 0, 0, 0, 0, 0, 0.0, [], [], None, "", None, 0.0)
