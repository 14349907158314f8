"""The class wall's charts: the hyperparameter map and every run's validation loss."""
import altair as alt
import pandas as pd

from core.i18n import t

BEST_CURVES = 3  # runs highlighted and named on the loss chart
# the whole range the Lab's sliders offer, whatever the class tried: the map keeps its place on the projector
LR_TICKS = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
BATCH_TICKS = [1, 4, 16, 64, 256, 1024]
# Legends under the plot, one above the other: side by side (colour, then the optimizers' shapes; the
# loss chart's three runs in a row) they ran past a 390-px phone's chart, their right part cut off
STACKED = alt.ExprRef("{bottom: {direction: 'vertical', anchor: 'start', margin: 8}}")


def _fitted(chart):
    """The chart as wide as its column, its legends stacked under the plot. fit-x: the height is the
    plot's (Streamlit's default "fit" took the stacked legends out of the plot's height)."""
    return chart.properties(autosize=alt.AutoSizeParams(type="fit-x", contains="padding")).configure_legend(
        layout=STACKED)


def map_spec(rows: list[dict], lang: str) -> dict:
    """One point per run: learning rate (log) across, batch size (log) up, colour = validation accuracy,
    shape = optimizer; `rows` hold lr, batch, acc, optimizer, label, settings, link. A Vega-Lite spec
    with its data (for st.vega_lite_chart): built once, drawn for every viewer."""
    data = pd.DataFrame(rows, columns=["lr", "batch", "acc", "optimizer", "label", "settings", "link"])
    chart = alt.Chart(alt.Data(name="points")).mark_point(size=140, filled=True, opacity=0.85, strokeWidth=1, stroke="#333").encode(
        x=alt.X("lr:Q", title=t("class.axis_lr", lang), axis=alt.Axis(values=LR_TICKS, format="~g"),
                scale=alt.Scale(type="log", domain=[LR_TICKS[0], LR_TICKS[-1]], padding=18)),
        y=alt.Y("batch:Q", title=t("class.axis_batch", lang), axis=alt.Axis(values=BATCH_TICKS, format="d"),
                scale=alt.Scale(type="log", base=2, domain=[BATCH_TICKS[0], BATCH_TICKS[-1]], padding=18)),
        color=alt.Color("acc:Q", title=t("class.legend_acc", lang), scale=alt.Scale(scheme="viridis"),
                        legend=alt.Legend(format=".0%", orient="bottom")),
        shape=alt.Shape("optimizer:N", title=t("class.legend_optimizer", lang), legend=alt.Legend(orient="bottom")),
        href="link:N",
        # each with a title: an empty one shows the field's name ("label", "settings") in any language
        tooltip=[alt.Tooltip("label:N", title=t("class.col_run", lang)),
                 alt.Tooltip("settings:N", title=t("class.col_settings", lang)),
                 alt.Tooltip("acc:Q", title=t("class.legend_acc", lang), format=".1%")],
    ).properties(height=360).interactive()
    return {**_fitted(chart).to_dict(), "datasets": {"points": data}}


def curves_spec(rows: list[dict], best: list[str], lang: str) -> dict:
    """Every run's validation loss per epoch in thin grey, the `best` few (their labels) in colour: a
    Vega-Lite spec with its data."""
    data = pd.DataFrame(rows, columns=["run", "epoch", "loss"])
    base = alt.Chart(alt.Data(name="curves")).encode(
        x=alt.X("epoch:Q", title=t("class.axis_epoch", lang), axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("loss:Q", title=t("class.axis_val_loss", lang), scale=alt.Scale(type="log")),
        detail="run:N", tooltip=[alt.Tooltip("run:N", title=t("class.col_run", lang)),
                                 alt.Tooltip("epoch:Q", title=t("class.axis_epoch", lang)),
                                 alt.Tooltip("loss:Q", title=t("class.axis_val_loss", lang), format=".4f")])
    everyone = base.mark_line(color="#bbbbbb", strokeWidth=1, opacity=0.7)
    top = base.transform_filter(alt.FieldOneOfPredicate(field="run", oneOf=best)).mark_line(
        strokeWidth=3, point=True).encode(color=alt.Color("run:N", title="", sort=best,
                                                          legend=alt.Legend(orient="bottom", labelLimit=400,
                                                                            direction="vertical")))
    return {**_fitted(alt.layer(everyone, top).properties(height=300)).to_dict(), "datasets": {"curves": data}}
