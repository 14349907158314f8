"""The update formula with the learner's own numbers, and one real step of it checked against PyTorch."""
import pandas as pd
import streamlit as st

from core import data as D
from core.batching import run_batches
from core.sgd_step import sgd_step
from core.train import FULL_BATCH, OPTIMIZERS, TrainConfig
from ui.formula import formula
from ui.session import ModelInUse, current_model, dataset, model_name, tr

STEP_KEPT = "sgd_step_kept"  # (the model in use's key, its checked step)


def update_rule(config: TrainConfig, n_train: int) -> None:
    """θ ← θ − α·(1/|B|)·Σ∇Lᵢ with the controls' α and |B|, and what it means for this run."""
    batch = config.minibatch(n_train)
    per_epoch = D.batch_plan(config.samples(n_train), batch, config.drop_last)[0]
    st.markdown(f"**{tr('lab.update_title')}**")
    # θ ← θ − α·(1/|B|)·Σ∇Lᵢ with the numbers in, as two short lines: they fit the Lab's narrow
    # column on a 1024-px projector (185 px in Japanese with the sidebar open)
    formula(rf"g = \tfrac{{1}}{{{batch}}} \textstyle\sum_{{i=1}}^{{{batch}}} \nabla L_i")
    formula(rf"\theta \leftarrow \theta - {config.learning_rate:g} \cdot g")
    notes = [tr("lab.update_caption", lr=f"{config.learning_rate:g}", batch=f"{batch:,}", count=per_epoch)]
    if config.batch_size == FULL_BATCH:
        notes.append(tr("lab.update_full", n=f"{batch:,}"))
    if not config.zero_grad:
        notes.append(tr("lab.update_forgotten"))
    if config.optimizer != "sgd":
        notes.append(tr("lab.update_other_optimizer", optimizer=OPTIMIZERS[config.optimizer]))
    st.caption(" ".join(notes))


def _step(m: ModelInUse) -> dict:
    """sgd_step of the model in use on the first minibatch of its run's batch order; kept in the session
    while the same weights stay in use (a full batch of a CNN takes seconds on a CPU)."""
    kept = st.session_state.get(STEP_KEPT)
    if kept is None or kept[0] != m.key:
        config = m.config
        data = D.to_tensors(dataset().train, limit=config.train_subset or None)
        idx = run_batches(config, data.y, 1)[0]
        kept = st.session_state[STEP_KEPT] = (m.key, sgd_step(m.model, data.x[idx], data.y[idx], config.learning_rate))
    return kept[1]


def one_step() -> None:
    """The model in use takes one plain-SGD step on one minibatch of its run's batch size: four weights
    before, their gradient, θ − α·g, and what torch.optim.SGD's step left, with the largest difference."""
    m = current_model()
    step = _step(m)
    st.caption(tr("lab.step_caption", model=model_name(m), batch=f"{step['batch']:,}", lr=f"{step['lr']:g}",
                  name=step["name"], loss=f"{step['loss']:.4f}"))
    if m.config.optimizer != "sgd":
        st.caption(tr("lab.step_other_optimizer", optimizer=OPTIMIZERS[m.config.optimizer]))
    columns = [tr(f"lab.step_col_{k}") for k in ("before", "grad", "by_hand", "sgd")]
    rows = zip(step["before"], step["grad"], step["by_hand"], step["sgd"])
    st.table(pd.DataFrame([[f"{v:.6g}" for v in row] for row in rows], columns=columns))
    st.markdown(tr("lab.step_check", diff=f"{step['largest_difference']:.1e}"))
