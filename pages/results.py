"""Results: where the model in use goes wrong on the validation set, what its first layer looks for,
and the test set's one final score."""
import streamlit as st

from core import confusion as C
from core import data as D
from core import digits
from core.models import first_layer_activity, first_layer_filters
from core.train import init_model
from ui.digit_views import probability_bars, saliency_picture
from ui.lab_answers import sorted_digit_starts
from ui.linearity import linearity_section
from ui.pictures import enlarge, signed, tile
from ui.results_charts import confusion_chart
from ui.session import current_model, dataset, model_caption, tr

SHOWN = 40  # mistakes in the gallery
ANY = None  # the filters' "any digit"


def per_model(name: str, compute):
    """compute() once per model in use in this session: the filters rerun the page, the model stays.
    (The model itself is kept to compare with, not its id(): a freed model's id can come back.)"""
    if st.session_state.get("results_model") is not in_use.model:
        st.session_state.results_model, st.session_state.results = in_use.model, {}
    if name not in st.session_state.results:
        st.session_state.results[name] = compute()
    return st.session_state.results[name]


st.title(tr("results.title"))
st.write(tr("results.intro"))
in_use = current_model()
st.caption(model_caption(in_use))
splits = dataset()
device = next(in_use.model.parameters()).device
val = D.to_tensors(splits.val, device)

preds = per_model("val", lambda: C.predict_split(in_use.model, val))
matrix = C.confusion_matrix(preds)
wrong = int((preds.predicted != preds.labels).sum())
top = C.top_confusions(matrix, k=3)
per_digit = C.per_class_accuracy(matrix).nan_to_num(nan=1.0)  # (10,) a digit with no samples is no hard one
hardest = int(per_digit.argmin())
with st.container(horizontal=True, horizontal_alignment="distribute", gap="large"):  # wraps on a narrow screen
    st.metric(tr("results.val_accuracy"), f"{preds.accuracy:.1%}", width="content")
    st.metric(tr("results.mistakes"), f"{wrong:,} / {len(preds.labels):,}", width="content")
    if top:
        true, predicted, n = top[0]  # "8 → 3" stays short; the words go below it
        st.metric(tr("results.most_confused"), f"{true} → {predicted}",
                  tr("results.pair_times", true=true, predicted=predicted, n=n), delta_color="off", delta_arrow="off",
                  width="content")
    st.metric(tr("results.hardest"), str(hardest), tr("results.read_right", p=f"{per_digit[hardest]:.1%}"),
              delta_color="off", delta_arrow="off", width="content")

st.header(tr("results.matrix_header"))
st.caption(tr("results.matrix_caption"))
if in_use.config.order == "sorted":  # trained on digits sorted 0…9: each epoch ended on the last digit
    last = sorted_digit_starts(in_use.config)[-1][1]
    st.info(tr("results.sorted_column", digit=last, share=f"{matrix[:, last].sum() / matrix.sum():.0%}"))
st.altair_chart(confusion_chart(matrix), width="stretch")
if top:
    pairs = [tr("results.pair_times", true=t, predicted=p, n=n) for t, p, n in top]
    st.caption(tr("results.top", pairs=tr("results.list_separator").join(pairs)))

st.header(tr("results.gallery_header"))
st.caption(tr("results.gallery_caption"))
digit_names = {ANY: tr("results.any_digit"), **{d: str(d) for d in range(10)}}
left, right = st.columns(2)
true_digit = left.selectbox(tr("results.filter_true"), list(digit_names), key="filter_true", format_func=digit_names.get)
predicted = right.selectbox(tr("results.filter_predicted"), list(digit_names), key="filter_predicted",
                            format_func=digit_names.get)
shown = C.mistakes(preds, true_digit, predicted)
if true_digit == predicted != ANY:  # a digit read as itself: right answers, not mistakes
    of_digit = preds.labels == true_digit
    st.info(tr("results.same_digit", digit=true_digit, n=int(of_digit.sum()),
               right=int((of_digit & (preds.predicted == true_digit)).sum())))
elif len(shown) == 0:
    st.success(tr("results.no_mistakes"))
else:
    captions = {int(i): tr("results.mistake", true=int(preds.labels[i]), predicted=int(preds.predicted[i]),
                           p=f"{preds.confidence[i]:.0%}") for i in shown[:SHOWN]}
    st.caption(tr("results.shown", shown=len(captions), count=len(shown)))
    st.image([splits.val.images[i].numpy() for i in captions], caption=list(captions.values()), width=84)
    st.subheader(tr("results.closer_header"))
    i = st.selectbox(tr("results.closer"), list(captions), format_func=captions.get,
                     key=f"closer_{true_digit}_{predicted}")  # options change with the filters
    x = val.x[i:i + 1]  # (1, 1, 28, 28)
    probs, answer, truth = digits.predict(in_use.model, x), int(preds.predicted[i]), int(preds.labels[i])
    look, bars = st.columns([1, 2], gap="large")
    look.image(enlarge(saliency_picture(splits.val.images[i], digits.saliency(in_use.model, x))), clamp=True)
    look.caption(tr("results.closer_saliency", predicted=answer))
    bars.altair_chart(probability_bars({tr("results.series_model"): probs}), width="stretch")
    bars.caption(tr("results.closer_caption", true=truth, p_true=f"{probs[truth]:.1%}", predicted=answer,
                    p_predicted=f"{probs[answer]:.1%}"))

st.header(tr("results.filters_header"))
stages = {k: tr(f"results.stage_{k}") for k in ("trained", "initial")}
stage = st.radio(tr("results.stage"), list(stages), format_func=stages.get, horizontal=True, key="filters_stage")
config = in_use.config
model = in_use.model if stage == "trained" else per_model("initial", lambda: init_model(config, device))
filters = first_layer_filters(model)  # (128, 28, 28) for the lesson's MLP, (10, 28, 28) without hidden layers
first = "output" if config.model == "mlp" and not config.hidden else config.model  # the first layer is the output layer
st.caption(tr(f"results.filters_caption_{first}", n=len(filters)))
if config.model == "cnn" or (first == "mlp" and config.activation == "relu"):  # units die where a ReLU follows
    dead = per_model(f"dead_{stage}",
                     lambda: int((first_layer_activity(digits.for_inference(model), val.x) == 0).sum()))
    dead_key = f"results.dead_units_{config.model}" if stage == "trained" else "results.dead_units_initial"
    st.caption(tr(dead_key, count=dead, n=len(filters)))
elif first == "mlp":
    st.caption(tr(f"results.no_dead_units_{config.activation}"))
# one colour scale, the trained weights', for every unit and both stages: a pale unit has small weights
scale = first_layer_filters(in_use.model).abs().flatten().quantile(0.99).item()
pictures = [signed(f, under=1.0, scale=scale) for f in filters]  # on white: red = positive, blue = negative
st.image(enlarge(tile(pictures, columns=min(16, len(pictures))), cell=12 if config.model == "cnn" else 3), clamp=True)

linearity_section(in_use, val, per_model)  # "without nonlinearity the stack is one linear layer", measured

st.header(tr("results.test_header"))
st.caption(tr("results.test_caption"))
if st.button(tr("results.test_button"), key="test_score", icon=":material/flag:"):
    per_model("test", lambda: C.predict_split(in_use.model, D.to_tensors(splits.test, device)))
if "test" in st.session_state.results:  # shown until the model changes
    test = st.session_state.results["test"]
    st.metric(tr("results.test_accuracy"), f"{test.accuracy:.1%}",
              tr("results.test_vs_val", d=f"{100 * (test.accuracy - preds.accuracy):+.1f}"),
              delta_color="off", delta_arrow="off")
