"""The data page: every control changes what is shown, and every number shown is the engine's own."""
import json
import re

import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from core import data as D
from core.batching import batch_epochs
from core.i18n import catalogue, t


def page(lang: str = "en") -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/data.py"), default_timeout=60)
    at.session_state["lang"] = lang
    return at.run()


@pytest.fixture(scope="module")
def at() -> AppTest:
    """One page for the control tests; each test sets every control it relies on."""
    return page()


def drive(at: AppTest, n: int, batch_size: int, drop_last: bool, order: str = "shuffle") -> AppTest:
    at.slider(key="n_items").set_value(n)
    at.slider(key="batch_size").set_value(batch_size)
    at.toggle(key="drop_last").set_value(drop_last)
    at.selectbox(key="tile_order").set_value(order)
    at.run()
    assert not at.exception
    return at


def metric(at: AppTest, key: str) -> str:
    return next(m.value for m in at.metric if m.label == t(key))


def caption_with(at: AppTest, key: str) -> str:
    text = catalogue("en")[key]
    start = (text["other"] if isinstance(text, dict) else text).split("{")[0]
    return next(c.value for c in at.caption if c.value.startswith(start))


def chart_data(at: AppTest, marker: str):
    """The data of the chart whose spec contains `marker`, as the browser receives it."""
    chart = next(c for c in at.get("vega_lite_chart") if marker in c.proto.spec)
    return pa.ipc.open_stream(chart.proto.datasets[0].data.data).read_all().to_pandas()


def tiles(at: AppTest):
    return chart_data(at, '"facet"')  # the minibatch picture


def shown_epochs(at: AppTest) -> list[list[list[int]]]:
    """Each epoch's minibatches as drawn in the tiles (the grey "left out" row excluded)."""
    return [[list(g.sort_values("slot").item) for _, g in e[e.kept].groupby("row", sort=True)]
            for _, e in tiles(at).groupby("epoch", sort=True)]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_page_renders_in_both_languages(lang):
    at = page(lang)
    assert not at.exception
    assert at.title[0].value == t("data.title", lang)
    headers = [h.value for h in at.header]
    assert headers == [t(f"data.{k}_header", lang) for k in ("samples", "norm", "aug", "batch", "split", "balance")]
    assert at.slider(key="batch_size").label == t("data.batch_size", lang)
    assert len(at.image) == 3 and len(at.image[0].value) == 24  # samples, originals, augmented
    assert at.latex and len(at.get("vega_lite_chart")) == 5  # 3 histograms, tiles, class balance
    histograms = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")[:3]]
    ranges = {"en": ["(0…255)", "(0…1)", "(−1…1)"], "ja": ["（0〜255）", "（0〜1）", "（−1〜1）"]}[lang]
    assert [h["encoding"]["x"]["title"] for h in histograms] == [  # the range on a line of its own
        [t(f"data.stage_{stage}", lang), shown] for stage, shown in zip(("raw", "tensor", "normalized"), ranges)]
    if lang == "ja":
        assert "ミニバッチ" in at.header[3].value and "バッチサイズ" in at.slider(key="batch_size").label
        assert all(not re.search(r"\bthe\b", m.value) for m in at.markdown)  # no English left behind


@pytest.mark.parametrize("n, batch_size, drop_last, iterations, last", [
    (20, 6, False, 4, 2), (20, 6, True, 3, 6),  # ceil(20/6) vs floor(20/6)
    (21, 6, False, 4, 3),  # N changes the last minibatch
    (20, 5, False, 4, 5), (20, 7, False, 3, 6),  # B changes both
    (5, 8, False, 1, 5), (5, 8, True, 0, 0),  # one short minibatch, or none at all
])
def test_controls_change_iterations_and_last_batch(at, n, batch_size, drop_last, iterations, last):
    drive(at, n, batch_size, drop_last)
    assert (int(metric(at, "data.iterations")), int(metric(at, "data.last_batch"))) == (iterations, last)
    assert (iterations, last) == D.batch_plan(n, batch_size, drop_last)
    rounding = r"\rfloor" if drop_last else r"\rceil"
    formula = at.latex[-1].value.strip("$\n")
    assert rounding in formula and f"{n} / {batch_size}" in formula and formula.endswith(f"= {iterations}")
    assert int(metric(at, "data.dropped")) == n - sum(map(len, shown_epochs(at)[0]))
    assert bool(at.warning) == (iterations == 0)
    code = at.code[0].value
    assert f"batch_size={batch_size}, shuffle=True" in code
    assert ("drop_last=True" in code) == drop_last


def test_tiles_are_the_engines_two_epochs(at):
    drive(at, 23, 5, False)
    epochs = shown_epochs(at)
    assert epochs == batch_epochs(23, 5, seed=at.session_state["shuffle_seed"], epochs=2)
    # …which is epoch_indices drawn twice from one generator seeded once, as the Trainer draws it
    generator = D.torch.Generator().manual_seed(at.session_state["shuffle_seed"])
    assert epochs == [[b.tolist() for b in D.epoch_indices(23, 5, generator)] for _ in range(2)]
    assert epochs[0] != epochs[1]
    assert str(epochs[0][0]) in caption_with(at, "data.first_batches")
    drive(at, 23, 5, True)
    assert [len(b) for b in shown_epochs(at)[0]] == [5, 5, 5, 5]
    left = tiles(at).query("not kept")
    assert len(left) == 3 * 2 and int(metric(at, "data.dropped")) == 3  # 23 = 4 × 5 + 3, in both epochs


def test_reshuffle_button_draws_a_new_order(at):
    drive(at, 12, 4, False)
    before, seed = shown_epochs(at), at.session_state["shuffle_seed"]
    at.button(key="reshuffle").click().run()
    assert at.session_state["shuffle_seed"] == seed + 1
    after = shown_epochs(at)
    assert after != before and after == batch_epochs(12, 4, seed=seed + 1)
    assert f"{seed + 1}" in caption_with(at, "data.batch_note_shuffle")
    assert metric(at, "data.iterations") == "3"  # the order changes, the count does not


def test_new_random_draw_changes_only_the_augmented_digits(at):
    originals, augmented = at.image[1].value, at.image[2].value
    at.button(key="new_draw").click().run()
    assert at.image[1].value == originals
    assert all(a != b for a, b in zip(at.image[2].value, augmented))
    assert str(at.session_state["aug_seed"]) in caption_with(at, "data.aug_augmented")


def test_split_and_class_balance_are_the_engines(at, splits):
    sizes = splits.sizes()
    shown = {m.label: m.value for m in at.metric}
    assert [shown[t(f"data.split_{k}")] for k in ("train", "val", "test")] == [f"{sizes[k]:,}" for k in sizes]
    table = at.dataframe[0].value
    bars = chart_data(at, '"xOffset"')
    for name in ("train", "val", "test"):
        counts = getattr(splits, name).class_counts()
        assert table.loc[t(f"data.split_{name}")].tolist() == counts
        assert bars[bars.split == t(f"data.split_{name}")].sort_values("digit")["count"].tolist() == counts


def test_full_training_set_loader_length_is_batch_plans(at, splits):
    drive(at, 20, 32, True)
    iterations, last = D.batch_plan(len(splits.train), 32, True)
    sentence = caption_with(at, "data.loader_len")
    assert f"len(train_loader) = {iterations:,}" in sentence and sentence.rstrip(".").endswith(f" {last}")
    examples = caption_with(at, "data.norm_examples")
    assert "0 → -1.000" in examples and "255 → +1.000" in examples  # from D.normalize itself


@pytest.mark.parametrize("order", D.ORDERS)
def test_the_tiles_take_the_trainers_order_and_show_each_samples_digit(at, splits, order):
    drive(at, 60, 6, False, order)
    seed, digits = at.session_state["shuffle_seed"], splits.train.labels[:60]
    epochs = shown_epochs(at)
    assert epochs == batch_epochs(60, 6, seed, epochs=2, order=D.fixed_order(order, digits, seed))
    drawn = tiles(at)
    assert (drawn.digit == [int(digits[i]) for i in drawn.item]).all()  # each tile: its sample's label
    assert (epochs[0] == epochs[1]) == (order != "shuffle")
    shown_digits = [[int(digits[i]) for i in batch] for batch in epochs[0]]
    if order == "sorted":  # ascending, so each minibatch holds one digit or where one ends and the next begins
        assert sum(shown_digits, []) == sorted(digits.tolist())
        assert all(len(set(batch)) <= 2 for batch in shown_digits)
    else:
        assert any(len(set(batch)) > 2 for batch in shown_digits)  # mixed digits
    assert at.selectbox(key="tile_order").options == [t(f"lab.order_{name}") for name in D.ORDERS]
    assert at.button(key="reshuffle").disabled == (order in ("file", "sorted"))
    assert caption_with(at, f"data.batch_note_{order}").endswith(t("data.drop_note"))
    assert f"shuffle={order == 'shuffle'}" in at.code[0].value
    at.selectbox(key="tile_order").set_value("shuffle").run()


def test_the_order_reads_in_japanese():
    at = page("ja")
    at.selectbox(key="tile_order").set_value("sorted").run()
    assert at.selectbox(key="tile_order").value == "sorted" and at.selectbox(key="tile_order").label == t("lab.order", "ja")
    assert any(c.value.startswith("数字順") for c in at.caption)
