"""Small pictures built from tensors."""
import numpy as np

from ui.pictures import WRONG, framed


def test_a_framed_digit_keeps_its_pixels_inside_the_frame():
    digit = np.arange(28 * 28, dtype=np.uint8).reshape(28, 28)
    picture = framed(digit, right=False)
    assert picture.shape == (34, 34, 3)
    assert (picture[0, 0] == WRONG).all() and (picture[3:-3, 3:-3, 0] == digit / 255).all()
