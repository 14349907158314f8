"""The class page's state: the classes of the store, which ones this browser teaches, which wall to
show, and the wall itself read once per class per moment for every viewer."""
from urllib.parse import urlencode

import streamlit as st

from core.store import open_store, valid_learner_key
from core.store.classes import ClassInfo, Classes, Membership, Teacher, Wall, normal_code
from core.train import TrainConfig
from ui.identity import learner_key, set_cookie
from ui.lab_controls import PARSE, url_value
from ui.runs import store

TEACHER_COOKIE = "tll_teacher"  # "CODE:KEY,CODE:KEY": teacher links opened in this browser
CLASS_PARAM, TEACHER_PARAM = "class", "teacher"
WALL_SECONDS = 1.5  # a wall is read from the database at most this often, whoever looks at it
LAB_SETTINGS = [k for k in PARSE if k != "device"]  # what a "try these settings" link carries: the Lab's own
# URL keys (the device is the visitor's choice)


def classes() -> Classes | None:
    opened = store()
    return Classes(opened[0]) if opened else None


def teacher_keys() -> dict[str, str]:
    """Teacher keys this browser holds, by class code: from teacher links opened here (kept in a cookie)."""
    if "teacher_keys" not in st.session_state:
        pairs = (p.split(":", 1) for p in (st.context.cookies.get(TEACHER_COOKIE) or "").split(",") if ":" in p)
        st.session_state.teacher_keys = {code: key for code, key in pairs if valid_learner_key(key)}
    offered, code = st.query_params.get(TEACHER_PARAM), normal_code(st.query_params.get(CLASS_PARAM, ""))
    if offered is not None:
        if valid_learner_key(offered) and code:
            st.session_state.teacher_keys[code] = offered
        del st.query_params[TEACHER_PARAM]  # out of the address bar: the projector shows it
    keys = st.session_state.teacher_keys
    if keys:
        set_cookie(TEACHER_COOKIE, ",".join(f"{c}:{k}" for c, k in keys.items()))
    return keys


def remember_teacher(code: str, key: str) -> None:
    teacher_keys()[code] = key


def teacher(code: str) -> Teacher:
    """This browser as a teacher of `code`: its teacher key if it has one, and its learner key."""
    return Teacher(teacher_keys().get(code), learner_key())


def membership() -> Membership | None:
    """The class this learner is in now, if any (None too when the store cannot be used)."""
    all_classes = classes()
    return all_classes.membership(learner_key()) if all_classes else None


def shown_class(all_classes: Classes, member: Membership | None, taught: list[ClassInfo]) -> ClassInfo | None:
    """The wall to show: the class named in the URL, else the one this learner is in, else the newest
    one this browser teaches."""
    asked = normal_code(st.query_params.get(CLASS_PARAM, ""))
    if asked:
        found = all_classes.find(asked)
        if found:
            return found
    if member:
        return member.klass
    return taught[0] if taught else None


@st.cache_resource(ttl=WALL_SECONDS, max_entries=256, show_spinner=False)
def wall(code: str) -> Wall | None:
    """The class's wall, shared by all its viewers for WALL_SECONDS (one query, not one per viewer)."""
    return Classes(open_store()[0]).wall(code)


def lab_link(config: TrainConfig) -> str:
    """The Lab with these settings (a relative link: the same server, any path prefix)."""
    return "lab?" + urlencode({k: url_value(getattr(config, k)) for k in LAB_SETTINGS})


def teacher_link(code: str, key: str) -> str:
    base = (st.context.url or "").split("?")[0]
    return f"{base}?{urlencode({CLASS_PARAM: code, TEACHER_PARAM: key})}"
