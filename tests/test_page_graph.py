"""The computation-graph page: both parts render for the MLP (any shape) and the CNN, in both languages."""
import pytest
from streamlit.testing.v1 import AppTest

import apptest
from apptest import SHAPES, shaped_run
from conftest import ROOT


def open_page(lang: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages/graph.py"), default_timeout=120)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception
    return at


def charts(at: AppTest) -> list[str]:
    return [c.proto.spec for c in at.get("graphviz_chart")]


def texts(elements) -> str:
    return " ".join(e.value for e in elements)


def test_lesson_example_forward_then_backward_with_the_chain_rule():
    at = open_page("en")
    lesson, model = charts(at)
    assert "z = MeanBackward0" in lesson and "y1 = MulBackward0" in lesson and "x (AccumulateGrad)" in lesson
    assert "grad" not in lesson  # forward only shows values
    assert "x = torch.tensor([1., 2., 3.], requires_grad=True)" in at.code[0].value
    at.radio(key="pass").set_value("backward").run()
    assert not at.exception
    assert "grad [0.6667, 0.6667, 0.6667]" in charts(at)[0]
    steps = texts(at.markdown)
    assert "**Step 1** — `z = y1.mean()`" in steps and "**Step 2** — `y1 = x * 2`" in steps
    table = at.dataframe[0].value
    assert list(table["x.grad (autograd)"]) == list(table["chain rule by hand"])
    assert abs(table["finite differences"] - 2 / 3).max() < 1e-6


def test_menu_choices_change_the_graph_and_overflow_warns():
    at = open_page("ja")
    at.selectbox(key="op1").set_value("exp").run()
    at.selectbox(key="reduction").set_value("sum").run()
    assert not at.exception
    assert "ExpBackward0" in charts(at)[0] and "SumBackward0" in charts(at)[0]
    at.number_input(key="x0").set_value(10.0).run()
    at.selectbox(key="op2").set_value("exp").run()
    assert not at.exception and "float32" in texts(at.warning)


def test_mlp_model_graph_in_japanese_with_layers_collapsed_then_open():
    at = open_page("ja")
    model = charts(at)[1]
    assert "使用中のモデル" in texts(at.caption)
    assert "fc1 · Linear" in model and "TBackward0" not in model  # one box per layer
    assert "‖勾配‖" in model and "grad" not in model  # PyTorch's names stay, the words are Japanese
    assert [m.value for m in at.metric][2] == "6"
    assert at.dataframe[0].value.shape[0] == 6  # parameter table
    at.toggle(key="expand_all").set_value(True).run()
    assert "TBackward0" in charts(at)[1] and "cluster_" in charts(at)[1]
    at.checkbox(key="dropout").set_value(True).run()
    assert not at.exception and "未学習" in texts(at.info)
    modes = at.dataframe[-1].value
    assert modes.loc["MulBackward0"].tolist() == [2, 0, 0]
    at.radio(key="mode").set_value("no_grad").run()
    assert not at.exception and "torch.no_grad()" in texts(at.info) and len(charts(at)) == 1


def test_cnn_model_graph_renders_in_every_mode():
    at = open_page("en")
    at.selectbox(key="arch").set_value("cnn").run()
    assert not at.exception and "untrained CNN" in texts(at.info)
    assert "conv1 · Conv2d" in charts(at)[1] and "pool (2) · MaxPool2d" in charts(at)[1]
    at.radio(key="mode").set_value("eval").run()
    assert not at.exception and "conv2 · Conv2d" in charts(at)[1]
    at.radio(key="mode").set_value("no_grad").run()
    assert not at.exception and "loss.grad_fn" in texts(at.info)


@pytest.mark.parametrize("hidden,activation", SHAPES.values(), ids=SHAPES)
def test_every_shape_is_drawn_layer_by_layer(splits, hidden, activation):
    at = apptest.open_page("pages/graph.py", "en", runs=[shaped_run(splits, hidden, activation, f"graph-{activation}")])
    layers = len(hidden) + 1
    assert "your Run 1 — MLP" in texts(at.caption)
    model = charts(at)[1]
    assert all(f"fc{i} · Linear" in model for i in range(1, layers + 1)) and f"fc{layers + 1}" not in model
    assert list(at.dataframe[0].value.iloc[:, 0]) == [f"fc{i}.{p}" for i in range(1, layers + 1)
                                                      for p in ("weight", "bias")]
    at.checkbox(key="batchnorm").set_value(True).run()  # a fresh model of the same shape, with BatchNorm
    assert not at.exception and "untrained MLP" in texts(at.info)
    assert at.dataframe[0].value.shape[0] == 4 * layers - 2  # each hidden layer's BatchNorm adds γ and β
