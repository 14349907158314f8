"""The Results page's confusion matrix: an Altair heatmap in the session's language."""
import altair as alt
import pandas as pd
import torch

from ui.session import tr

RIGHT = "#c7e9c0"  # the diagonal: read right


def confusion_chart(matrix: torch.Tensor) -> alt.Chart:
    """(10, 10) counts, row = true digit, column = predicted. Mistakes are shaded by count (the
    diagonal would outshine them all), the diagonal is drawn green; every cell shows its count."""
    df = pd.DataFrame([{"true": t, "predicted": p, "count": int(matrix[t, p]), "right": t == p}
                       for t in range(matrix.shape[0]) for p in range(matrix.shape[1])])
    row_sums = df.groupby("true")["count"].transform("sum")
    df["share"] = df["count"] / row_sums.where(row_sums > 0, 1)
    most = df.loc[~df["right"], "count"].max()
    df["dark"] = ~df["right"] & (df["count"] > 0.6 * most)  # dark orange: white text reads better
    x = alt.X("predicted:O", title=tr("results.axis_predicted"), axis=alt.Axis(labelAngle=0, orient="top"))
    y = alt.Y("true:O", title=tr("results.axis_true"))
    tooltip = [alt.Tooltip("true:O", title=tr("results.axis_true")),
               alt.Tooltip("predicted:O", title=tr("results.axis_predicted")),
               alt.Tooltip("count:Q", title=tr("results.axis_count")),
               alt.Tooltip("share:Q", title=tr("results.axis_share"), format=".1%")]
    base = alt.Chart(df).encode(x=x, y=y, tooltip=tooltip)
    mistakes = base.transform_filter(~alt.datum.right).mark_rect(stroke="white").encode(
        color=alt.condition(alt.datum.count > 0,
                            alt.Color("count:Q", scale=alt.Scale(scheme="oranges"), title=tr("results.axis_mistakes")),
                            alt.value("#fafafa")))
    right = base.transform_filter(alt.datum.right).mark_rect(stroke="white", color=RIGHT)
    text = base.mark_text(fontSize=12).encode(text=alt.Text("count:Q"),
                                              color=alt.condition(alt.datum.dark, alt.value("white"),
                                                                  alt.value("#333")))
    return (right + mistakes + text).properties(height=380)
