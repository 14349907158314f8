"""Training Loop Lab: navigation, the sidebar (language, data, device) and the pages.

    streamlit run app.py
"""
import streamlit as st

from core import jobs
from core.device import use_all_cpu_threads
from ui.learner_panel import learner_panel
from ui.model_file import model_file_panel
from ui.pages import PAGES
from ui.session import data_problem, dataset, device_summary, language_picker, source_summary, tr


@st.cache_resource(show_spinner=False)
def executor() -> jobs.JobManager:
    """This process's executor, warmed once (on Ray: the workers import torch before the first Train)."""
    chosen = jobs.manager()
    chosen.warm(dataset())
    return chosen


st.set_page_config(page_title="Training Loop Lab", page_icon="🔁", layout="wide")
use_all_cpu_threads()  # this run's thread may have inherited one training job's share
language_picker()
navigation = st.navigation([st.Page(path, title=tr(title), icon=icon, default=i == 0)
                            for i, (path, title, icon, _) in enumerate(PAGES)])
with st.sidebar:
    st.caption(tr("common.data_label") + ": " + source_summary(dataset()))
    if data_problem():
        st.warning(tr("common.data_unreadable", problem=data_problem()), icon=":material/warning:")
    st.caption(tr("common.device_label") + ": " + device_summary())
    running, queued = executor().counts()
    st.caption(tr("common.server_load", running=running, queued=queued, slots=executor().slots))
    if executor().problem:
        st.warning(tr("common.cluster_unreachable", problem=executor().problem), icon=":material/warning:")
learner_panel()
model_file_panel()
navigation.run()
