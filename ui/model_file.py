"""The sidebar's model file: save the model in use as a .pt file, or load one saved earlier (here,
or with `python -m core.train --save PATH`). A loaded model is used by every page until a newer
run of this session ends."""
import streamlit as st

from core import data as D
from core.checkpoint import CheckpointError, checkpoint_bytes, read_checkpoint
from core.train import evaluate, split_batches
from ui.runs import model_run
from ui.session import ModelInUse, current_model, dataset, tr


def _load(uploaded) -> CheckpointError | None:
    """Make an uploaded checkpoint this session's model; the error when it is refused."""
    try:
        model, config = read_checkpoint(uploaded.getvalue(), uploaded.name)
    except CheckpointError as exc:
        return exc
    val_acc = evaluate(model, split_batches(D.to_tensors(dataset().val)))[1]
    run = model_run()
    st.session_state.loaded_model = {"in_use": ModelInUse(model, config, val_acc, "loaded", uploaded.name,
                                                          f"file-{uploaded.file_id}"),
                                     "over": run.model_key if run else None}  # a newer run replaces it
    return None


def model_file_panel() -> None:
    with st.sidebar.expander(tr("common.model_file"), icon=":material/save:"):
        save = st.container()  # drawn after the upload is read: it saves the model in use after it
        uploaded = st.file_uploader(tr("common.load_model"), type=["pt", "pth"], key="load_model",
                                    help=tr("common.load_model_help"))
        if uploaded is None:
            st.session_state.pop("load_result", None)
        elif st.session_state.get("load_result", {}).get("file") != uploaded.file_id:  # each file is read once
            st.session_state.load_result = {"file": uploaded.file_id, "error": _load(uploaded)}
        error = st.session_state.get("load_result", {}).get("error")
        if error:  # worded now: the learner may have switched language since
            st.error(tr(f"errors.{error.key}", **error.params))
        in_use = current_model()
        save.download_button(tr("common.save_model"), data=lambda: checkpoint_bytes(in_use.model, in_use.config),
                             file_name=f"training-loop-lab-{in_use.config.model}.pt", mime="application/octet-stream",
                             key="save_model", on_click="ignore", icon=":material/download:", width="stretch",
                             help=tr("common.save_model_help"))
