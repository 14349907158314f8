"""The Training Lab's view of what a run answers: trained on digits sorted 0…9, a model ends each epoch
answering mostly 9, and the loss chart marks where each digit's minibatches begin."""
import json

import pyarrow as pa
import pytest

from apptest import finished_job, open_page
from core import data as D
from core.batching import digit_starts
from core.confusion import make_watch_hook
from core.i18n import t
from core.train import TrainConfig
from ui.runs import SessionRun

PAGE = "pages/lab.py"
SORTED = TrainConfig(order="sorted", optimizer="sgd", learning_rate=0.1, batch_size=64, epochs=2, train_subset=2000,
                     device="cpu")  # 32 steps an epoch, about 3 of each digit


def datasets(chart) -> dict:
    """A Vega-Lite chart's named datasets as the browser receives them."""
    return {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets}


def lab_with(config: TrainConfig, splits, owner: str, lang: str = "en"):
    job = finished_job(config, splits, owner=owner, epoch_hook=make_watch_hook(D.to_tensors(splits.val)))
    return job, open_page(PAGE, lang, runs=[SessionRun(1, job)])


@pytest.fixture(scope="module")
def sorted_run(splits):
    return lab_with(SORTED, splits, "answers-sorted")


def test_a_sorted_run_shows_every_epochs_answers_and_ends_answering_nine(sorted_run, splits):
    job, at = sorted_run
    epochs = job.state.snapshot().epochs
    loss, accuracy, answers = at.get("vega_lite_chart")
    rows = datasets(answers)["answers"]
    assert sorted(set(rows.epoch)) == [1, 2] and len(rows) == 20  # 10 digits × 2 epochs
    for e in epochs:
        shown = rows[rows.epoch == e.epoch].sort_values("digit")
        assert shown["count"].tolist() == e.extra["predicted"] and shown.share.sum() == pytest.approx(1)
    last = epochs[-1].extra["predicted"]
    assert max(range(10), key=last.__getitem__) == 9 and last[9] > 0.5 * len(splits.val)  # the last digit it saw
    caption = next(c.value for c in at.caption if c.value.startswith("Run 1 after epoch 2: it answered"))
    assert caption.startswith(f"Run 1 after epoch 2: it answered 9 for {last[9] / len(splits.val):.0%} of the 1,000")
    assert t("lab.answers_sorted", digit=9) in [c.value for c in at.caption]


def test_the_loss_chart_marks_where_each_digit_begins(sorted_run, splits):
    _, at = sorted_run
    marks = datasets(at.get("vega_lite_chart")[0])["digits"]
    starts = digit_starts(splits.train.labels[:2000], 64)
    per_epoch = 32
    assert marks.start.tolist() == [(e * per_epoch + step - 1) / per_epoch for e in (0, 1) for step, _ in starts]
    assert marks.digit.tolist() == list(range(10)) * 2 and marks.named.all()  # 2 epochs: each digit named
    assert marks.text.tolist()[:2] == ["the 0s begin", "the 1s begin"]
    layers = json.loads(at.get("vega_lite_chart")[0].proto.spec)["layer"]
    assert sum(layer.get("data", {}).get("name") == "digits" for layer in layers) == 2  # the lines, their names


def test_a_shuffled_run_gets_one_sentence_and_no_marks(splits):
    job, at = lab_with(TrainConfig(epochs=1, train_subset=300, device="cpu"), splits, "answers-shuffled")
    assert len(at.get("vega_lite_chart")) == 2  # loss and accuracy only
    assert datasets(at.get("vega_lite_chart")[0])["digits"].empty
    counts = job.state.snapshot().epochs[-1].extra["predicted"]
    top = max(range(10), key=counts.__getitem__)
    assert any(c.value.startswith(f"Run 1 after epoch 1: it answered {top} for") for c in at.caption)


def test_the_answers_read_in_japanese(splits):
    _, at = lab_with(SORTED, splits, "answers-ja", lang="ja")
    spec = json.loads(at.get("vega_lite_chart")[2].proto.spec)
    assert spec["layer"][0]["encoding"]["y"]["title"] == "予測"
    assert any(c.value.startswith("数字順にすると") for c in at.caption)
    assert any("と予測しました" in c.value for c in at.caption)
