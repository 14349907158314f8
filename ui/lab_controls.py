"""The Training Lab's controls: widgets with stable keys, kept in the URL and across page changes.

Widget keys (tests drive them): batch_size, learning_rate, dropout, optimizer, epochs, model, hidden,
activation, batchnorm, device, loader, weight_decay, seed, patience, train_subset, augment, order, record_noise,
forget_zero_grad. The URL holds the settings' names, so `?optimizer=sgd&learning_rate=1&batch_size=8` opens exactly
that experiment (`batch_size=all` for the whole training set, `hidden=128,64`, `hidden=0` for no hidden layer,
`batchnorm=true` or `batchnorm=1` for on, `zero_grad=false` for a run that forgets optimizer.zero_grad());
`?preset=depth` chooses a classroom preset's first variant.
"""
import streamlit as st

from core import data as D
from core.device import available_devices
from core.presets import PRESETS, preset_config, updates_per_epoch
from core.confusion import make_watch_hook
from core.train import FULL_BATCH, LOADERS, OPTIMIZERS, TrainConfig, batch_text, combine_hooks, parse_batch_size
from core.models import ACTIVATIONS, LESSON_HIDDEN, MODEL_NAMES, hidden_text, parameter_count, parse_hidden, shape_text
from ui.session import lang, tr

BATCH_SIZES = [2 ** k for k in range(11)] + [FULL_BATCH]  # 1 … 1024, then the whole training set
LEARNING_RATES = [1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5, 1.0]  # log scale
SUBSETS = [0, 300, 1000, 3000]  # 0 = the whole training set
WEIGHT_DECAYS = [0.0, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1]
# the MLP's hidden layers: none (one linear layer), one narrow or wide, the lesson's, wider, deeper, deepest
HIDDEN_SHAPES = [(), (32,), (128,), LESSON_HIDDEN, (256, 128), (128, 64, 32), (64, 64, 64, 64)]
DEFAULTS = TrainConfig()


def parse_switch(text: str) -> bool:
    """An on/off setting from the URL: "true" or "1" is on, "false" or "0" off."""
    switches = {"true": True, "1": True, "false": False, "0": False}
    if text.lower() not in switches:
        raise ValueError(text)
    return switches[text.lower()]


PARSE = {"batch_size": parse_batch_size, "learning_rate": float, "dropout": float, "optimizer": str, "epochs": int,
         "model": str, "hidden": parse_hidden, "activation": str, "device": str, "loader": str,
         "weight_decay": float, "seed": int, "patience": int, "train_subset": int, "batchnorm": parse_switch,
         "augment": parse_switch, "order": str, "zero_grad": parse_switch}
ALLOWED = {"batch_size": BATCH_SIZES, "learning_rate": LEARNING_RATES, "optimizer": list(OPTIMIZERS),
           "model": list(MODEL_NAMES), "hidden": HIDDEN_SHAPES, "activation": list(ACTIVATIONS),
           "device": available_devices(), "loader": list(LOADERS), "weight_decay": WEIGHT_DECAYS,
           "train_subset": SUBSETS, "batchnorm": [False, True], "augment": [False, True],
           "order": list(D.ORDERS), "zero_grad": [False, True]}
RANGES = {"dropout": (0.0, 0.8), "epochs": (1, 50), "seed": (0, 9999), "patience": (0, 10)}
SAVED = "lab_settings"  # survives while the learner is on another page (widget state does not)
FORGET = "forget_zero_grad"  # the checkbox: ticked, the run does not call optimizer.zero_grad() (zero_grad False)


def _valid(key: str, value) -> bool:
    if key in ALLOWED:
        return value in ALLOWED[key]
    low, high = RANGES[key]
    return low <= value <= high


def init_state() -> None:
    """Fill every control's value: from the URL on the first visit, else from the saved settings."""
    saved = st.session_state.setdefault(SAVED, {k: getattr(DEFAULTS, k) for k in PARSE})
    if not st.session_state.get("lab_url_read"):
        st.session_state.lab_url_read = True
        for key, parse in PARSE.items():
            if key in st.query_params:
                try:
                    value = parse(st.query_params[key])
                except ValueError:
                    continue
                if _valid(key, value):
                    saved[key] = value
    for key, value in saved.items():
        st.session_state.setdefault(key, value)
    st.session_state.setdefault("record_noise", False)
    st.session_state.setdefault(FORGET, not st.session_state.zero_grad)
    if (preset := st.query_params.get("preset")) in PRESETS:  # a link to a preset (Home's): its first variant, once
        del st.query_params["preset"]
        apply_preset(preset, 0)


def apply_preset(name: str, variant: int) -> None:
    """on_click of a preset button: set the controls to the preset's variant."""
    keep = {k: st.session_state[k] for k in ("seed", "device", "model", "hidden", "activation", "batchnorm", "loader")}
    config = preset_config(name, variant, **keep)
    for key in PARSE:
        st.session_state[key] = getattr(config, key)
    st.session_state[FORGET] = not config.zero_grad
    st.session_state.lab_preset = (name, variant)


def draw() -> None:
    """The widgets, in the sidebar-like left column."""
    batches = {b: batch_text(b, lang()) for b in BATCH_SIZES}
    st.select_slider(tr("lab.batch_size"), BATCH_SIZES, key="batch_size", format_func=batches.get,
                     help=tr("lab.batch_size_help"))
    st.select_slider(tr("lab.learning_rate"), LEARNING_RATES, key="learning_rate", format_func=lambda v: f"{v:g}",
                     help=tr("lab.learning_rate_help"))
    st.slider(tr("lab.dropout"), 0.0, 0.8, step=0.05, key="dropout", help=tr("lab.dropout_help"))
    st.selectbox(tr("lab.optimizer"), list(OPTIMIZERS), key="optimizer", format_func=OPTIMIZERS.get)
    st.slider(tr("lab.epochs"), 1, 50, key="epochs")
    # option labels looked up now, in this run's language: AppTest calls format_func between runs,
    # where the session's language cannot be read
    models = {m: tr(f"lab.model_{m}") for m in MODEL_NAMES}
    shapes = {h: "-".join(map(str, h)) for h in HIDDEN_SHAPES}  # short: "128-64" fits a projector's column
    shapes[()], shapes[LESSON_HIDDEN] = tr("lab.hidden_none"), tr("lab.hidden_lesson", shape=shapes[LESSON_HIDDEN])
    activations = {a: tr(f"lab.activation_{a}") for a in ACTIVATIONS}
    devices = {d: tr(f"lab.device_{d}") for d in available_devices()}
    loaders = {name: tr(f"lab.loader_{name}") for name in LOADERS}
    subsets = {n: tr("lab.subset_all") if n == 0 else f"{n:,}" for n in SUBSETS}
    orders = {name: tr(f"lab.order_{name}") for name in D.ORDERS}
    with st.expander(tr("lab.more_settings")):
        st.radio(tr("lab.model"), list(models), key="model", format_func=models.get, horizontal=True)
        cnn = st.session_state.model == "cnn"  # the CNN has its own layers
        st.selectbox(tr("lab.hidden"), list(shapes), key="hidden", format_func=shapes.get, disabled=cnn,
                     help=tr("lab.hidden_help"))
        st.radio(tr("lab.activation"), list(activations), key="activation", format_func=activations.get,
                 horizontal=True, disabled=cnn or not st.session_state.hidden, help=tr("lab.activation_help"))
        st.checkbox(tr("lab.batchnorm"), key="batchnorm", help=tr("lab.batchnorm_help"))
        count = parameter_count(st.session_state.model, st.session_state.batchnorm, st.session_state.hidden)
        st.caption(tr(f"lab.parameters_{st.session_state.model}", shape=shape_text(st.session_state.hidden),
                      n=f"{count:,}"))
        st.selectbox(tr("lab.device"), list(devices), key="device", format_func=devices.get)
        st.radio(tr("lab.loader"), list(loaders), key="loader", format_func=loaders.get, help=tr("lab.loader_help"))
        st.select_slider(tr("lab.weight_decay"), WEIGHT_DECAYS, key="weight_decay", format_func=lambda v: f"{v:g}",
                         help=tr("lab.weight_decay_help"))
        st.number_input(tr("lab.seed"), 0, 9999, step=1, key="seed", help=tr("lab.seed_help"))
        st.number_input(tr("lab.patience"), 0, 10, step=1, key="patience", help=tr("lab.patience_help"))
        st.selectbox(tr("lab.train_subset"), list(subsets), key="train_subset", format_func=subsets.get)
        st.checkbox(tr("lab.augment"), key="augment", help=tr("lab.augment_help"))
        st.selectbox(tr("lab.order"), list(orders), key="order", format_func=orders.get, help=tr("lab.order_help"))
        st.checkbox(tr("lab.forget_zero_grad"), key=FORGET, help=tr("lab.forget_zero_grad_help"))
        st.checkbox(tr("lab.record_noise"), key="record_noise", help=tr("lab.record_noise_help"))


def config() -> TrainConfig:
    """The settings as a TrainConfig; also saved for the next visit and written to the URL."""
    st.session_state.zero_grad = not st.session_state[FORGET]
    values = {k: st.session_state[k] for k in PARSE}
    st.session_state[SAVED] = values
    for key, value in values.items():
        st.query_params[key] = url_value(value)
    return TrainConfig(**values)


def url_value(value) -> str:
    """A setting as a Lab link writes it: "0.001", "sgd", "128,64" (hidden layers; "0" for none), "true"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return hidden_text(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def presets(n_train: int) -> None:
    """One row per classroom preset: its two variants and what to watch (with the updates per epoch
    each variant makes on this server's `n_train` training samples)."""
    for name in PRESETS:
        title, a, b = st.columns([3, 2, 2], vertical_alignment="center")
        title.markdown(f"**{tr(f'lab.preset_{name}')}**")
        a.button(tr(f"lab.preset_{name}_a"), key=f"preset_{name}_0", on_click=apply_preset, args=(name, 0),
                 width="stretch")
        b.button(tr(f"lab.preset_{name}_b"), key=f"preset_{name}_1", on_click=apply_preset, args=(name, 1),
                 width="stretch")
    chosen = st.session_state.get("lab_preset")
    if chosen:
        a, b = updates_per_epoch(chosen[0], n_train)
        st.info(tr(f"lab.preset_{chosen[0]}_watch", a=f"{a:,}", b=f"{b:,}"))


NOISE_SAMPLES = 2000  # training samples the per-epoch gradient-noise measurement uses


def epoch_hook(splits):
    """What a run records after each epoch: the watched validation digits' answers (and how often it
    answers each digit), and with "record gradient noise" on, tr(Σ), ‖G‖² and B_simple."""
    return _epoch_hook(splits, st.session_state.record_noise)


@st.cache_resource(show_spinner=False, max_entries=2)
def _epoch_hook(_splits, noise: bool):
    """One per process and choice, not one per Train: the hooks hold copies of the validation set (and
    of 2,000 training samples), and on Ray the executor sends each hook to the cluster once."""
    watch = make_watch_hook(D.to_tensors(_splits.val))
    if not noise:
        return watch
    from core.noise import make_epoch_hook

    return combine_hooks(watch, make_epoch_hook(D.to_tensors(_splits.train, limit=NOISE_SAMPLES)))
