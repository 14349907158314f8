"""The draw page without a browser: a drawing is handed to the canvas's state as the browser would send it.

The canvas component (streamlit-drawable-canvas, Components v2) keeps what the browser sent under
its key: {"drawing": {"raw": fabric JSON, "data": PNG data URL}}. Setting that state is the
drawing; the strokes themselves are drawn in tests/e2e/test_draw_browser.py.
"""
import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from apptest import SHAPES, open_page, shaped_run
from conftest import ROOT
from core import digits
from core.i18n import t
from core.pretrained import default_model


def png_url(rgba: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgba).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def page(lang: str = "en", drawing: np.ndarray | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/draw.py"), default_timeout=60)
    at.session_state["lang"] = lang
    if drawing is not None:
        at.session_state["canvas_0"] = {"drawing": {"raw": {"objects": []}, "data": png_url(drawing)}}
    at.run()
    assert not at.exception
    return at


def prediction(at: AppTest, lang: str = "en") -> str:
    return next(m.value for m in at.metric if m.label == t("draw.prediction", lang))


@pytest.fixture(scope="module")
def drawn(splits):
    """A test-set 0 drawn on the canvas, and what the default model reads from it."""
    image = splits.test.images[0]
    assert splits.test.labels[0] == 0
    rgba = digits.as_canvas(image, scale=8, top=30, left=40)
    probs = digits.predict(default_model(splits).model, digits.model_input(digits.to_mnist(rgba)))
    return rgba, probs


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_an_empty_canvas_asks_for_a_drawing_and_predicts_nothing(lang):
    at = page(lang)
    assert at.title[0].value == t("draw.title", lang)
    assert [i.value for i in at.info] == [t("draw.blank", lang)]
    assert not at.metric and not at.get("image")
    default = {"en": "Model in use: the default model", "ja": "使用中のモデル: 既定のモデル"}[lang]
    assert any(c.value.startswith(default) for c in at.caption)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_drawing_gets_the_models_prediction_the_28x28_view_and_the_saliency(lang, drawn):
    rgba, probs = drawn
    at = page(lang, rgba)
    assert not at.info
    assert prediction(at, lang) == "0" == str(int(probs.argmax()))
    assert t("draw.confidence", lang, p=f"{probs.max():.1%}") in [c.value for c in at.caption]
    # the one-line answer under the canvas, for screens where the prediction wraps below it (ui/draw.css)
    assert t("draw.answer_line", lang, digit=0, p=f"{probs.max():.1%}") in [m.value for m in at.markdown]
    assert len(at.get("vega_lite_chart")) == 1  # the ten probabilities
    assert len(at.get("image")) == 4  # what the model sees, the saliency over it, the two hidden layers
    assert t("draw.saliency_caption", lang, digit=0) in [c.value for c in at.caption]


def test_the_hidden_layers_show_what_the_model_computes_inside(drawn, splits):
    rgba, _ = drawn
    at = page("en", rgba)
    model = default_model(splits).model
    x = digits.model_input(digits.to_mnist(rgba))
    with torch.no_grad():
        h1, h2 = model.hidden(x)
    assert torch.equal(model.fc3(h2), model(x))  # the second hidden layer is what the output reads
    captions = [c.value for c in at.caption]
    assert f"Hidden layer 1: {int((h1 > 0).sum())} of 128 values are above 0." in captions
    assert f"Hidden layer 2: {int((h2 > 0).sum())} of 64 values are above 0." in captions


def test_hidden_layers_are_laid_out_as_grids_of_units_or_feature_maps():
    from ui.digit_views import activation_picture

    assert activation_picture(torch.rand(128)).shape == (8, 16, 3)  # 8 rows of 16 units
    assert activation_picture(torch.rand(64)).shape == (8, 8, 3)
    maps = activation_picture(torch.rand(16, 28, 28))  # 16 feature maps, 8 to a row, 1-pixel gaps
    assert maps.shape == (2 * 29 - 1, 8 * 29 - 1, 3)
    off = activation_picture(torch.tensor([0.0, 2.0, 1.0, 0.0] * 16))
    assert off.max() == 1 and (off[0, 0] == 0).all()  # black where the ReLU cut the value to 0


@pytest.mark.parametrize("hidden,activation", SHAPES.values(), ids=SHAPES)
def test_every_shape_shows_each_of_its_hidden_layers(drawn, splits, hidden, activation):
    run = shaped_run(splits, hidden, activation, owner=f"draw-{activation}")
    at = open_page("pages/draw.py", "en", runs=[run], canvas_0={"drawing": {"raw": {"objects": []},
                                                                           "data": png_url(drawn[0])}})
    captions = [c.value for c in at.caption]
    assert any(c.startswith(f"Model in use: your Run 1 — MLP {' → '.join(map(str, [784, *hidden, 10]))}")
               for c in captions)
    assert len(at.get("image")) == 2 + len(hidden)  # what it sees, the saliency, one picture per hidden layer
    x = digits.model_input(digits.to_mnist(drawn[0]))
    with torch.no_grad():
        layers = run.job.state.result.model.hidden(x)
    for i, (h, width) in enumerate(zip(layers, hidden), 1):
        assert f"Hidden layer {i}: {int((h > 0).sum())} of {width} values are above 0." in captions
    inside = t("draw.inside_no_hidden") if not hidden else t(
        "draw.inside_caption_mlp", how=t(f"draw.inside_how_{activation}"))
    assert inside in captions


def test_teaching_one_step_shows_before_and_after_and_can_be_kept_or_discarded(drawn):
    rgba, probs = drawn
    at = page("en", rgba)
    assert at.button(key="teach").disabled  # no label chosen yet
    at.button_group(key="teach_label").set_value(6)
    at.selectbox(key="teach_optimizer").set_value("sgd")
    at.select_slider(key="teach_lr").set_value(0.003).run()
    at.button(key="teach").click().run()
    assert not at.exception
    lesson = at.session_state["lesson"]["lesson"]
    assert lesson.label == 6 and lesson.loss_after < lesson.loss_before
    assert torch.allclose(lesson.before, probs)
    values = {m.label: m.value for m in at.metric}
    assert values[t("draw.loss")] == f"{lesson.loss_before:.4f} → {lesson.loss_after:.4f}"
    assert values[t("draw.probability_of", label=6)] == f"{lesson.before[6]:.1%} → {lesson.after[6]:.1%}"
    assert t("draw.val_accuracy") in values
    assert len(at.get("vega_lite_chart")) == 2  # now also before/after the step

    at.button(key="discard").click().run()
    assert "lesson" not in at.session_state and "taught_model" not in at.session_state
    at.button(key="teach").click().run()
    at.button(key="keep").click().run()
    assert not at.exception and "lesson" not in at.session_state
    kept = at.session_state["taught_model"]
    assert kept["in_use"].origin == "taught" and kept["root"] == "default"  # grown from the default model
    assert 0 <= kept["in_use"].val_acc <= 1
    assert any("your taught copy" in c.value for c in at.caption)  # the page now predicts with it


def test_clear_mounts_an_empty_canvas_and_drops_the_lesson(drawn):
    at = page("en", drawn[0])
    at.button_group(key="teach_label").set_value(0).run()
    at.button(key="teach").click().run()
    at.button(key="clear").click().run()
    assert not at.exception
    assert at.session_state["canvas_round"] == 1 and "lesson" not in at.session_state
    assert [i.value for i in at.info] == [t("draw.blank")] and not at.metric


def test_an_unreadable_drawing_is_treated_as_blank_never_a_crash():
    at = page("en", np.zeros((280, 280, 4), dtype=np.uint8))  # all transparent: nothing drawn
    assert [i.value for i in at.info] == [t("draw.blank")]
