"""The sidebar's word on the learner's runs: kept on the server (or why not), and a link that brings
them to another device."""
import streamlit as st

from core.i18n import plain
from ui.classes import membership
from ui.identity import link_for_another_device, remember_in_browser
from ui.runs import store_problem
from ui.session import tr


def learner_panel() -> None:
    problem = store_problem()
    with st.sidebar:
        remember_in_browser()
        if problem:  # worded now: the learner may have switched language since
            st.warning(tr(f"errors.{problem.key}", **problem.params), icon=":material/cloud_off:")
            return
        st.caption(tr("common.store_kept"))
        member = membership()
        if member:
            st.caption(tr("class.sidebar_member", name=plain(member.klass.name), code=member.klass.code,
                          nickname=plain(member.nickname)))
        with st.expander(tr("common.another_device"), icon=":material/devices:"):
            st.caption(tr("common.another_device_text"))
            st.code(link_for_another_device(), language=None, wrap_lines=True)
