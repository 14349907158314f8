"""The Noise page's measurement of the model in use, measured once per setting and kept.

A learner's own model (a run, a file, a taught copy) is measured for that session alone. The default
model is the same for every session, so its measurements are shared: a class opening the page at
once measures it once, not once per learner (each measurement takes ~1.4 s of a core here).
"""
import copy

import streamlit as st
from torch import nn

from core import data as D
from core import noise
from core.train import TrainConfig, init_model
from ui.session import ModelInUse, dataset, default_model


def report(in_use: ModelInUse, fresh: bool, n: int, draws: int, seed: int) -> noise.NoiseReport:
    """The gradient-noise measurement of the model in use (or, `fresh`, of its run's initial weights)
    on the first `n` training samples."""
    if in_use.origin == "default":
        return _default_model_report(fresh, n, draws, seed)
    key = (fresh, in_use.model, n, draws, seed)  # the model itself: a freed model's id() can come back
    if st.session_state.get("noise_key") != key:
        st.session_state.noise_report = _measure(in_use.model, in_use.config, fresh, n, draws, seed)
        st.session_state.noise_key = key
    return st.session_state.noise_report


@st.cache_resource(max_entries=32, show_spinner=False)
def _default_model_report(fresh: bool, n: int, draws: int, seed: int) -> noise.NoiseReport:
    """Shared by every session (read only); concurrent first visits wait for one measurement."""
    default = default_model()
    return _measure(default.model, default.config, fresh, n, draws, seed)


def _measure(shared: nn.Module, config: TrainConfig, fresh: bool, n: int, draws: int, seed: int) -> noise.NoiseReport:
    # a private copy: measuring switches to eval mode and hooks the layers, never on the shared model
    device = next(shared.parameters()).device
    model = init_model(config, device) if fresh else copy.deepcopy(shared)  # fresh: the run's initial weights
    data = D.to_tensors(dataset().train, device, limit=n)
    batch_sizes = [b for b in noise.DEFAULT_BATCH_SIZES if b < n]
    with noise.intra_op_threads(1 if device.type == "cpu" else None):
        return noise.measure(model, data.x, data.y, batch_sizes, draws, seed)
