"""Class: a teacher opens a class, students join with its code, and everyone's runs meet on one live wall."""
import streamlit as st

from core.i18n import plain
from core.store.classes import ClassError
from ui import class_wall
from ui import classes as C
from ui.identity import learner_key
from ui.session import tr

st.title(tr("class.title"))
st.caption(tr("class.intro"))
all_classes = C.classes()
if all_classes is None:
    st.warning(tr("class.no_store"))
    st.stop()


def said(exc: ClassError) -> None:
    st.error(tr(f"errors.{exc.key}", **exc.params))


teacher_keys = C.teacher_keys()
member = C.membership()
taught = all_classes.taught_by(learner_key())

join, create = st.columns(2, gap="large")
with join:
    st.subheader(tr("class.join_title"))
    if member:
        st.success(tr("class.joined", name=plain(member.klass.name), code=member.klass.code,
                      nickname=plain(member.nickname)))
        if st.button(tr("class.leave"), key="leave_class"):
            all_classes.leave(learner_key())
            st.session_state.class_left = True
            st.rerun()
    else:
        if st.session_state.pop("class_left", False):
            st.info(tr("class.left"))
        with st.form("join_form", border=False):
            code = st.text_input(tr("class.class_code"), key="class_code", max_chars=12, help=tr("class.class_code_help"))
            nickname = st.text_input(tr("class.nickname"), key="nickname", max_chars=40, help=tr("class.nickname_help"))
            if st.form_submit_button(tr("class.join"), key="join_class", type="primary"):
                try:
                    all_classes.join(learner_key(), code, nickname)
                    st.rerun()
                except ClassError as exc:
                    said(exc)
with create:
    with st.expander(tr("class.create_title"), expanded=bool(taught)):
        with st.form("create_form", border=False):
            name = st.text_input(tr("class.class_name"), key="class_name", max_chars=80)
            if st.form_submit_button(tr("class.create"), key="create_class"):
                try:
                    info, key = all_classes.create(name, learner_key())
                    C.remember_teacher(info.code, key)
                    st.session_state.class_created = (info.code, key)
                    st.query_params[C.CLASS_PARAM] = info.code
                    st.rerun()
                except ClassError as exc:
                    said(exc)
        if created := st.session_state.get("class_created"):
            code, key = created
            st.markdown(tr("class.created", name=plain(all_classes.find(code).name)))
            st.code(code, language=None)
            st.caption(tr("class.teacher_link"))
            st.code(C.teacher_link(code, key), language=None, wrap_lines=True)
        if taught:
            st.caption(tr("class.teaching") + ": " + ", ".join(c.code for c in taught))

shown = C.shown_class(all_classes, member, taught)
if shown:
    st.query_params[C.CLASS_PARAM] = shown.code
    st.divider()
    class_wall.draw(shown.code, all_classes.is_teacher(shown.code, C.teacher(shown.code)))
