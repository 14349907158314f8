"""Training Lab: sliders drive a real training run; loss and accuracy per epoch; compare runs."""
import streamlit as st

from core import data as D
from core.i18n import sentences
from core.lesson_code import lesson_code
from core.store import max_runs
from core.train import ConfigError
from ui import lab_controls as controls
from ui import lab_history, runs
from ui.lab_live import live_panel
from ui.session import dataset, lang, tr
from ui.update_rule import one_step, update_rule
from ui.zero_grad_chart import zero_grad_chart

FIRST_LOSS_WAIT = 0.5  # seconds this redraw may wait for a new run's first loss (a queued run does not wait long)

st.title(tr("lab.title"))
st.caption(tr("lab.intro"))
splits = dataset()
controls.init_state()

with st.expander(tr("lab.presets"), expanded="lab_preset" in st.session_state):
    controls.presets(len(splits.train))

left, right = st.columns([1, 1.8], gap="medium")
with left:
    controls.draw()
    config = controls.config()
    n_train = config.samples(len(splits.train))
    batch = config.minibatch(n_train)
    per_epoch, last = D.batch_plan(n_train, batch, config.drop_last)
    st.markdown(tr("lab.implied", n=f"{n_train:,}", batch=f"{batch:,}", iters=f"{per_epoch:,}",
                   count=config.epochs, total=f"{per_epoch * config.epochs:,}", last=f"{last:,}"))
    update_rule(config, len(splits.train))
    if not config.zero_grad:
        zero_grad_chart(config)
    train_col, stop_col = st.columns(2)
    if train_col.button(tr("lab.train"), key="train", type="primary", width="stretch"):
        try:
            run = runs.start(config, epoch_hook=controls.epoch_hook(splits))
            lab_history.select_newest()
            run.job.state.wait_first_loss(timeout=FIRST_LOSS_WAIT)
        except ConfigError as exc:
            st.error(tr(f"errors.{exc.key}", **exc.params))
    if removed := st.session_state.pop("runs_removed", None):
        st.info(tr("lab.runs_removed", count=len(removed), limit=max_runs(),
                   runs=", ".join(tr("lab.run_name", n=n) for n in removed)))
    if stop_col.button(tr("lab.stop"), key="stop", width="stretch", disabled=not runs.active()):
        runs.stop_all()
    if going_on := runs.resumable():
        done, planned = len(going_on.epochs), going_on.config.epochs
        more = planned - done if done < planned else config.epochs  # a stopped run first finishes its plan
        # a short label fits the narrow column of a 1024-pixel projector; the caption says which epochs
        if st.button(tr("lab.go_on"), key="go_on", icon=":material/play_arrow:", width="stretch"):
            runs.resume(going_on, more, epoch_hook=controls.epoch_hook(splits))
            st.rerun()
        epochs = tr("lab.go_on_epochs" if more > 1 else "lab.go_on_epoch", run=going_on.name, first=done + 1,
                    last=done + more)
        st.caption(sentences(lang(), epochs, tr("lab.go_on_caption", run=going_on.name)))
    st.caption(tr("lab.same_seed", seed=config.seed))

with right:
    live_panel()

with st.expander(tr("lab.code_title")):
    st.caption(tr("lab.code_caption"))
    st.code(lesson_code(config), language="python")

with st.expander(tr("lab.step_title")):
    one_step()

lab_history.history_section()
