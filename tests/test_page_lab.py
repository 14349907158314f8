"""The Training Lab page, driven as a learner would: controls, Train, Stop, presets, URL, history."""
import time

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT

PAGE = str(ROOT / "pages" / "lab.py")


def open_lab(lang="en", **query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["lang"] = lang
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def run_until(at: AppTest, predicate, timeout=60) -> AppTest:
    """Rerun the page (as its fragment does every 0.5 s) until `predicate(at)` holds, then draw it once more."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = predicate(at)
        at.run()
        assert not at.exception, at.exception
        if done:
            return at
        time.sleep(0.2)
    raise AssertionError("timed out")


def newest_status(at):
    return at.session_state["runs"][-1].job.state.snapshot().status


def charts(at):
    return at.get("vega_lite_chart")


def chart_text(chart) -> str:
    """Every value of every dataset of an Altair chart, as the browser receives them (Arrow)."""
    import pyarrow as pa

    frames = [pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets]
    return " ".join(f.to_csv() for f in frames)


def run_colors(chart) -> list[dict]:
    """The chart's colour-by-run encodings, one per layer that has one."""
    import json

    return [layer["encoding"]["color"] for layer in json.loads(chart.proto.spec)["layer"]
            if layer.get("encoding", {}).get("color", {}).get("field") == "run"]


def run_legends(chart) -> list:
    """The distinct legends of the chart's colour-by-run encodings."""
    import json

    return list({json.dumps(c.get("legend")): c.get("legend") for c in run_colors(chart)}.values())


def test_controls_train_and_show_charts_history_and_current_model():
    at = open_lab()
    assert not at.exception and "No run yet" in at.info[0].value
    assert run_legends(charts(at)[0]) == [None]  # an empty chart has no legend of runs yet
    at.select_slider(key="batch_size").set_value(128)
    at.select_slider(key="learning_rate").set_value(0.005)
    at.slider(key="dropout").set_value(0.2)
    at.selectbox(key="optimizer").set_value("rmsprop")
    at.slider(key="epochs").set_value(2)
    at.radio(key="model").set_value("mlp")
    at.number_input(key="seed").set_value(3)
    at.selectbox(key="train_subset").set_value(1000)
    at.radio(key="loader").set_value("dataloader")  # the textbook path
    at.select_slider(key="weight_decay").set_value(1e-4)
    at.run()
    implied = " ".join(m.value for m in at.markdown)
    assert "**1,000** training samples ÷ batch size **128** → **8** iterations" in implied
    assert "= **16** updates in total" in implied
    code = at.code[0].value
    assert "batch_size=128" in code and "optim.RMSprop(model.parameters(), lr=0.005, weight_decay=0.0001)" in code
    assert "nn.Dropout(0.2)" in code and "range(1000)" in code and "torch.manual_seed(3)" in code
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    assert "Run 1 finished 2 epochs" in at.success[0].value
    assert len(charts(at)) == 2 and run_legends(charts(at)[0]) != [None]  # loss, accuracy
    table = at.dataframe[0].value
    assert list(table["Run"]) == ["Run 1"] and table["Status"][0] == "finished"
    assert 0 < float(table["Val. accuracy"][0].rstrip("%")) <= 100
    run = at.session_state["runs"][-1]
    assert run.config.optimizer == "rmsprop" and run.config.dropout == 0.2 and run.config.seed == 3
    assert run.config.loader == "dataloader" and run.config.weight_decay == 1e-4
    from ui.runs import KEPT_MODEL
    assert run.job.state.result.model is not None and newest_status(at) in KEPT_MODEL
    assert at.query_params["optimizer"] == "rmsprop" and at.query_params["batch_size"] == "128"


def test_a_diverging_run_is_marked_and_the_page_stays_usable():
    at = open_lab(optimizer="sgd", learning_rate="1", batch_size="1", epochs="1", train_subset="300")
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "diverged")
    step = at.session_state["runs"][-1].job.state.snapshot().diverged_step
    assert f"diverged at step {step}" in at.error[0].value
    assert at.dataframe[0].value["Status"][0] == f"diverged at step {step}"
    assert f"diverged at step {step}" in chart_text(charts(at)[0])  # marked in the chart
    table = at.dataframe[0].value
    assert (table.loc[0, ["Val. accuracy", "Best val. accuracy", "Train loss", "Val. loss"]] == "–").all()
    at.select_slider(key="learning_rate").set_value(0.01)  # still usable: train again
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    assert at.dataframe[0].value.loc[1, "Val. accuracy"].endswith("%")
    steps = chart_frames(charts(at)[0])["steps"]  # both runs' losses, drawn on one log axis
    assert steps["loss"].max() > 10 and steps["shown"].max() <= 10  # the diverged run's ends at the top edge
    finished = steps[steps["run"].str.startswith("Run 2")]
    assert (finished["shown"] == finished["loss"]).all()  # the other run's curve is drawn as it is


def chart_frames(chart) -> dict:
    """An Altair chart's datasets by name ("steps", "epochs", …), as the browser receives them."""
    import pyarrow as pa

    return {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pandas() for d in chart.proto.datasets}


def test_stop_mid_run_keeps_what_was_learned():
    at = open_lab(batch_size="1", epochs="1")  # 8,000 steps: seconds of training
    at.button(key="train").click().run()
    run_until(at, lambda a: a.session_state["runs"][-1].job.state.snapshot().step > 20)
    at.button(key="stop").click().run()
    run_until(at, lambda a: newest_status(a) == "stopped")
    snap = at.session_state["runs"][-1].job.state.snapshot()
    assert 20 < snap.step < snap.total_steps
    assert at.session_state["runs"][-1].job.state.result.model is not None
    assert "was stopped" in at.success[0].value
    assert go_on(at) == "Next: Run 1, epoch 1."  # resume: finish the planned epoch
    at.button(key="go_on").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    snap = at.session_state["runs"][-1].job.state.snapshot()
    assert snap.step == snap.total_steps == len(snap.losses) == 8000  # no minibatch lost or repeated
    assert len(at.session_state["runs"]) == 1 and "Run 1 finished 1 epoch in" in at.success[0].value


def go_on(at) -> str:
    """What the Go on button will train, as its caption says (the button itself only says "Go on")."""
    assert at.button(key="go_on").label in ("Go on", "続きを学習")
    return next(c.value for c in at.caption if c.value.startswith(("**Next:", "**次は"))).split("**")[1]


@pytest.mark.parametrize("lang, label, finished, label_2", [
    ("en", "Next: Run 1, epochs 2–3.", "Run 1 finished 3 epochs", "Next: Run 2, epochs 3–4."),
    ("ja", "次は 学習 1、エポック 2〜3", "学習 1 は 3 エポック", "次は 学習 2、エポック 3〜4")])
def test_a_finished_run_goes_on_for_the_epochs_slider_more_epochs(lang, label, finished, label_2):
    at = open_lab(lang, epochs="1", train_subset="1000", batch_size="256")  # 4 steps per epoch
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    run = at.session_state["runs"][-1]
    first_model = run.job.state.result.model
    at.slider(key="epochs").set_value(2).run()
    assert go_on(at) == label
    at.button(key="go_on").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    snap = run.job.state.snapshot()
    assert [e.epoch for e in snap.epochs] == [1, 2, 3] and len(snap.losses) == 12 and run.config.epochs == 3
    assert len(at.session_state["runs"]) == 1 and finished in at.success[0].value
    assert run.job.state.result.model is not first_model  # the other pages now use the longer-trained model
    assert len(chart_text(charts(at)[0]).splitlines()) > 12  # one curve, all 12 steps
    at.button(key="train").click().run()  # a new run: only the newest run can go on
    run_until(at, lambda a: newest_status(a) == "finished")
    assert run.job is None and go_on(at) == label_2  # only the newest run goes on; Run 1 lives in the store now


@pytest.mark.parametrize("lang, run, lr, optimizer, no_runs", [
    ("en", "Run", "lr", "opt", "No run yet"), ("ja", "学習", "学習率", "オプティマイザ", "まだ学習していません")])
def test_two_runs_are_overlaid_with_a_legend_naming_what_differed(lang, run, lr, optimizer, no_runs):
    val = {"en": "validation", "ja": "検証"}[lang]
    at = open_lab(lang, epochs="1", train_subset="1000", batch_size="256")
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    at.select_slider(key="learning_rate").set_value(0.01)
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    assert at.multiselect(key="overlay").value == [1, 2]
    assert at.multiselect(key="overlay").options == [f"{run} 1", f"{run} 2"]  # what the menu shows
    data = chart_text(charts(at)[0])
    assert f"{run} 1 · {lr} 0.001" in data and f"{run} 2 · {lr} 0.01" in data
    assert f"{optimizer} Adam" not in data  # only what differed is named
    import json

    from ui.lab_charts import RUN_COLORS

    for chart in charts(at):  # runs 1 and 2 in the first two run colours, in the history's order (not two blues)
        colors = run_colors(chart)
        assert colors and all(c["scale"]["range"][:2] == RUN_COLORS[:2] and c["sort"] is None for c in colors)
        # a long entry ("学習 2 · オプティマイザ RMSprop · ドロップアウト 0.5") is not cut at Vega's 160 px
        points = [layer for layer in json.loads(chart.proto.spec)["layer"] if layer["mark"]["type"] == "point"]
        fill = points[0]["encoding"]["fill"]  # validation hollow, training filled in the run's colour
        assert fill["condition"] == {"test": f"(datum.series === '{val}')", "value": "white"} and fill["field"] == "run"
        # one line per setting, so entries side by side fit the chart's width
        assert all(c["legend"]["labelLimit"] == 0 and c["legend"]["labelExpr"] == "split(datum.label, ' · ')"
                   for c in colors if c.get("legend"))
    assert list(at.dataframe[0].value[run]) == [f"{run} 1", f"{run} 2"]
    assert at.success[0].value.startswith(f"{run} 2")
    csv = at.get("download_button")[0]
    assert not csv.proto.disabled
    at.multiselect(key="overlay").set_value([1])
    at.button(key="delete_runs").click().run()
    assert [r.number for r in at.session_state["runs"]] == [2]
    at.button(key="clear_runs").click().run()
    assert at.session_state["runs"] == [] and no_runs in at.info[0].value


def test_presets_and_shared_links_set_the_controls():
    at = open_lab()
    at.button(key="preset_overfitting_0").click().run()
    assert at.selectbox(key="train_subset").value == 300 and at.slider(key="dropout").value == 0.0
    assert at.slider(key="epochs").value == 40
    assert "validation loss turns up" in " ".join(i.value for i in at.info)
    at.button(key="preset_batch_size_0").click().run()
    assert "Batch 4 makes 2,000 updates per epoch" in at.info[0].value  # 8,000 training samples here
    at.radio(key="loader").set_value("dataloader").run()
    at.button(key="preset_batch_size_1").click().run()
    assert at.select_slider(key="batch_size").value == 256 and at.selectbox(key="optimizer").value == "sgd"
    assert at.radio(key="loader").value == "dataloader"  # a preset leaves the data loading as chosen
    shared = open_lab("ja", optimizer="momentum", learning_rate="0.05", batch_size="32", dropout="0.5", epochs="7",
                      loader="dataloader", weight_decay="0.001")
    assert shared.radio(key="loader").value == "dataloader" and shared.select_slider(key="weight_decay").value == 1e-3
    assert shared.selectbox(key="optimizer").value == "momentum"
    assert shared.select_slider(key="learning_rate").value == 0.05
    assert shared.select_slider(key="batch_size").value == 32 and shared.slider(key="dropout").value == 0.5
    assert shared.slider(key="epochs").value == 7 and shared.title[0].value == "学習ラボ"
    nonsense = open_lab(batch_size="3", learning_rate="abc")  # ignored, not a crash
    assert nonsense.select_slider(key="batch_size").value == 64 and not nonsense.exception


def test_the_models_shape_is_chosen_counted_linked_and_trained():
    at = open_lab()

    def parameters() -> str:
        return next(c.value for c in at.caption if "parameters (weights and biases)" in c.value)

    assert at.selectbox(key="hidden").value == (128, 64) and at.radio(key="activation").value == "relu"
    assert parameters() == "784 → 128 → 64 → 10: 109,386 parameters (weights and biases) to learn."
    assert at.selectbox(key="hidden").options == ["none", "32", "128", "128-64 (lesson)", "256-128", "128-64-32",
                                                  "64-64-64-64"]
    at.selectbox(key="hidden").set_value(()).run()
    assert parameters().startswith("784 → 10: 7,850 parameters") and at.radio(key="activation").disabled
    assert "nn.Linear(784, 10)," in at.code[0].value and "nn.ReLU()" not in at.code[0].value
    at.selectbox(key="hidden").set_value((64, 64, 64, 64)).run()
    at.radio(key="activation").set_value("sigmoid").run()
    assert "784 → 64 → 64 → 64 → 64 → 10: 63,370 parameters" in parameters()
    assert at.code[0].value.count("nn.Sigmoid()") == 4
    assert at.query_params["hidden"] == "64,64,64,64" and at.query_params["activation"] == "sigmoid"
    at.radio(key="model").set_value("cnn").run()  # the CNN has its own layers
    assert at.selectbox(key="hidden").disabled and at.radio(key="activation").disabled
    assert parameters() == "The CNN has 20,490 parameters (weights and biases) to learn."
    at.radio(key="model").set_value("mlp").run()
    at.button(key="preset_optimizer_1").click().run()  # a preset leaves the model's shape as chosen
    assert at.selectbox(key="hidden").value == (64, 64, 64, 64) and at.radio(key="activation").value == "sigmoid"
    at.slider(key="epochs").set_value(1)
    at.selectbox(key="train_subset").set_value(300).run()
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    config = at.session_state["runs"][-1].config
    assert config.hidden == (64, 64, 64, 64) and config.activation == "sigmoid"
    assert at.dataframe[0].value["Model"][0] == "MLP 784 → 64 → 64 → 64 → 64 → 10 (sigmoid)"
    for hidden in ("0", ""):  # a shared link: no hidden layer
        shared = open_lab("ja", hidden=hidden, activation="tanh")
        assert shared.selectbox(key="hidden").value == () and shared.radio(key="activation").value == "tanh"
        assert "7,850 個" in " ".join(c.value for c in shared.caption)
    nonsense = open_lab(hidden="5,5", activation="swish")  # ignored, not a crash
    assert nonsense.selectbox(key="hidden").value == (128, 64) and nonsense.radio(key="activation").value == "relu"
    from urllib.parse import parse_qsl, urlsplit

    from core.train import TrainConfig
    from ui.classes import lab_link

    link = lab_link(TrainConfig(hidden=(256, 128), activation="none"))  # a run's Lab link on the class wall
    linked = open_lab(**dict(parse_qsl(urlsplit(link).query)))
    assert linked.selectbox(key="hidden").value == (256, 128) and linked.radio(key="activation").value == "none"


def test_gradient_noise_recorded_each_epoch_is_plotted_beside_the_loss():
    at = open_lab(epochs="2", train_subset="1000", batch_size="128")
    at.checkbox(key="record_noise").check()
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    epochs = at.session_state["runs"][-1].job.state.snapshot().epochs
    assert [sorted(e.extra) for e in epochs] == [["b_simple", "grad_norm_sq", "predicted", "trace_sigma", "watched"]] * 2
    assert all(e.extra["trace_sigma"] > 0 for e in epochs)
    assert len(charts(at)) == 3  # loss, accuracy, gradient noise
    assert "Gradient noise per epoch" in " ".join(m.value for m in at.markdown)


def test_two_sessions_training_at_once_see_only_their_own_runs():
    alice = open_lab(epochs="2", train_subset="1000", learning_rate="0.01")
    bob = open_lab(epochs="2", train_subset="1000", learning_rate="0.001", batch_size="32")
    alice.button(key="train").click().run()
    bob.button(key="train").click().run()
    run_until(alice, lambda a: newest_status(a) == "finished")
    run_until(bob, lambda a: newest_status(a) == "finished")
    for at, lr, batch in ((alice, 0.01, 64), (bob, 0.001, 32)):
        (run,) = at.session_state["runs"]
        assert run.config.learning_rate == lr and run.config.batch_size == batch
        assert list(at.dataframe[0].value["Run"]) == ["Run 1"]
    assert alice.session_state["runs"][0].job is not bob.session_state["runs"][0].job
    # (AppTest gives every session the same id; per-session owners are checked on the real server
    # in tests/e2e/test_server.py)


def test_leaving_the_page_while_it_trains_and_coming_back():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["lang"] = "en"
    at.run()
    at.switch_page("pages/lab.py").run()
    at.select_slider(key="batch_size").set_value(32)
    at.button(key="train").click().run()
    at.switch_page("pages/home.py").run()  # the run goes on without the page
    assert not at.exception and at.title[0].value == "Training Loop Lab"
    run = at.session_state["runs"][-1]
    deadline = time.time() + 60
    while not run.job.done and time.time() < deadline:
        time.sleep(0.2)
    at.switch_page("pages/lab.py").run()
    assert at.select_slider(key="batch_size").value == 32  # settings kept
    assert "Run 1 finished" in at.success[0].value and len(charts(at)) == 2


def test_training_is_the_solid_line_and_validation_the_dashed_one_in_both_languages():
    import json

    for lang, train, val in (("en", "training", "validation"), ("ja", "訓練", "検証")):
        at = open_lab(lang, epochs="1", train_subset="300", batch_size="256")
        at.button(key="train").click().run()
        run_until(at, lambda a: newest_status(a) == "finished")
        for chart in charts(at):  # loss, accuracy
            dashes = [layer["encoding"]["strokeDash"] for layer in json.loads(chart.proto.spec)["layer"]
                      if "strokeDash" in layer.get("encoding", {})]
            assert dashes, "no line is styled by training / validation"
            for dash in dashes:
                assert dict(zip(dash["scale"]["domain"], map(tuple, dash["scale"]["range"]))) == {
                    train: (1, 0), val: (6, 4)}  # solid, dashed
                assert dash["legend"]["symbolType"] == "stroke"  # the legend draws the line styles
            assert train in chart_text(chart) and val in chart_text(chart)


def test_the_newest_run_reads_the_same_validation_digits_after_every_epoch():
    at = open_lab(epochs="2", train_subset="1000", batch_size="128")
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    epochs = at.session_state["runs"][-1].job.state.snapshot().epochs
    assert [len(e.extra["watched"]) for e in epochs] == [20, 20]
    (watch,) = [img for img in at.get("image")]
    captions = [img.caption.split() for img in watch.proto.imgs]
    answers = [int(answer) for answer, _ in captions]
    assert answers == epochs[-1].extra["watched"]  # the last epoch's answers, one under each digit
    from core import data as D

    truth = D.load_splits(download=False).val.labels[:20].tolist()
    assert [mark for _, mark in captions] == ["✓" if a == t else "✗" for a, t in zip(answers, truth)]
    right = sum(a == t for a, t in zip(answers, truth))
    caption = next(c.value for c in at.caption if c.value.startswith("Run 1 after epoch 2"))
    assert f"It reads {right} of 20 right." in caption



def test_an_earlier_runs_model_can_be_picked_until_the_next_run_ends():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["lang"] = "en"
    at.run()
    at.switch_page("pages/lab.py").run()
    for lr in (0.001, 0.01):
        at.select_slider(key="learning_rate").set_value(lr)
        at.slider(key="epochs").set_value(1)
        at.selectbox(key="train_subset").set_value(300)
        at.button(key="train").click().run()
        run_until(at, lambda a: newest_status(a) == "finished")
    assert at.selectbox(key="use_model").value == 2 and at.selectbox(key="use_model").options == ["Run 1", "Run 2"]
    at.selectbox(key="use_model").set_value(1).run()
    assert at.selectbox(key="use_model").value == 1
    at.switch_page("pages/results.py").run()
    assert not at.exception and at.caption[0].value.startswith("Model in use: your Run 1")
    at.switch_page("pages/lab.py").run()
    at.button(key="train").click().run()  # a third run: it takes over when it ends
    run_until(at, lambda a: newest_status(a) == "finished")
    assert at.selectbox(key="use_model").value == 3


def test_a_model_file_loaded_after_a_run_is_named_as_the_model_in_use():
    """The banner and the model picker agree with Results: a file loaded after the run ended is in use."""
    from core.models import MLP
    from core.train import TrainConfig
    from ui.session import ModelInUse

    at = open_lab(epochs="1", train_subset="300")
    assert "× 1 epoch =" in " ".join(m.value for m in at.markdown)
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    (banner,) = at.success
    assert banner.value.startswith("Run 1 finished 1 epoch in") and "Its model is now used by the other pages" in banner.value
    run_model = at.session_state["runs"][-1].model_key  # the weights of Run 1 as it ended
    loaded = ModelInUse(MLP().eval(), TrainConfig(device="cpu"), 0.1, "loaded", "mine.pt", "file-1")
    at.session_state["loaded_model"] = {"in_use": loaded, "over": run_model}
    at.run()
    assert "The other pages use the model loaded from mine.pt, not this run's model" in at.success[0].value
    picker = at.selectbox(key="use_model")
    assert picker.options == ["Run 1", "File: mine.pt"] and picker.value == 0
    taught = ModelInUse(MLP().eval(), TrainConfig(device="cpu"), 0.1, "taught")
    at.session_state["taught_model"] = {"in_use": taught, "root": loaded.key}  # the file, taught on the Draw page
    at.run()
    assert at.selectbox(key="use_model").value == 0  # still grown from the file
    assert "The other pages use your taught copy from the Draw page, not this run's model" in at.success[0].value
    picker = at.selectbox(key="use_model")
    picker.set_value(1).run()  # back to the run: the file is put aside
    assert "Its model is now used by the other pages" in at.success[0].value
    assert at.selectbox(key="use_model").options == ["Run 1"] and "loaded_model" not in at.session_state


def test_batchnorm_and_augmentation_come_from_the_link_train_and_go_back_into_it():
    at = open_lab(batchnorm="true", augment="1", epochs="1", train_subset="300")
    assert at.checkbox(key="batchnorm").value and at.checkbox(key="augment").value
    assert "109,770 parameters" in " ".join(c.value for c in at.caption)  # BatchNorm's scales and shifts
    assert "nn.BatchNorm1d(128)" in at.code[0].value and "RandomAffine" in at.code[0].value
    assert at.query_params["batchnorm"] == "true" and at.query_params["augment"] == "true"
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    config = at.session_state["runs"][-1].config
    assert config.batchnorm and config.augment
    written = {k: at.query_params[k] for k in ("batchnorm", "augment", "epochs", "train_subset")}
    reopened = open_lab("ja", **written)  # the link the Lab wrote opens the same settings
    assert reopened.checkbox(key="batchnorm").value and reopened.checkbox(key="augment").value
    assert reopened.checkbox(key="batchnorm").label == "バッチ正規化"
    off = open_lab(batchnorm="0", augment="false")
    assert not off.checkbox(key="batchnorm").value and not off.checkbox(key="augment").value
    nonsense = open_lab(batchnorm="maybe", augment="2")  # ignored, not a crash
    assert not nonsense.checkbox(key="batchnorm").value and not nonsense.exception


def test_the_sample_order_comes_from_the_link_shows_in_the_code_and_trains():
    at = open_lab(order="sorted", epochs="1", train_subset="300")
    assert at.selectbox(key="order").value == "sorted" and at.query_params["order"] == "sorted"
    assert at.selectbox(key="order").options == ["shuffled afresh every epoch", "shuffled once, the same every epoch",
                                                 "as stored (no shuffle)", "sorted by digit (all 0s, then all 1s…)"]
    assert "shuffle=False" in at.code[0].value and "torch.argsort(digits, stable=True)" in at.code[0].value
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    assert at.session_state["runs"][-1].config.order == "sorted"
    at.selectbox(key="order").set_value("shuffle").run()
    assert "shuffle=True" in at.code[0].value and at.query_params["order"] == "shuffle"
    assert open_lab("ja", order="fixed").selectbox(key="order").value == "fixed"
    assert open_lab(order="random").selectbox(key="order").value == "shuffle"  # ignored, not a crash


def test_the_lesson_claims_presets_set_the_models_shape_or_the_order_and_say_what_to_watch():
    at = open_lab()
    at.radio(key="model").set_value("cnn").run()
    at.button(key="preset_depth_0").click().run()  # depth and nonlinearity set the MLP's shape
    assert at.radio(key="model").value == "mlp" and at.selectbox(key="hidden").value == ()
    assert at.slider(key="epochs").value == 10 and at.selectbox(key="optimizer").value == "adam"
    assert "one linear layer 784 → 10" in at.info[0].value
    at.button(key="preset_depth_1").click().run()
    assert at.selectbox(key="hidden").value == (128, 64) and at.radio(key="activation").value == "relu"
    at.button(key="preset_nonlinearity_1").click().run()
    assert at.selectbox(key="hidden").value == (128, 64) and at.radio(key="activation").value == "none"
    assert "folded into one 784 → 10 matrix" in at.info[0].value
    at.selectbox(key="hidden").set_value((64, 64, 64, 64))
    at.radio(key="activation").set_value("tanh").run()
    at.button(key="preset_random_batches_1").click().run()  # the order only: the shape stays as chosen
    assert at.selectbox(key="order").value == "sorted" and at.selectbox(key="optimizer").value == "sgd"
    assert at.selectbox(key="hidden").value == (64, 64, 64, 64) and at.radio(key="activation").value == "tanh"
    assert "sawtooth" in at.info[0].value and "answers 9 for every digit" in at.info[0].value
    at.button(key="preset_random_batches_0").click().run()
    assert at.selectbox(key="order").value == "shuffle"
    ja = open_lab("ja")
    ja.button(key="preset_random_batches_1").click().run()
    assert "のこぎりの歯" in ja.info[0].value


def test_full_batch_and_a_forgotten_zero_grad_come_from_the_link_and_show_their_update():
    at = open_lab(batch_size="all", zero_grad="false", optimizer="sgd", learning_rate="0.01")
    assert at.select_slider(key="batch_size").value == "all" and at.checkbox(key="forget_zero_grad").value
    text = " ".join(c.value for c in at.caption)
    assert "|B| = 8,000 samples per minibatch" in text and "an epoch makes 1 such update." in text
    assert "Without zero_grad the gradient the optimizer sees grows" in text  # the chart beside a normal run
    assert len([c for c in charts(at) if "zero_grad forgotten" in c.proto.spec]) == 2  # ‖g‖ and the loss
    assert "batch_size=len(train_set)" in at.code[0].value and "zero_grad()" not in at.code[0].value
    assert "torch.optim.SGD's step, over every parameter of the model: **" in " ".join(m.value for m in at.markdown)
    at.checkbox(key="forget_zero_grad").uncheck().run()
    assert at.query_params["zero_grad"] == "true" and not [c for c in charts(at) if "zero_grad forgotten" in c.proto.spec]
    assert "        optimizer.zero_grad()\n" in at.code[0].value
    at.select_slider(key="batch_size").set_value(1).run()
    assert at.query_params["batch_size"] == "1" and "an epoch makes 8,000 such updates." in " ".join(
        c.value for c in at.caption)


def test_the_gradient_descent_and_zero_grad_presets_set_the_controls_and_say_what_to_watch():
    at = open_lab()
    at.button(key="preset_gradient_descent_0").click().run()
    assert at.select_slider(key="batch_size").value == "all" and at.selectbox(key="optimizer").value == "sgd"
    assert "The full batch makes 1 update per epoch" in at.info[0].value and "Batch 64 makes 125" in at.info[0].value
    at.button(key="preset_gradient_descent_1").click().run()
    assert at.select_slider(key="batch_size").value == 64
    at.button(key="preset_zero_grad_1").click().run()
    assert at.checkbox(key="forget_zero_grad").value and at.query_params["zero_grad"] == "false"
    assert "the chart under the controls shows its norm growing" in at.info[0].value
    at.button(key="preset_zero_grad_0").click().run()
    assert not at.checkbox(key="forget_zero_grad").value
    ja = open_lab("ja")
    ja.button(key="preset_zero_grad_1").click().run()
    assert "勾配の初期化を忘れる" in ja.info[0].value and "zero_grad を忘れた" in " ".join(m.value for m in ja.markdown)


def test_every_run_of_the_process_shares_one_epoch_hook_and_its_copy_of_the_data():
    at = open_lab(epochs="1", train_subset="300")
    at.button(key="train").click().run()
    run_until(at, lambda a: newest_status(a) == "finished")
    again = open_lab(epochs="1", train_subset="300")  # another learner's tab
    again.button(key="train").click().run()
    run_until(again, lambda a: newest_status(a) == "finished")
    first, second = at.session_state["runs"][-1].job, again.session_state["runs"][-1].job
    assert first.epoch_hook is second.epoch_hook  # on Ray: sent to the cluster once, not with every run
    assert len(second.state.snapshot().epochs[0].extra["watched"]) == 20
