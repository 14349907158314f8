"""Forgetting optimizer.zero_grad(), drawn: the gradient norm and the loss step by step, beside a normal run."""
import json

import altair as alt
import pandas as pd
import streamlit as st

from core import data as D
from core.train import TrainConfig
from core.zero_grad import RUNS, STEPS, compare
from ui.session import dataset, tr


@st.cache_data(max_entries=32, show_spinner=False)
def _curves(config_json: str) -> dict:
    """core.zero_grad.compare for the settings in `config_json` (on the CPU, so the same for every session)."""
    config = TrainConfig.from_dict(json.loads(config_json))
    return compare(config, D.to_tensors(dataset().train, limit=config.train_subset or None))


def _chart(rows: pd.DataFrame, field: str, title: str, runs: list[str]) -> alt.Chart:
    return alt.Chart(rows).mark_line(point=True).encode(
        x=alt.X("step:Q", title=tr("lab.zero_grad_axis_step")),
        y=alt.Y(f"{field}:Q", title=title),
        color=alt.Color("run:N", sort=runs, title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["run:N", "step:Q", alt.Tooltip(f"{field}:Q", format=".3g")],
    ).properties(height=160)


def zero_grad_chart(config: TrainConfig) -> None:
    """The first STEPS steps of `config` with zero_grad() and without it, from the same weights and minibatches."""
    curves = _curves(config.to_json())
    names = {run: tr(f"lab.zero_grad_run_{run}") for run in RUNS}
    rows = pd.DataFrame([{"run": names[run], "step": step, "grad_norm": norm, "loss": loss}
                         for run in RUNS
                         for step, (norm, loss) in enumerate(zip(curves[run]["grad_norm"], curves[run]["loss"]), 1)])
    st.markdown(f"**{tr('lab.zero_grad_title', steps=STEPS)}**")
    runs = list(names.values())
    st.altair_chart(_chart(rows, "grad_norm", tr("lab.zero_grad_axis_norm"), runs), width="stretch")
    st.altair_chart(_chart(rows, "loss", tr("lab.zero_grad_axis_loss"), runs), width="stretch")
    forgotten, normal = curves["forgotten"]["grad_norm"], curves["zero_grad"]["grad_norm"]
    if forgotten and normal:  # empty only when the very first loss diverged
        st.caption(tr("lab.zero_grad_caption", first=f"{forgotten[0]:.2g}", last=f"{forgotten[-1]:.2g}",
                      normal=f"{normal[-1]:.2g}", steps=len(forgotten)))
