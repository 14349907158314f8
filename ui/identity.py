"""Who the learner is, without typing: a random learner key kept in a cookie of this browser.

The key (192 random bits, core.store.new_learner_key) is the only thing that opens a learner's
stored runs. It lives in the cookie `tll_learner` and in this session's state; it is never put
in a page's URL, so a shared Lab link carries settings only. The sidebar's "continue on another
device" link carries it once (`?learner=KEY`): the other browser keeps it in its own cookie and
the key leaves the address bar at once. A cookie or link that is not a well-formed key is ignored:
that browser simply starts as a new, empty learner.
"""
import re

import streamlit as st

from core.store import new_learner_key, valid_learner_key

COOKIE = "tll_learner"
LINK_PARAM = "learner"
COOKIE_DAYS = 365


def learner_key() -> str:
    """This browser's learner key: from a "continue on another device" link, else the cookie, else new."""
    if "learner_key" not in st.session_state:
        offered = (st.query_params.get(LINK_PARAM), st.context.cookies.get(COOKIE))
        st.session_state.learner_key = next((k for k in offered if valid_learner_key(k)), None) or new_learner_key()
    if LINK_PARAM in st.query_params:  # out of the address bar: a link copied from there must not carry it
        del st.query_params[LINK_PARAM]
    return st.session_state.learner_key


def remember_in_browser() -> None:
    """Set the cookie when the browser did not send this key (a first visit, or a link from another
    device); a reload then finds the same learner."""
    set_cookie(COOKIE, learner_key())


COOKIE_VALUE = re.compile(r"[A-Za-z0-9_:,-]*")  # keys, codes and separators: nothing to escape in a script


def set_cookie(name: str, value: str) -> None:
    """Keep `value` in this browser's cookie `name` for a year, unless the browser sent it already."""
    if st.context.cookies.get(name) == value:  # sent with this session's connection: set before
        return
    if not COOKIE_VALUE.fullmatch(value):
        raise ValueError(f"not a cookie value: {value!r}")
    st.html(f"<script>document.cookie = '{name}={value}; max-age={COOKIE_DAYS * 86400}; path=/; "
            f"SameSite=Strict';</script>", unsafe_allow_javascript=True)


def link_for_another_device() -> str:
    """This app's address with the learner key: opened on another device, it shows the same runs."""
    base = (st.context.url or "").split("?")[0]
    return f"{base}?{LINK_PARAM}={learner_key()}"
