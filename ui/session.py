"""Per-session state (language, current model) and process-wide read-only resources (the data)."""
from dataclasses import dataclass, replace

import streamlit as st
from torch import nn

from core import data as D
from core import pretrained
from core.device import device_label, pick_device
from core.i18n import LANGUAGES, fmt_accuracy, language_for_locale, t
from core.models import shape_text
from core.train import OPTIMIZERS, TrainConfig, batch_text


def lang() -> str:
    return st.session_state.get("lang") or language_for_locale(st.context.locale)


def tr(key: str, **params) -> str:
    """`t()` in the language this session chose."""
    return t(key, lang(), **params)


def language_picker() -> str:
    """The sidebar's language choice, kept in the URL (?lang=ja) so that a reload or a shared link
    keeps it; a first visit without one follows the browser's locale."""
    if "lang" not in st.session_state:
        wanted = st.query_params.get("lang")
        st.session_state.lang = wanted if wanted in LANGUAGES else language_for_locale(st.context.locale)
    st.sidebar.selectbox("Language / 言語", list(LANGUAGES), format_func=LANGUAGES.get, key="lang")
    st.query_params["lang"] = st.session_state.lang  # again on every page: switching pages clears the URL's
    return st.session_state.lang


@st.cache_resource(show_spinner=False)
def _data() -> tuple[D.MnistSplits, D.DataError | None]:
    return D.load_splits_or_bundled()


def dataset() -> D.MnistSplits:
    """MNIST, loaded once per server process and shared read-only by every session."""
    return _data()[0]


def data_problem() -> D.DataError | None:
    """Why the data directory could not be read (the app then runs on the bundled sample), or None."""
    return _data()[1]


def source_summary(splits: D.MnistSplits) -> str:
    """"bundled sample: 8,000 train / 1,000 validation / 1,000 test", in the session's language."""
    sizes = {k: f"{v:,}" for k, v in splits.sizes().items()}
    return tr(f"common.source_{splits.source}", **sizes)


def device_summary() -> str:
    return device_label(pick_device("auto"), lang())


@st.cache_resource(show_spinner=False)
def default_model() -> pretrained.DefaultModel:
    """Trained (or loaded from the disk cache) once per server process; never modified by a session."""
    return pretrained.default_model(dataset())


@dataclass(frozen=True)
class ModelInUse:
    model: nn.Module  # shared: copy it (copy.deepcopy) before changing its weights
    config: TrainConfig
    val_acc: float
    origin: str  # "run" (this session's latest run), "taught" (a copy taught on the Draw page), "loaded"
    # (a file the learner loaded) or "default"
    name: str = ""  # the run ("Run 2") or the file ("mine.pt") it came from
    key: str = ""  # names these weights: a copy taught from them, or a file loaded over them, refers to it


def current_model() -> ModelInUse:
    """The model the drawing, noise and graph pages use: a copy the learner taught and kept on the
    Draw page, as long as it grew from base_model(); else base_model(). (A newer run replaces both.)"""
    base = base_model()
    taught = st.session_state.get("taught_model")
    return taught["in_use"] if taught is not None and taught["root"] == base.key else base


def base_model() -> ModelInUse:
    """The model in use before any teaching on the Draw page: a model file the learner loaded after
    the run in use ended; else that run (the newest, or the one picked in the Lab's history); else
    the default model."""
    from ui.runs import model_run

    run = model_run()
    loaded = st.session_state.get("loaded_model")
    if loaded is not None and loaded["over"] == (run.model_key if run else None):
        return loaded["in_use"]
    model = run.model() if run else None  # None: its stored weights could not be read
    if model is not None:
        kept = run.kept_epoch  # a stopped run, or one stopped early, did not train all its planned epochs
        config = replace(run.config, epochs=kept.epoch) if kept else run.config
        return ModelInUse(model, config, kept.val_acc if kept else float("nan"), "run", run.name, run.model_key)
    default = default_model()
    return ModelInUse(default.model, default.config, default.val_acc, "default", key="default")


def model_label(c: TrainConfig) -> str:
    """"MLP 784 → 128 → 64 → 10 (ReLU)", "MLP 784 → 10" (no hidden layer, no activation), "CNN"."""
    if c.model != "mlp":
        return c.model.upper()
    if not c.hidden:
        return f"MLP {shape_text(c.hidden)}"
    return tr("common.mlp_label", shape=shape_text(c.hidden), activation=tr(f"lab.activation_{c.activation}"))


def model_caption(m: ModelInUse) -> str:
    """"Model in use: Run 2 of this session — MLP 784 → 128 → 64 → 10 (ReLU), Adam, lr 0.001, batch 64,
    3 epochs; validation accuracy 94.1 %"."""
    c = m.config
    return tr(f"common.model_{m.origin}", model=model_label(c), optimizer=OPTIMIZERS[c.optimizer], lr=f"{c.learning_rate:g}",
              batch=batch_text(c.batch_size, lang()), count=c.epochs, dropout=f"{c.dropout:g}",
              acc=fmt_accuracy(m.val_acc),
              name=m.name)


def model_name(m: ModelInUse) -> str:
    """What a sentence calls the model in use: "Run 2", "the model loaded from mine.pt", …"""
    return m.name if m.origin == "run" else tr(f"common.name_{m.origin}", name=m.name)
