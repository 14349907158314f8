"""Per-session state (language, current model) and process-wide read-only resources (the data)."""
import streamlit as st

from core import data as D
from core.device import device_label, pick_device
from core.i18n import LANGUAGES, language_for_locale, t


def lang() -> str:
    return st.session_state.get("lang") or language_for_locale(st.context.locale)


def tr(key: str, **params) -> str:
    """`t()` in the language this session chose."""
    return t(key, lang(), **params)


def language_picker() -> str:
    """The sidebar's language choice; the first visit follows the browser's locale."""
    if "lang" not in st.session_state:
        st.session_state.lang = language_for_locale(st.context.locale)
    st.sidebar.selectbox("Language / 言語", list(LANGUAGES), format_func=LANGUAGES.get, key="lang")
    return st.session_state.lang


@st.cache_resource(show_spinner=False)
def dataset() -> D.MnistSplits:
    """MNIST, loaded once per server process and shared read-only by every session."""
    return D.load_splits()


def source_summary(splits: D.MnistSplits) -> str:
    """"bundled sample: 8,000 train / 1,000 validation / 1,000 test", in the session's language."""
    sizes = {k: f"{v:,}" for k, v in splits.sizes().items()}
    return tr(f"common.source_{splits.source}", **sizes)


def device_summary() -> str:
    return device_label(pick_device("auto"))


def current_run():
    """The RunResult whose model the drawing, noise and graph pages use, or None before any run."""
    return st.session_state.get("current_run")


def set_current_run(result) -> None:
    st.session_state.current_run = result
