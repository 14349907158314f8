"""Streamlit glue shared by the pages: language, cached data, the session's current model.

Only this package and `pages/` import Streamlit; they turn widgets into plain values for `core`.
"""
from streamlit.runtime.pages_manager import PagesManager

if PagesManager.uses_pages_directory:
    # Our page scripts live in pages/ (the design card), which Streamlit also reads as its legacy
    # multipage folder until the process's first st.navigation call. A student opening a shared
    # link such as /lab?optimizer=sgd on a fresh server would then run the page without app.py
    # (no language picker, no navigation). Leave the legacy mode and run again through app.py.
    PagesManager.uses_pages_directory = False
    import streamlit as st

    st.rerun()
