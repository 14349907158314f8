"""Altair charts of SGD gradient noise, shared by the noise page and the Training Lab.

Every builder takes the numbers and the language and returns a chart; none draws it.
"""
import math

import altair as alt
import pandas as pd

from core.i18n import t
from core.noise import NoiseReport
from ui.lab_charts import RUN_COLORS, run_color, run_legend

EPOCH_QUANTITIES = ("trace_sigma", "grad_norm_sq", "b_simple")
LOG_B = alt.Scale(type="log", base=2, padding=12, nice=False)  # 12 px each side: B = 1 and 1,024 are drawn whole
CLOUD_HEIGHT = 540  # pixels, with its axes and legend; as wide as the page allows, up to CLOUD_WIDTH
CLOUD_WIDTH = 640


def _batch_axis(lang: str) -> alt.X:
    return alt.X("batch_size:Q", scale=LOG_B, title=t("noise.axis_batch_size", lang))


def cloud_chart(report: NoiseReport, lang: str) -> alt.LayerChart:
    """Plot 1: each drawn g_B as a point (along G, along u ⊥ G), one colour per batch size, and G as an arrow.

    Both axes share one scale, so a round cloud looks round, whatever width the page gives the plot
    (a phone's or a projector's): the square around the origin, G and 90 % of the points (single-sample
    gradients have a long tail) grows along the plot's longer side. Scroll to zoom, drag to pan, click
    a legend entry to show one batch size alone.
    """
    points = pd.DataFrame([{"batch_size": s.batch_size, "along": a, "across": c}
                           for s in report.sizes for a, c in zip(s.along.tolist(), s.across.tolist())])
    g_norm = math.sqrt(report.scale.grad_norm_sq)
    reach = ((points["along"] - g_norm).abs().combine(points["across"].abs(), max)).quantile(0.9)
    half = 1.1 * max(g_norm / 2 + reach, g_norm)  # half the side of the square
    mid = g_norm / 2
    wide, tall = "max(1, width / height)", "max(1, height / width)"  # Vega's signals: the plot's size
    x_scale = alt.Scale(domain=[{"expr": f"{mid} - {half} * {wide}"}, {"expr": f"{mid} + {half} * {wide}"}],
                        nice=False)
    x = alt.X("along:Q", title=t("noise.axis_along", lang), scale=x_scale)
    y = alt.Y("across:Q", title=t("noise.axis_across", lang), scale=alt.Scale(
        domain=[{"expr": f"-{half} * {tall}"}, {"expr": f"{half} * {tall}"}], nice=False))
    pick = alt.selection_point(fields=["batch_size"], bind="legend")
    cloud = alt.Chart(points).mark_circle(size=30, clip=True).encode(
        x=x, y=y,
        color=alt.Color("batch_size:O", scale=alt.Scale(scheme={"name": "viridis", "extent": [0, 0.85]}),
                        title=t("noise.axis_batch_size", lang),
                        legend=alt.Legend(orient="bottom", columns=6)),  # under the plot: a phone keeps its width
        opacity=alt.condition(pick, alt.value(0.75), alt.value(0.04)),
        tooltip=[alt.Tooltip("batch_size:O", title="B"), alt.Tooltip("along:Q", format=".3g"),
                 alt.Tooltip("across:Q", format=".3g")],
    ).add_params(pick).interactive()
    tip = pd.DataFrame([{"along": 0.0, "across": 0.0, "end": g_norm, "label": t("noise.true_gradient", lang)}])
    shaft = alt.Chart(tip).mark_rule(color="#d62728", strokeWidth=3, clip=True).encode(x=x, y=y, x2="end:Q")
    at_tip = {"x": alt.X("end:Q", scale=x_scale), "y": y}
    head = alt.Chart(tip).mark_point(shape="triangle-right", size=250, filled=True, color="#d62728",
                                     opacity=1, clip=True).encode(**at_tip)
    # above the middle of the arrow, on a white halo: the cloud of large batches covers its tip
    on_shaft = {"x": alt.X("middle:Q", scale=x_scale), "y": y, "text": "label:N"}
    words = dict(dy=-14, fontWeight="bold", fontSize=13, clip=True)
    halo = alt.Chart(tip).transform_calculate(middle=alt.datum.end / 2).mark_text(
        stroke="white", strokeWidth=5, strokeJoin="round", opacity=0.9, **words).encode(**on_shaft)
    label = alt.Chart(tip).transform_calculate(middle=alt.datum.end / 2).mark_text(color="#d62728", **words).encode(
        **on_shaft)
    return alt.layer(cloud, shaft, head, halo, label).properties(width="container", height=CLOUD_HEIGHT)


def _measured_and_theory(report: NoiseReport, lang: str, divide_by: float = 1.0) -> pd.DataFrame:
    measured, theory = t("noise.measured", lang), t("noise.theory", lang)
    return pd.DataFrame([row for s in report.sizes for row in (
        {"batch_size": s.batch_size, "value": s.measured / divide_by, "kind": measured},
        {"batch_size": s.batch_size, "value": s.predicted / divide_by, "kind": theory})])


def _points_on_line(data: pd.DataFrame, y: alt.Y, lang: str) -> alt.LayerChart:
    """Measured values as points over the theory line, in log-log axes."""
    measured, theory = t("noise.measured", lang), t("noise.theory", lang)
    # the legend draws what the chart draws: a dot for the measurements, a dashed line for the theory
    kinds = {"domain": [measured, theory]}
    colour = alt.Color("kind:N", title=None, scale=alt.Scale(**kinds, range=["#1f77b4", "#ff7f0e"]), legend=alt.Legend(
        symbolStrokeWidth=2.5, symbolSize=120))
    shape = alt.Shape("kind:N", title=None, scale=alt.Scale(**kinds, range=["circle", "stroke"]))
    dash = alt.StrokeDash("kind:N", title=None, scale=alt.Scale(**kinds, range=[[1, 0], [6, 3]]))
    base = alt.Chart(data).encode(x=_batch_axis(lang), y=y, color=colour,
                                  tooltip=[alt.Tooltip("batch_size:Q", title="B"), "kind:N",
                                           alt.Tooltip("value:Q", format=".4g")])
    line = base.transform_filter(alt.datum.kind == theory).mark_line().encode(strokeDash=dash)
    dots = base.transform_filter(alt.datum.kind == measured).mark_point(size=70, filled=True).encode(shape=shape)
    return alt.layer(line, dots)


def variance_chart(report: NoiseReport, lang: str) -> alt.LayerChart:
    """Plot 2: E‖g_B − G‖² against B, measured and tr(Σ)/B · (N − B)/(N − 1)."""
    y = alt.Y("value:Q", scale=alt.Scale(type="log"), title=t("noise.axis_deviation", lang))
    return _points_on_line(_measured_and_theory(report, lang), y, lang).properties(height=320)


def cosine_chart(report: NoiseReport, lang: str) -> alt.LayerChart:
    """Plot 3: cos(g_B, G) of every draw (faint) and their mean (line) against B."""
    draws = pd.DataFrame([{"batch_size": s.batch_size, "cosine": c} for s in report.sizes for c in s.cosines.tolist()])
    means = pd.DataFrame([{"batch_size": s.batch_size, "cosine": s.cosine} for s in report.sizes])
    y = alt.Y("cosine:Q", scale=alt.Scale(domain=[-1, 1]), title=t("noise.axis_cosine", lang))
    faint = alt.Chart(draws).mark_circle(size=14, opacity=0.25).encode(x=_batch_axis(lang), y=y)
    mean = alt.Chart(means).mark_line(point=True, color="#d62728").encode(
        x=_batch_axis(lang), y=y,
        tooltip=[alt.Tooltip("batch_size:Q", title="B"), alt.Tooltip("cosine:Q", format=".3f")])
    return alt.layer(faint, mean).properties(height=320)


def noise_scale_chart(report: NoiseReport, lang: str) -> alt.LayerChart:
    """Plot 4: noise-to-signal E‖g_B − G‖²/‖G‖² against B; it crosses 1 near B = B_simple."""
    scale = report.scale
    data = _measured_and_theory(report, lang, divide_by=scale.grad_norm_sq)
    y = alt.Y("value:Q", scale=alt.Scale(type="log"), title=t("noise.axis_noise_to_signal", lang))
    one = alt.Chart(pd.DataFrame([{"value": 1.0}])).mark_rule(color="gray").encode(y="value:Q")
    label = t("noise.b_simple_label", lang, value=f"{scale.b_simple:.0f}")
    marker = pd.DataFrame([{"batch_size": scale.b_simple, "label": label}])
    rule = alt.Chart(marker).mark_rule(color="#2ca02c", strokeWidth=2).encode(x=_batch_axis(lang))
    text = alt.Chart(marker).mark_text(align="left", dx=6, dy=-120, color="#2ca02c", fontWeight="bold").encode(
        x=_batch_axis(lang), text="label:N")
    layers = [_points_on_line(data, y, lang), one]
    if math.isfinite(scale.b_simple) and scale.b_simple > 0:
        layers += [rule, text]
    return alt.layer(*layers).properties(height=320)


def noise_over_epochs_chart(rows: list[dict], lang: str | None = None) -> alt.HConcatChart:
    """tr(Σ), ‖G‖² and B_simple per epoch, side by side.

    Rows are {"epoch", "trace_sigma", "grad_norm_sq", "b_simple"}, as the epoch hook of
    `core.noise.make_epoch_hook` records them.

    Rows may also carry "run" (a run's name): then each run gets its own line. `lang` None means
    the Streamlit session's language.
    """
    if lang is None:
        from ui.session import lang as session_lang

        lang = session_lang()
    data = pd.DataFrame(rows, columns=["epoch", *EPOCH_QUANTITIES, "run"])
    colour = run_color(None, run_legend()) if data["run"].notna().any() else alt.value(RUN_COLORS[0])
    return alt.hconcat(*[
        alt.Chart(data).mark_line(point=True).encode(
            x=alt.X("epoch:Q", axis=alt.Axis(tickMinStep=1), title=t("noise.axis_epoch", lang)),
            y=alt.Y(f"{name}:Q", scale=alt.Scale(type="log"), title=t(f"noise.{name}", lang)),
            color=colour,
            tooltip=["epoch:Q", alt.Tooltip(f"{name}:Q", format=".4g")],
        ).properties(width=200, height=200, title=t(f"noise.{name}", lang))
        for name in EPOCH_QUANTITIES
    ])
