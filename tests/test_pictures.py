"""The pictures' colours: the watch strip's right / wrong frames must be told apart by every learner."""
import numpy as np
import pytest

from ui.pictures import RIGHT, WRONG, framed

# Machado, Oliveira & Fernandes (2009), full severity, applied to linear RGB
SIMULATE = {
    "protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
    "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
    "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]],
}


def linear(srgb: np.ndarray) -> np.ndarray:
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)


@pytest.mark.parametrize("vision", SIMULATE)
def test_right_and_wrong_frames_differ_for_colour_blind_eyes(vision):
    seen_right, seen_wrong = (np.array(SIMULATE[vision]) @ linear(c) for c in (RIGHT, WRONG))
    assert np.linalg.norm(seen_right - seen_wrong) > 0.3  # green (0.17, 0.63, 0.17) and red (0.84, 0.15, 0.16) gave 0.07


def test_right_and_wrong_frames_differ_in_grey_on_a_projector():
    luminance = np.array([0.2126, 0.7152, 0.0722])
    assert abs(luminance @ linear(RIGHT) - luminance @ linear(WRONG)) > 0.15


def test_a_framed_digit_keeps_its_pixels_inside_the_frame():
    digit = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    picture = framed(digit, right=False)
    assert picture.shape == (34, 34, 3)
    assert (picture[0, 0] == WRONG).all() and (picture[3:-3, 3:-3, 0] == digit / 255).all()
