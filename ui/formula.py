"""Display math that is shown whole.

st.latex draws a formula in a box that hides what sticks out of it, and KaTeX sizes that box a few
pixels short of a fraction (measured in Chromium: 4 px of ∂z cut at the top, 7 px of ∂y₁ at the
bottom). An invisible rule, a little taller and deeper than a fraction, gives the box room.
"""
import streamlit as st

STRUT = r"\rule[-1.3em]{0pt}{2.8em}"  # zero width: from 1.3 em under the baseline to 1.5 em above it


def formula(tex: str) -> None:
    """Draw one line of display math (LaTeX, as st.latex takes it)."""
    st.latex(STRUT + tex)
