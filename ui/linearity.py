"""Results' section "without nonlinearity, one linear layer": the model in use folded, and the learner's
runs of each kind side by side."""
import streamlit as st

from core import data as D
from core.linearity import KINDS, fold_check, model_kind, newest_of_each_kind
from ui.runs import kept
from ui.session import ModelInUse, model_label, tr

SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def product_text(layers: int) -> str:
    """"W₃·W₂·W₁": the matrices a stack of `layers` linear layers multiplies into one, last layer first."""
    return "·".join(f"W{i}".translate(SUBSCRIPTS) for i in range(layers, 0, -1))


def linearity_section(in_use: ModelInUse, val: D.TensorSplit, per_model) -> None:
    """Fold the model in use when it has no nonlinearity (else say why it cannot be folded), then
    compare the learner's runs: no hidden layer, hidden layers without and with ReLU.
    `per_model(name, compute)` keeps the fold's figures while the same model stays in use."""
    st.header(tr("results.fold_header"))
    config = in_use.config
    kind = model_kind(config)
    if kind in ("no_hidden", "linear_stack"):
        check = per_model("fold", lambda: fold_check(in_use.model, val))
        with st.container(horizontal=True, horizontal_alignment="distribute", gap="large"):
            st.metric(tr("results.fold_difference"), f"{check.max_difference:.1e}", width="content")
            st.metric(tr("results.fold_network"), f"{check.network_accuracy:.1%}", width="content")
            st.metric(tr("results.fold_folded"), f"{check.folded_accuracy:.1%}", width="content")
        st.caption(tr(f"results.fold_caption_{kind}", model=model_label(config), n=f"{check.samples:,}",
                      product=product_text(len(config.hidden) + 1), d=f"{check.max_difference:.1e}"))
        if check.batchnorm:
            st.caption(tr("results.fold_batchnorm"))
    elif config.model == "cnn":
        st.markdown(tr("results.fold_refused_cnn"))
    else:
        st.markdown(tr("results.fold_refused", activation=tr(f"lab.activation_{config.activation}")))

    runs = [(r.name, r.config, r.kept_epoch.val_acc) for r in kept() if r.kept_epoch is not None]
    found = newest_of_each_kind(runs)
    st.caption(tr("results.kinds_caption"))
    if found:
        with st.container(horizontal=True, horizontal_alignment="distribute", gap="large"):
            for kind, (name, run_config, val_acc) in found.items():
                st.metric(tr(f"results.kind_{kind}"), f"{val_acc:.1%}", f"{name}: {model_label(run_config)}",
                          delta_color="off", delta_arrow="off", width="content")
    missing = [tr(f"results.kind_{kind}") for kind in KINDS if kind not in found]
    if missing:
        st.caption(tr("results.kinds_missing", kinds=tr("results.list_separator").join(missing),
                      depth=tr("lab.preset_depth"), nonlinearity=tr("lab.preset_nonlinearity")))
