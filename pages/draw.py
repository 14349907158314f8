"""Draw a digit: the model reads the drawing live, shows what it sees and why, and learns it in one step."""
import streamlit as st
import torch
from streamlit_drawable_canvas import st_canvas

from core import data as D
from core import digits
from core.i18n import fmt_int
from core.train import OPTIMIZERS, evaluate, split_batches
from ui.digit_views import activation_picture, probability_bars, saliency_picture
from ui.pictures import enlarge
from ui.session import ModelInUse, current_model, dataset, model_caption, tr
from ui.styles import page_style

CANVAS = 280  # pixels: ten canvas pixels per MNIST pixel
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1]


def discard() -> None:
    st.session_state.pop("lesson", None)


def clear() -> None:
    """A new canvas key mounts a fresh, empty canvas: the only clear the page itself can trigger."""
    st.session_state.canvas_round = st.session_state.get("canvas_round", 0) + 1
    discard()


def keep(lesson: digits.Lesson, val_acc: float, base: ModelInUse) -> None:
    """Make the taught copy this session's model; `root` is the run's or default model it grew from."""
    root = st.session_state["taught_model"]["root"] if base.origin == "taught" else base.key
    st.session_state.taught_model = {"in_use": ModelInUse(lesson.model, base.config, val_acc, "taught", key=f"{root}-taught"),
                                     "root": root}
    discard()


def forget_taught() -> None:
    st.session_state.pop("taught_model", None)


def val_accuracy(model: torch.nn.Module) -> float:
    """Accuracy on the validation set; a shared model is only read (it is in evaluation mode already)."""
    model = digits.for_inference(model)
    return evaluate(model, split_batches(D.to_tensors(dataset().val, next(model.parameters()).device)))[1]


page_style("draw")  # the one-line answer on narrow screens (ui/draw.css)
st.title(tr("draw.title"))
st.write(tr("draw.intro"))
in_use = current_model()
st.caption(model_caption(in_use))
if in_use.origin == "taught":
    st.button(tr("draw.forget"), key="forget", on_click=forget_taught, icon=":material/undo:")

row = st.container(horizontal=True, gap="large", key="draw_row")  # the pad keeps the canvas's width:
pad, result = row.container(width=CANVAS), row.container(key="draw_result")  # half of 1024 px would cut it
with pad:
    stroke = st.slider(tr("draw.stroke"), 5, 40, 20, key="stroke")
    drawing = st_canvas(stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000", height=CANVAS,
                        width=CANVAS, drawing_mode="freedraw", return_image_data=True,
                        key=f"canvas_{st.session_state.get('canvas_round', 0)}")
    answer = st.container(key="draw_answer")  # seen only where the result wraps below the canvas
    st.button(tr("draw.clear"), key="clear", on_click=clear, icon=":material/delete:")

digit = digits.to_mnist(drawing.image_data)  # (28, 28) uint8, or None for an empty canvas
if digit is None:
    result.info(tr("draw.blank"), icon=":material/draw:")
    st.stop()
x = digits.model_input(digit)  # (1, 1, 28, 28) in [-1, 1]
probs = digits.predict(in_use.model, x)  # (10,)
top = int(probs.argmax())
confidence = f"{probs[top]:.1%}"
answer.markdown(tr("draw.answer_line", digit=top, p=confidence))
with result:
    st.metric(tr("draw.prediction"), str(top), help=tr("draw.prediction_help"))
    st.caption(tr("draw.confidence", p=confidence))
    st.altair_chart(probability_bars({tr("draw.series_now"): probs}), width="stretch")

st.header(tr("draw.sees_header"))
sees, why = st.columns(2, gap="large")
sees.caption(tr("draw.sees_caption"))
sees.image(enlarge(digit.numpy()))
why.caption(tr("draw.saliency_caption", digit=top))
why.image(enlarge(saliency_picture(digit, digits.saliency(in_use.model, x))), clamp=True)

st.header(tr("draw.inside_header"))
config = in_use.config
layers = digits.activations(in_use.model, x)
if config.model == "cnn":
    st.caption(tr("draw.inside_caption_cnn"))
elif layers:
    st.caption(tr("draw.inside_caption_mlp", how=tr(f"draw.inside_how_{config.activation}")))
else:
    st.caption(tr("draw.inside_no_hidden"))
signed_values = config.model == "mlp" and config.activation in ("tanh", "none")  # outputs below 0 as well
for first in range(0, len(layers), 2):  # two layers to a row
    for column, (layer, h) in zip(st.columns(2, gap="large"), enumerate(layers[first:first + 2], start=first + 1)):
        cell = 20 if h.dim() == 1 else 4  # a unit is a 20-pixel square; a feature map keeps its pixels
        column.image(enlarge(activation_picture(h, signed_values), cell=cell), clamp=True)
        column.caption(tr("draw.layer_active", layer=layer, count=int((h > 0).sum()), n=fmt_int(h.numel())))

st.header(tr("draw.teach_header"))
st.write(tr("draw.teach_intro"))
label = st.segmented_control(tr("draw.true_label"), list(range(10)), key="teach_label")
chosen, rate = st.columns(2)
optimizer = chosen.selectbox(tr("draw.optimizer"), list(OPTIMIZERS), format_func=OPTIMIZERS.get, key="teach_optimizer")
lr = rate.select_slider(tr("draw.learning_rate"), LEARNING_RATES, value=0.001, key="teach_lr")
if st.button(tr("draw.teach"), key="teach", disabled=label is None, type="primary", icon=":material/school:"):
    lesson = digits.teach_step(in_use.model, x, label, optimizer, lr)
    st.session_state.lesson = {"lesson": lesson, "x": x, "val": (val_accuracy(in_use.model), val_accuracy(lesson.model))}

saved = st.session_state.get("lesson")
if saved is not None and torch.equal(saved["x"], x):  # a lesson on an earlier drawing is not shown
    lesson, (val_before, val_after) = saved["lesson"], saved["val"]
    p_before, p_after = lesson.before[lesson.label].item(), lesson.after[lesson.label].item()
    st.altair_chart(probability_bars({tr("draw.series_before"): lesson.before,
                                      tr("draw.series_after"): lesson.after}), width="stretch")
    loss, prob, val = st.columns(3)
    loss.metric(tr("draw.loss"), f"{lesson.loss_before:.4f} → {lesson.loss_after:.4f}",
                f"{lesson.loss_after - lesson.loss_before:+.4f}", delta_color="inverse")
    prob.metric(tr("draw.probability_of", label=lesson.label), f"{p_before:.1%} → {p_after:.1%}",
                tr("draw.points", d=f"{100 * (p_after - p_before):+.1f}"))
    val.metric(tr("draw.val_accuracy"), f"{val_before:.1%} → {val_after:.1%}",
               tr("draw.points", d=f"{100 * (val_after - val_before):+.1f}"), help=tr("draw.val_help", n=fmt_int(len(dataset().val))))
    st.caption(tr("draw.teach_note"))
    keep_col, discard_col = st.columns(2)
    keep_col.button(tr("draw.keep"), key="keep", on_click=keep, args=(lesson, val_after, in_use),
                    icon=":material/check:", width="stretch")
    discard_col.button(tr("draw.discard"), key="discard", on_click=discard, icon=":material/close:", width="stretch")
