"""Colours that carry meaning must be told apart by every learner: about 1 in 12 boys has a
colour-vision deficiency, and a classroom projector washes colours out."""
import pytest

from colour_vision import SIMULATE, difference, grey_difference, least_difference
from ui.lab_charts import DIVERGED_COLOR, OVERFIT_COLOR, RUN_COLORS
from ui.pictures import RIGHT, WRONG


@pytest.mark.parametrize("vision", SIMULATE)
def test_the_watch_strips_right_and_wrong_frames_differ_for_every_eye(vision):
    assert difference(RIGHT, WRONG, vision) > 40  # green and red frames gave 6.9 under deuteranopia


def test_the_watch_strips_frames_differ_in_grey_on_a_projector():
    assert grey_difference(RIGHT, WRONG) > 0.15  # green and red frames gave 0.10


def test_overlaid_runs_differ_for_every_eye():
    assert least_difference(RUN_COLORS[:3]) > 25  # category10 gave runs 1 and 3 a difference of 5.7
    assert least_difference(RUN_COLORS) > 8


@pytest.mark.parametrize("mark", [OVERFIT_COLOR, DIVERGED_COLOR])
def test_no_run_looks_like_the_overfitting_or_divergence_mark(mark):
    assert min(least_difference([run, mark]) for run in RUN_COLORS) > 15  # category10's runs: 5.3
