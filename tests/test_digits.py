"""Canvas → MNIST preprocessing, prediction, saliency and one teaching step (core/digits.py)."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core import data as D
from core import digits
from core.models import MLP
from core.pretrained import default_model


def canvas(size: int = 280) -> np.ndarray:
    """An empty canvas as the page configures it: opaque black RGBA."""
    rgba = np.zeros((size, size, 4), dtype=np.uint8)
    rgba[..., 3] = 255
    return rgba


def disc(rgba: np.ndarray, row: int, col: int, radius: int) -> np.ndarray:
    """A white pen dot, as a click on the canvas leaves it."""
    r, c = np.indices(rgba.shape[:2])
    rgba[(r - row) ** 2 + (c - col) ** 2 <= radius ** 2, :3] = 255
    return rgba


def extent(digit: torch.Tensor) -> tuple[int, int]:
    """Height and width of the lit pixels' bounding box."""
    lit = digit > 0
    return int(lit.any(1).sum()), int(lit.any(0).sum())


@pytest.fixture(scope="module")
def model(splits):
    return default_model(splits).model


# canvas → 28×28 -------------------------------------------------------------------------------

def test_ink_is_brightness_times_opacity_for_every_canvas_format():
    black = disc(canvas(40), 20, 20, 6)
    transparent = black.copy()
    transparent[..., 3] = np.where(black[..., 0] > 0, 255, 0)
    transparent[..., :3] = np.where(black[..., :3] > 0, 255, 123)  # colour under alpha 0 is no ink
    expected = black[..., 0] / 255
    for image in (black, transparent, black[..., :3], black[..., 0]):
        assert np.allclose(digits.ink(image), expected)


def test_an_empty_canvas_is_blank_and_gives_no_digit():
    faint = canvas()
    faint[..., :3] = 40  # a grey haze below the ink threshold is no drawing
    for image in (None, canvas(), faint, np.zeros((0, 0, 4), np.uint8)):
        assert digits.to_mnist(image) is None
    assert digits.to_mnist(disc(canvas(), 140, 140, 1)) is not None  # the smallest dot is a drawing


def test_drawing_is_cropped_fitted_to_20x20_and_centred_by_mass():
    rgba = canvas()
    rgba[30:230, 200:240, :3] = 255  # a tall bar near the right edge, 200 × 40 canvas pixels
    digit = digits.to_mnist(rgba)
    assert digit.shape == (28, 28) and digit.dtype == torch.uint8 and digit.max() == 255
    assert extent(digit) == (20, 4)  # the long side becomes 20, the aspect ratio is kept
    row, col = digits.centre_of_mass(digit.numpy().astype(float))
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


@pytest.mark.parametrize("draw", [
    lambda c: disc(c, 140, 140, 1),  # a single dot
    lambda c: disc(c, 3, 276, 10),  # a dot in the corner
    lambda c: c.__setitem__((slice(0, 12), slice(None), slice(0, 3)), 255) or c,  # a stroke along the top border
    lambda c: c.__setitem__((slice(None), slice(270, 280), slice(0, 3)), 255) or c,  # along the right border
    lambda c: c.__setitem__((slice(None), slice(None), slice(0, 3)), 255) or c,  # all ink
], ids=["dot", "corner", "top", "right", "full"])
def test_dots_and_border_strokes_still_give_a_sane_centred_digit(draw):
    digit = digits.to_mnist(draw(canvas()))
    assert digit.shape == (28, 28) and digit.max() == 255
    assert max(extent(digit)) == 20  # fitted to the 20×20 box, never cut by the 28×28 frame
    row, col = digits.centre_of_mass(digit.numpy().astype(float))
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1
    x = digits.model_input(digit)
    assert x.shape == (1, 1, 28, 28) and x.min() >= -1 and x.max() <= 1


def test_no_random_scribble_crashes_the_preprocessing():
    rng = np.random.default_rng(0)
    for _ in range(30):
        h, w = rng.integers(1, 300, size=2)
        image = rng.integers(0, 256, size=(h, w, 4), dtype=np.uint8) * (rng.random((h, w, 1)) < 0.02)
        digit = digits.to_mnist(image)
        assert digit is None or (digit.shape == (28, 28) and max(extent(digit)) <= 20)


def test_an_enlarged_mnist_digit_comes_back_as_it_was(splits):
    """MNIST's digits were made by the same steps, so canvas → 28×28 undoes `as_canvas`."""
    image = splits.test.images[0]
    back = digits.to_mnist(digits.as_canvas(image, scale=10))
    assert (back.float() - image.float()).abs().mean() < 10  # of 255: a little blur, the same place
    assert all(abs(a - b) <= 1 for a, b in zip(extent(back), extent(image)))


def test_canvas_preprocessing_keeps_mnist_test_accuracy_within_one_point(splits, model):
    """The 1,000 test digits drawn on a 280×280 canvas at random sizes and places read as well as the originals."""
    images, labels = splits.test.images, splits.test.labels
    rng = np.random.default_rng(0)
    drawn = []
    for image in images:
        scale = int(rng.integers(5, 11))  # the digit's 28×28 becomes 140…280 canvas pixels
        top, left = (int(v) for v in rng.integers(0, 280 - 28 * scale + 1, size=2))
        drawn.append(digits.to_mnist(digits.as_canvas(image, scale=scale, top=top, left=left)))
    with torch.no_grad():
        direct = (model(D.normalize(images)).argmax(1) == labels).float().mean().item()
        canvas_acc = (model(D.normalize(torch.stack(drawn))).argmax(1) == labels).float().mean().item()
    assert len(labels) == 1000 and direct > 0.8
    assert abs(canvas_acc - direct) <= 0.01, (direct, canvas_acc)


# reading it -----------------------------------------------------------------------------------

def test_predict_gives_probabilities_without_touching_the_shared_model(splits, model):
    x = digits.model_input(splits.test.images[0])
    probs = digits.predict(model, x)
    assert probs.shape == (10,) and torch.isclose(probs.sum(), torch.tensor(1.0))
    assert probs.argmax() == splits.test.labels[0]
    training = MLP(dropout=0.5, batchnorm=True).train()  # a run's model still in training mode
    first, second = digits.predict(training, x), digits.predict(training, x)
    assert torch.equal(first, second) and training.training  # evaluation mode on a copy: no dropout noise


@pytest.mark.parametrize("hidden,activation", [((), "tanh"), ((64, 64, 64, 64), "sigmoid"), ((128, 64), "none")])
def test_any_shape_is_read_layer_by_layer(splits, hidden, activation):
    model = MLP(dropout=0.3, batchnorm=True, hidden=hidden, activation=activation).train()
    x = digits.model_input(splits.test.images[0])
    layers = digits.activations(model, x)
    assert [h.shape for h in layers] == [(w,) for w in hidden] and model.training  # read on an eval copy
    if activation == "sigmoid":
        assert all(((0 < h) & (h < 1)).all() for h in layers)
    probs = digits.predict(model, x)
    assert probs.shape == (10,) and torch.isclose(probs.sum(), torch.tensor(1.0))
    assert digits.saliency(model, x).shape == (28, 28)


def test_saliency_is_the_gradient_of_the_top_logit(splits, model):
    x = digits.model_input(splits.test.images[1])
    grad = digits.saliency(model, x)
    assert grad.shape == (28, 28) and grad.abs().max() > 0
    assert all(p.grad is None for p in model.parameters())  # the shared weights keep no gradient
    top = digits.predict(model, x).argmax()
    pixel = divmod(int(grad.abs().argmax()), 28)
    eps = 1e-3
    bumped = x.clone()
    bumped[0, 0, pixel[0], pixel[1]] += eps
    with torch.no_grad():
        finite = (model(bumped)[0, top] - model(x)[0, top]).item() / eps
    assert finite == pytest.approx(grad[pixel].item(), rel=0.05, abs=1e-3)


# teaching it ----------------------------------------------------------------------------------

def test_one_teaching_step_moves_a_copy_towards_the_label(splits, model):
    x = digits.model_input(splits.test.images[0])  # a 0
    state = copy.deepcopy(model.state_dict())
    lesson = digits.teach_step(model, x, 6, "sgd", 0.003)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())  # the original is untouched
    assert lesson.model is not model and lesson.label == 6
    assert torch.allclose(lesson.before, digits.predict(model, x))
    assert lesson.loss_before == pytest.approx(-torch.log(lesson.before[6]).item(), rel=1e-4)
    assert lesson.loss_after == pytest.approx(-torch.log(lesson.after[6]).item(), rel=1e-3, abs=1e-5)
    assert lesson.loss_after < lesson.loss_before and lesson.after[6] > lesson.before[6]
    assert torch.allclose(lesson.after, digits.predict(lesson.model, x))


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "rmsprop", "adagrad"])
def test_every_optimizer_teaches_a_model_with_dropout_and_batchnorm(optimizer):
    torch.manual_seed(0)
    model = MLP(dropout=0.3, batchnorm=True).eval()
    x = D.normalize(torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8))
    lesson = digits.teach_step(model, x, 3, optimizer, 0.01)  # one example: batch norm must not need a batch
    assert lesson.loss_after < lesson.loss_before
    assert np.isfinite(lesson.loss_after) and not lesson.model.training
    with torch.no_grad():
        assert F.softmax(lesson.model(x), 1)[0, 3].item() == pytest.approx(lesson.after[3].item(), rel=1e-5)
