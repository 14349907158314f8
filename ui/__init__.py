"""Streamlit glue shared by the pages: language, cached data, the session's current model.

Only this package and `pages/` import Streamlit; they turn widgets into plain values for `core`.
"""
