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
def warm_up_trainers() -> None:
    """Once per process: on Ray, the workers import torch and load the data before the first Train."""
    jobs.manager().warm(dataset())


st.set_page_config(page_title="Training Loop Lab", page_icon="🔁", layout="wide")
use_all_cpu_threads()  # this run's thread may have inherited one training job's share
warm_up_trainers()
language_picker()
navigation = st.navigation([st.Page(path, title=tr(title), icon=icon, default=i == 0)
                            for i, (path, title, icon, _) in enumerate(PAGES)])
with st.sidebar:
    st.caption(tr("common.data_label") + ": " + source_summary(dataset()))
    if data_problem():
        st.warning(tr("common.data_unreadable", problem=data_problem()), icon=":material/warning:")
    st.caption(tr("common.device_label") + ": " + device_summary())
    executor = jobs.manager()
    running, queued = executor.counts()
    if executor.slots:
        st.caption(tr("common.server_load", running=running, queued=queued, slots=executor.slots))
    elif not executor.problem:  # a replica joins its training cluster in the background when it starts
        st.caption(tr("common.cluster_joining"))
    if executor.problem:
        st.warning(tr("common.cluster_unreachable", problem=executor.problem), icon=":material/warning:")
learner_panel()
model_file_panel()
navigation.run()
