"""Layout rules Streamlit's own options cannot express (CSS container queries): ui/<page>.css."""
from pathlib import Path

import streamlit as st

HERE = Path(__file__).resolve().parent


def page_style(page: str) -> None:
    """Apply ui/<page>.css to the page being drawn; style-only HTML takes no room on it."""
    st.html(HERE / f"{page}.css")
