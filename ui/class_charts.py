"""The class wall's charts: the hyperparameter map and every run's validation loss."""
import altair as alt
import pandas as pd

from core.i18n import t

BEST_CURVES = 3  # runs highlighted and named on the loss chart
# the whole range the Lab's sliders offer, whatever the class tried: the map keeps its place on the projector
LR_TICKS = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
BATCH_TICKS = [1, 4, 16, 64, 256, 1024]


def map_chart(rows: list[dict], lang: str) -> alt.Chart:
    """One point per run: learning rate (log) across, batch size (log) up, colour = validation accuracy,
    shape = optimizer; `rows` hold lr, batch, acc, optimizer, label, settings, link."""
    data = pd.DataFrame(rows, columns=["lr", "batch", "acc", "optimizer", "label", "settings", "link"])
    return alt.Chart(data).mark_point(size=140, filled=True, opacity=0.85, strokeWidth=1, stroke="#333").encode(
        x=alt.X("lr:Q", title=t("class.axis_lr", lang), axis=alt.Axis(values=LR_TICKS, format="~g"),
                scale=alt.Scale(type="log", domain=[LR_TICKS[0], LR_TICKS[-1]], padding=18)),
        y=alt.Y("batch:Q", title=t("class.axis_batch", lang), axis=alt.Axis(values=BATCH_TICKS, format="d"),
                scale=alt.Scale(type="log", base=2, domain=[BATCH_TICKS[0], BATCH_TICKS[-1]], padding=18)),
        color=alt.Color("acc:Q", title=t("class.legend_acc", lang), scale=alt.Scale(scheme="viridis"),
                        legend=alt.Legend(format=".0%", orient="bottom")),
        shape=alt.Shape("optimizer:N", title=t("class.legend_optimizer", lang), legend=alt.Legend(orient="bottom")),
        href="link:N",
        tooltip=[alt.Tooltip("label:N", title=""), alt.Tooltip("settings:N", title=""),
                 alt.Tooltip("acc:Q", title=t("class.legend_acc", lang), format=".1%")],
    ).properties(height=360).interactive()


def curves_chart(rows: list[dict], best: list[str], lang: str) -> alt.Chart:
    """Every run's validation loss per epoch in thin grey, the `best` few (their labels) in colour."""
    data = pd.DataFrame(rows, columns=["run", "epoch", "loss"])
    base = alt.Chart(data).encode(
        x=alt.X("epoch:Q", title=t("class.axis_epoch", lang), axis=alt.Axis(tickMinStep=1, format="d")),
        y=alt.Y("loss:Q", title=t("class.axis_val_loss", lang), scale=alt.Scale(type="log")),
        detail="run:N", tooltip=[alt.Tooltip("run:N", title=""), alt.Tooltip("epoch:Q"), alt.Tooltip("loss:Q", format=".4f")])
    everyone = base.mark_line(color="#bbbbbb", strokeWidth=1, opacity=0.7)
    top = base.transform_filter(alt.FieldOneOfPredicate(field="run", oneOf=best)).mark_line(
        strokeWidth=3, point=True).encode(color=alt.Color("run:N", title="", sort=best,
                                                          legend=alt.Legend(orient="bottom", labelLimit=400)))
    return alt.layer(everyone, top).properties(height=300)
