"""The Results page: the model in use read on the validation set, its mistakes, its first layer, the test score."""

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from apptest import SHAPES, finished_job, open_page, shaped_run
from core import confusion as C
from core.train import TrainConfig
from ui.runs import SessionRun


PAGE = "pages/results.py"

def matrix_cells(at: AppTest) -> list[dict]:
    chart = at.get("vega_lite_chart")[0].proto
    return pa.ipc.open_stream(chart.datasets[0].data.data).read_all().to_pylist()


def gallery_captions(at: AppTest) -> list[str]:
    return [img.caption for img in at.get("image")[0].proto.imgs]


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


@pytest.mark.parametrize("lang, val_label, mistakes_label, test_button, test_label", [
    ("en", "Validation accuracy", "Mistakes", "Score the test set", "Test accuracy"),
    ("ja", "検証セットの精度", "間違い", "テストセットで採点する", "テストセットの精度")])
def test_the_default_model_read_on_the_validation_set(lang, val_label, mistakes_label, test_button, test_label):
    at = open_page(PAGE, lang)
    cells = matrix_cells(at)
    assert len(cells) == 100 and sum(c["count"] for c in cells) == 1000  # every validation digit, once
    right = sum(c["count"] for c in cells if c["right"])
    shown = metrics(at)
    assert shown[val_label] == f"{right / 1000:.1%}"
    assert shown[mistakes_label] == f"{1000 - right:,} / 1,000"
    per_digit = {d: sum(c["count"] for c in cells if c["true"] == d and c["right"]) /
                 sum(c["count"] for c in cells if c["true"] == d) for d in range(10)}
    assert list(shown.values())[3] == str(min(per_digit, key=per_digit.get))  # the hardest digit
    top = max((c for c in cells if not c["right"]), key=lambda c: c["count"])
    assert list(shown.values())[2] == f"{top['true']} → {top['predicted']}"  # short: a projector's quarter width
    words = {"en": f"{top['true']} read as {top['predicted']} ({top['count']}×)",
             "ja": f"{top['true']} を {top['predicted']} と予測（{top['count']} 回）"}[lang]
    assert at.metric[2].proto.delta == words
    assert len(at.get("image")) == 3  # the gallery, one mistake's saliency, the first layer's weights
    assert test_label not in shown  # the test set stays unscored until asked
    assert at.button(key="test_score").proto.label == test_button
    at.button(key="test_score").click().run()
    assert test_label in metrics(at)
    at.selectbox(key="filter_true").set_value(8).run()  # another widget: the score stays
    assert test_label in metrics(at)


def test_filters_narrow_the_gallery_to_one_kind_of_mistake():
    at = open_page(PAGE, "en")
    captions = gallery_captions(at)
    assert captions and all(" → " in c for c in captions)
    confidences = [float(c.split("·")[1].strip(" %")) for c in captions]
    assert confidences == sorted(confidences, reverse=True)  # surest mistakes first
    top = max((c for c in matrix_cells(at) if not c["right"]), key=lambda c: c["count"])
    at.selectbox(key="filter_true").set_value(top["true"]).run()
    at.selectbox(key="filter_predicted").set_value(top["predicted"]).run()
    captions = gallery_captions(at)
    assert len(captions) == top["count"]
    assert all(c.startswith(f"{top['true']} → {top['predicted']} ·") for c in captions)
    at.selectbox(key="filter_true").set_value(top["predicted"]).run()  # a digit read as itself is no mistake
    d = top["predicted"]
    right = next(c["count"] for c in matrix_cells(at) if c["true"] == d and c["predicted"] == d)
    total = sum(c["count"] for c in matrix_cells(at) if c["true"] == d)
    assert at.info[0].value.startswith(f"A {d} read as {d} is a right answer, not a mistake: the model reads "
                                       f"{right:,} of the {total:,} {d}s")
    assert not at.success and not any(" → " in c for c in gallery_captions(at))


def test_units_die_during_training_the_same_models_initial_weights_show_it():
    import re

    at = open_page(PAGE, "en")

    def dead() -> int:
        caption = next(c.value for c in at.caption if "never fire" in c.value)
        return int(re.search(r"(\d+) of (the 128 units|these 128)", caption).group(1))

    trained_dead, trained_picture = dead(), at.get("image")[-1].proto.imgs[0].url
    at.radio(key="filters_stage").set_value("initial").run()
    assert dead() < 5 < trained_dead  # before training almost every unit fires on some digit
    assert at.get("image")[-1].proto.imgs[0].url != trained_picture


def test_a_closer_look_at_one_mistake_shows_the_models_probabilities():
    at = open_page(PAGE, "en")
    assert at.selectbox(key="closer_None_None").options == gallery_captions(at)  # the gallery's mistakes, in order
    preds = at.session_state["results"]["val"]
    for i in C.mistakes(preds)[[0, 5]].tolist():
        at.selectbox(key="closer_None_None").set_value(i).run()
        truth, answer = int(preds.labels[i]), int(preds.predicted[i])
        bars = at.get("vega_lite_chart")[1].proto
        rows = pa.ipc.open_stream(bars.datasets[0].data.data).read_all().to_pylist()
        probs = {row["digit"]: row["p"] for row in rows}
        assert max(probs, key=probs.get) == answer != truth and sum(probs.values()) == pytest.approx(1, abs=1e-5)
        caption = next(c.value for c in at.caption if c.value.startswith("True digit"))
        assert caption.startswith(f"True digit {truth}: probability {probs[truth]:.1%}. The model's answer {answer}")
        assert f"Saliency for its answer {answer}" in " ".join(c.value for c in at.caption)


def test_a_cnn_run_shows_its_sixteen_filters_and_counts_dead_units(splits):
    job = finished_job(TrainConfig(model="cnn", epochs=1, train_subset=500, device="cpu"), splits,
                       owner="results-test")
    at = open_page(PAGE, "en", runs=[SessionRun(1, job)])
    captions = " ".join(c.value for c in at.caption)
    assert "your Run 1 — CNN" in captions and "16 filters of 3×3" in captions
    assert "of the 16 filters never fire" in captions


@pytest.mark.parametrize("hidden,activation", SHAPES.values(), ids=SHAPES)
def test_every_shape_shows_its_first_layer_and_says_whether_units_can_die(splits, hidden, activation):
    at = open_page(PAGE, "en", runs=[shaped_run(splits, hidden, activation, owner=f"results-{activation}")])
    captions = " ".join(c.value for c in at.caption)
    if hidden:
        assert f"Each of the first layer's {hidden[0]} units multiplies the 784 pixels" in captions
        assert "No unit dies here" in captions and "never fire" not in captions  # no ReLU: no dead unit
    else:  # the first layer is the output layer: one picture per digit, no hidden unit to die
        assert "no hidden layer, so its first layer is the output layer: each of the 10 digits' scores" in captions
        assert "dies" not in captions and "never fire" not in captions
    pictures = at.get("image")[-1].proto.imgs[0].url
    at.radio(key="filters_stage").set_value("initial").run()  # the same shape's initial weights
    assert not at.exception and at.get("image")[-1].proto.imgs[0].url != pictures


def test_a_loaded_model_is_used_until_a_newer_run_ends(splits):
    from core.models import CNN
    from ui.session import ModelInUse

    loaded = ModelInUse(CNN().eval(), TrainConfig(model="cnn", device="cpu"), 0.1, "loaded", "mine.pt")
    at = open_page(PAGE, "en", loaded_model={"in_use": loaded, "over": None})
    assert "loaded from mine.pt — CNN" in at.caption[0].value
    job = finished_job(TrainConfig(epochs=1, train_subset=300, device="cpu"), splits, owner="results-test")
    at.session_state["runs"] = [SessionRun(1, job)]  # a run that ended after the file was loaded
    at.run()
    assert "your Run 1 — MLP" in at.caption[0].value


def test_an_early_stopped_run_is_described_by_the_epoch_whose_weights_it_kept(splits):
    """Early stopping keeps the best epoch's weights: the model's caption gives that epoch and its
    accuracy (the accuracy the page then measures), and the Lab's banner names the epoch."""
    config = TrainConfig(batch_size=32, train_subset=64, epochs=30, patience=2, device="cpu", learning_rate=3e-3)
    job = finished_job(config, splits, owner="early-stop-test")
    result = job.state.result
    assert result.status == "early_stopped" and result.best_epoch == len(result.epochs) - 2
    best = result.epochs[result.best_epoch - 1]
    at = open_page(PAGE, "en", runs=[SessionRun(1, job)])
    caption, measured = at.caption[0].value, at.metric[0].value  # "… 5 epochs; validation accuracy 30.3 %", "30.3%"
    assert f"batch 32, dropout 0, {result.best_epoch} epoch" in caption
    assert caption.endswith(f"validation accuracy {100 * best.val_acc:.1f} %") and measured == f"{best.val_acc:.1%}"
    lab = open_page("pages/lab.py", "en", runs=[SessionRun(1, job)], overlay=[1])  # shown in the charts
    assert f"best epoch, epoch {result.best_epoch}, are kept (validation accuracy {100 * best.val_acc:.1f} %)" \
        in lab.success[0].value
    loss_chart = lab.get("vega_lite_chart")[0].proto
    kept = next(d for d in loss_chart.datasets if d.name == "kept")  # the dashed line on the loss chart
    assert pa.ipc.open_stream(kept.data.data).read_all().to_pylist() == [
        {"run": "Run 1", "epoch": result.best_epoch, "text": f"kept: epoch {result.best_epoch}",
         "right": result.best_epoch < 0.1 * len(result.epochs)}]  # words right of the line only at the left edge


def test_a_model_trained_on_sorted_digits_points_at_the_last_digits_column(splits):
    config = TrainConfig(order="sorted", optimizer="sgd", learning_rate=0.1, epochs=1, train_subset=2000, device="cpu")
    at = open_page(PAGE, "en", runs=[SessionRun(1, finished_job(config, splits, owner="results-sorted"))])
    column = sum(cell["count"] for cell in matrix_cells(at) if cell["predicted"] == 9)
    sorted_note = "This model was trained on the digits sorted 0…9"
    (note,) = [i.value for i in at.info if i.value.startswith(sorted_note)]
    assert f"Look at column 9: the model answers 9 for {column / len(splits.val):.0%} of all" in note
    assert column > len(splits.val) / 2  # it learned to say the last digit it saw
    shuffled = open_page(PAGE, "en", runs=[shaped_run(splits, (128, 64), "relu", owner="results-shuffled")])
    assert not [i for i in shuffled.info if i.value.startswith(sorted_note)]


def test_a_stack_without_activation_is_folded_into_one_layer_and_compared_with_the_learners_runs(splits):
    def run(number, **settings):
        config = TrainConfig(epochs=1, train_subset=300, device="cpu", **settings)
        return SessionRun(number, finished_job(config, splits, owner=f"results-fold-{number}"))

    no_hidden, linear_stack = run(1, hidden=()), run(2, activation="none")
    at = open_page(PAGE, "en", runs=[no_hidden, linear_stack])
    shown = metrics(at)
    assert float(shown["Largest difference of the logits"]) < 1e-5
    assert shown["Network's accuracy"] == shown["One folded layer's accuracy"]
    assert shown["No hidden layer"] == f"{no_hidden.kept_epoch.val_acc:.1%}"
    assert shown["Hidden layers, no activation"] == f"{linear_stack.kept_epoch.val_acc:.1%}"
    captions = " ".join(c.value for c in at.caption)
    assert "W = W₃·W₂·W₁" in captions and "Not trained yet: Hidden layers with ReLU" in captions
    with_relu = open_page(PAGE, "ja", runs=[no_hidden, linear_stack, run(3)])
    assert "線形層 1 つにまとめられません" in " ".join(m.value for m in with_relu.markdown)
    assert "出力（ロジット）の最大の差" not in metrics(with_relu) and "隠れ層あり・ReLU" in metrics(with_relu)
    assert "まだ学習していない" not in " ".join(c.value for c in with_relu.caption)
