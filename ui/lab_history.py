"""The Training Lab's run history: a table, which runs to overlay, delete, clear and CSV download."""
import math

import pandas as pd
import streamlit as st

from core.history import epoch_rows
from core.i18n import MISSING
from core.jobs import Snapshot
from core.train import OPTIMIZERS, batch_text
from ui import runs
from ui.session import base_model, lang, model_label, tr


def status_text(snap: Snapshot) -> str:
    if snap.status == "diverged":
        return tr("lab.status_diverged", step=snap.diverged_step)
    if snap.status == "interrupted":
        return tr("lab.status_interrupted", epoch=snap.epoch)
    if snap.status == "queued":
        return tr("lab.status_queued", position=snap.queue_position) if snap.queue_position \
            else tr("lab.status_waiting")
    return tr(f"lab.status_{snap.status}")


def _row(run: runs.SessionRun, snap: Snapshot) -> dict:
    c = run.config
    last = snap.epochs[-1] if snap.epochs else None
    best = max((e.val_acc for e in snap.epochs), default=math.nan)
    # the results first: at 1400 px the settings may need a sideways scroll, what a run reached does not
    return {tr("lab.col_run"): run.name, tr("lab.col_status"): status_text(snap),
            tr("lab.col_val_acc"): _shown(last.val_acc if last else math.nan, "{:.1%}"),
            tr("lab.col_best_acc"): _shown(best, "{:.1%}"),
            tr("lab.col_train_loss"): _shown(last.train_loss if last else math.nan, "{:.4f}"),
            tr("lab.col_val_loss"): _shown(last.val_loss if last else math.nan, "{:.4f}"),
            tr("lab.epochs"): f"{snap.epoch}/{c.epochs}", tr("lab.batch_size"): batch_text(c.batch_size, lang()),
            tr("lab.learning_rate"): f"{c.learning_rate:g}", tr("lab.dropout"): c.dropout,
            tr("lab.optimizer"): OPTIMIZERS[c.optimizer], tr("lab.model"): model_label(c), tr("lab.seed"): c.seed,
            tr("lab.col_seconds"): round(snap.elapsed, 2)}  # a 300-image epoch takes 0.04 s


RESULT_COLUMNS = ("lab.col_val_acc", "lab.col_best_acc", "lab.col_train_loss", "lab.col_val_loss")


def _shown(value: float, fmt: str) -> str:
    """A result as the table writes it, "–" when there is none yet (queued, or diverged in the first
    epoch): st.dataframe writes "None" for a missing number whatever a Styler asks (streamlit#11123)."""
    return fmt.format(value) if math.isfinite(value) else MISSING


KEPT = "overlay_kept"  # the picked runs survive a visit to another page (widget state does not)


def shown_numbers() -> list[int]:
    """The runs picked for the charts, by number. A session that has picked none yet (a reload, a closed
    tab, a restart: its runs come back from the store) shows its newest run, as after Train."""
    if "overlay" not in st.session_state and KEPT not in st.session_state:
        history = runs.history()
        return [history[-1].number] if history else []
    return st.session_state.get("overlay", st.session_state.get(KEPT, []))


def select_newest() -> None:
    """Show a newly started run in the charts, beside the runs already picked."""
    numbers = [r.number for r in runs.history()]
    st.session_state["overlay"] = [n for n in shown_numbers() if n in numbers[:-1]] + numbers[-1:]


def history_section() -> None:
    history = runs.history()
    if not history:
        return
    st.subheader(tr("lab.history_title"))
    st.caption(tr("lab.history_caption"))
    names = {r.number: r.name for r in history}  # a dict, not a lambda: AppTest formats between runs too
    st.session_state["overlay"] = [n for n in shown_numbers() if n in names]
    st.multiselect(tr("lab.overlay"), list(names), format_func=names.get, key="overlay", help=tr("lab.overlay_help"))
    st.session_state[KEPT] = st.session_state.overlay
    snaps = [(r, r.snapshot()) for r in history]  # one copy of each run's progress per redraw
    results = {tr(key): st.column_config.TextColumn(alignment="right") for key in RESULT_COLUMNS}
    st.dataframe(pd.DataFrame([_row(r, snap) for r, snap in snaps]), hide_index=True, width="stretch",
                 column_config={tr("lab.col_run"): st.column_config.Column(pinned=True), **results})
    model_picker()
    buttons = st.container(horizontal=True)  # wraps rather than cutting a label on a narrow screen
    if buttons.button(tr("lab.delete"), key="delete_runs", disabled=not st.session_state.overlay):
        runs.delete(st.session_state.overlay)
        st.rerun()
    if buttons.button(tr("lab.clear"), key="clear_runs"):
        runs.delete(list(names))
        st.rerun()
    rows = [row for r, snap in snaps for row in epoch_rows(r.name, r.config, snap.status, snap.epochs)]
    buttons.download_button(tr("lab.download_csv"), pd.DataFrame(rows).to_csv(index=False), "training-runs.csv",
                            "text/csv", key="download_csv", disabled=not rows)


LOADED_FILE = 0  # the model picker's entry for a loaded model file (runs are numbered from 1)


def model_picker() -> None:
    """Which model the other pages use: the newest run's by default, any kept run on request (after
    a preset's two runs a learner can look at each one's mistakes), or a model file while it is in use."""
    kept = runs.kept()
    if not kept:
        return
    names = {r.number: r.name for r in kept}  # a dict, not a lambda: AppTest formats between runs too
    base = base_model()  # a copy taught on the Draw page still grew from the file or the run picked here
    if base.origin == "loaded":  # loaded after the run in use ended: picking a run puts it aside
        names[LOADED_FILE] = tr("lab.use_model_file", name=base.name)
    st.session_state["use_model"] = LOADED_FILE if base.origin == "loaded" else runs.model_run().number
    st.selectbox(tr("lab.use_model"), list(names), format_func=names.get, key="use_model", on_change=_picked,
                 help=tr("lab.use_model_help"))


def _picked() -> None:
    if st.session_state.use_model != LOADED_FILE:
        runs.pick(st.session_state.use_model)

