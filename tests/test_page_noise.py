"""The noise page measures the model in use (or a fresh one) and draws its four plots."""
import pyarrow as pa
from streamlit.testing.v1 import AppTest

import pytest

from apptest import SHAPES, finished_job, open_page, shaped_run
from core import data as D
from core.models import shape_text
from core.noise import make_epoch_hook
from core.train import TrainConfig
from ui.runs import SessionRun


PAGE = "pages/noise.py"

def charts(at: AppTest) -> list:
    return [c.proto for c in at.get("vega_lite_chart")]


def plotted(chart) -> list[dict]:
    """Every data row a chart carries (Streamlit sends them as Arrow tables beside the spec)."""
    return [row for d in chart.datasets for row in pa.ipc.open_stream(d.data.data).read_all().to_pylist()]


def assert_four_plots(at: AppTest) -> float:
    """The cloud with G's arrow, E‖g_B − G‖² and its theory line, the cosines, the noise scale.

    Returns B_simple as the page shows it."""
    cloud, variance, cosine, scale = charts(at)[:4]
    sizes = {row["batch_size"] for row in plotted(cloud) if "batch_size" in row}
    assert sizes == {2 ** k for k in range(11)}  # one cloud per batch size, 1 … 1,024
    assert "triangle-right" in cloud.spec  # the arrow head of G
    kinds = {row["kind"] for row in plotted(variance)}
    assert len(kinds) == 2 and len(plotted(variance)) == 22  # measured and theory at 11 sizes
    for chart in (variance, scale):  # the legend draws a dot for measured, a dashed line for theory
        assert '"range": ["circle", "stroke"]' in chart.spec and '"range": [[1, 0], [6, 3]]' in chart.spec
    assert all(-1 <= row["cosine"] <= 1 for row in plotted(cosine))
    b_simple = float(at.metric[2].value)
    assert f"B_simple ≈ {b_simple:.0f}" in {row.get("label") for row in plotted(scale)}  # its marker
    return b_simple


def test_the_trained_default_model_in_japanese():
    at = open_page(PAGE, "ja")
    assert "既定のモデル" in at.caption[0].value  # model_caption: which model is measured
    assert "8,000 個の訓練サンプル" in at.caption[1].value
    labels = ["tr(Σ)（勾配のノイズ）", "‖G‖²（信号）", "B_simple（ノイズスケール）"]
    assert [m.label for m in at.metric] == labels
    assert at.subheader[0].value.startswith("① ミニバッチの勾配")
    assert assert_four_plots(at) > 1


def test_a_fresh_model_scatters_differently():
    trained = open_page(PAGE, "en")
    fresh = open_page(PAGE, "en", noise_model="fresh")
    assert "before any training" in fresh.caption[0].value
    assert assert_four_plots(fresh) != assert_four_plots(trained)
    assert len(charts(fresh)) == 4


def test_every_session_shares_one_measurement_of_the_default_model(monkeypatch):
    """A class opening the page at once waits for one measurement of the default model, not one each."""
    from core import noise
    from ui import noise_reports

    measured, real = [], noise.measure
    monkeypatch.setattr(noise, "measure", lambda *args, **kwargs: measured.append(1) or real(*args, **kwargs))
    noise_reports._default_model_report.clear()
    first, second = open_page(PAGE, "en"), open_page(PAGE, "ja")
    assert len(measured) == 1 and first.metric[2].value == second.metric[2].value
    open_page(PAGE, "en", noise_seed=1)  # another setting is measured anew
    assert len(measured) == 2


def test_the_sessions_latest_run_with_noise_recorded_per_epoch(splits):
    hook = make_epoch_hook(D.to_tensors(splits.train), n_samples=300)
    job = finished_job(TrainConfig(epochs=2, train_subset=500, device="cpu"), splits, owner="noise-test",
                       epoch_hook=hook)
    assert job.state.snapshot().status == "finished"
    at = open_page(PAGE, "en", runs=[SessionRun(1, job)], noise_samples_mlp=2000)
    assert "your Run 1" in at.caption[0].value and "2,000 training samples" in at.caption[1].value
    epochs_chart = charts(at)[4]
    assert [row["epoch"] for row in plotted(epochs_chart)] == [1, 2]
    assert {"trace_sigma", "grad_norm_sq", "b_simple"} <= set(plotted(epochs_chart)[0])


@pytest.mark.parametrize("hidden,activation", SHAPES.values(), ids=SHAPES)
def test_every_shape_is_measured_exactly_and_plotted(splits, hidden, activation):
    at = open_page(PAGE, "en", runs=[shaped_run(splits, hidden, activation, f"noise-{activation}")],
                   noise_samples_mlp=2000)
    assert "your Run 1 — MLP" in at.caption[0].value and "2,000 training samples" in at.caption[1].value
    assert assert_four_plots(at) > 0
    at.radio(key="noise_model").set_value("fresh").run()  # the same shape's initial weights
    assert not at.exception and at.caption[0].value.startswith(f"A fresh MLP {shape_text(hidden)}")


def test_the_training_labs_noise_chart_has_one_panel_per_quantity_and_one_line_per_run():
    from ui.noise_charts import noise_over_epochs_chart

    rows = [{"run": run, "epoch": e, "trace_sigma": 10.0 * e, "grad_norm_sq": 1.0 / e, "b_simple": 10.0 * e * e}
            for run in ("Run 1", "Run 2") for e in (1, 2, 3)]
    spec = noise_over_epochs_chart(rows, "ja").to_dict()
    assert [panel["title"] for panel in spec["hconcat"]] == ["tr(Σ)（勾配のノイズ）", "‖G‖²（信号）", "B_simple（ノイズスケール）"]
    assert all(panel["encoding"]["color"]["field"] == "run" for panel in spec["hconcat"])
    single = noise_over_epochs_chart([{k: v for k, v in r.items() if k != "run"} for r in rows[:3]], "en").to_dict()
    assert "field" not in single["hconcat"][0]["encoding"]["color"]  # one run: one plain line


def test_a_cnn_loaded_after_an_mlp_is_measured_on_its_own_quick_default():
    from core.models import CNN
    from ui.session import ModelInUse

    at = open_page(PAGE, "en")
    assert at.select_slider(key="noise_samples_mlp").value == 8000
    cnn = ModelInUse(CNN().eval(), TrainConfig(model="cnn", device="cpu"), 0.1, "loaded", "cnn.pt")
    at.session_state["loaded_model"] = {"in_use": cnn, "over": None}
    at.run()
    assert not at.exception and at.select_slider(key="noise_samples_cnn").value == 1000
    assert "1,000 training samples" in " ".join(c.value for c in at.caption)

