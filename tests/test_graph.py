"""core.graph: the recorded autograd graph, the lesson's example and its chain rule, the models' graphs."""
import copy
import subprocess
import sys

import pytest
import torch

from conftest import ROOT
from core import data as D
from core import graph as G
from core.models import MLP

AUTOGRAD_NAMES = {"mul": "MulBackward0", "add": "AddBackward0", "square": "PowBackward0", "exp": "ExpBackward0",
                  "relu": "ReluBackward0", "sigmoid": "SigmoidBackward0", "tanh": "TanhBackward0",
                  "sin": "SinBackward0", "mean": "MeanBackward0", "sum": "SumBackward0"}


@pytest.fixture(scope="module")
def batch(splits):
    return D.normalize(splits.train.images[:8]), splits.train.labels[:8]  # (8, 1, 28, 28), (8,)


def test_lesson_example_is_mean_then_mul_then_x_with_grad_two_thirds():
    ex = G.lesson_example()  # x = [1., 2., 3.]; y = x * 2; z = y.mean()
    g = ex.graph
    assert [n.op for n in g.nodes] == ["MeanBackward0", "MulBackward0", "AccumulateGrad"]
    assert [n.name for n in g.nodes] == ["z", "y1", "x"] and g.nodes[2].kind == "input"
    assert [(e.src, e.dst, e.shape) for e in g.edges] == [("o1", "o0", (3,)), ("v2", "o1", (3,))]  # x → y1 → z
    assert ex.autograd.tolist() == pytest.approx([2 / 3] * 3)
    assert g.node("x").grad.tolist() == pytest.approx([2 / 3] * 3)
    assert g.node("y1").value.tolist() == [2, 4, 6] and g.node("y1").grad.tolist() == pytest.approx([1 / 3] * 3)
    assert g.node("z").value.item() == 4 and g.node("z").grad.item() == 1
    assert torch.equal(ex.by_hand, ex.autograd)  # bit for bit
    assert ex.code.splitlines()[:3] == ["x = torch.tensor([1., 2., 3.], requires_grad=True)", "y1 = x * 2",
                                        "z = y1.mean()"]


@pytest.mark.parametrize("op", G.ELEMENTWISE)
@pytest.mark.parametrize("reduction", G.REDUCTIONS)
def test_chain_rule_by_hand_equals_autograd_for_every_menu_operation(op, reduction):
    ex = G.lesson_example((-1.5, 0.3, 2.0), ((op, 1.7), (reduction, 0.0)))
    assert [n.op for n in ex.graph.nodes] == [AUTOGRAD_NAMES[reduction], AUTOGRAD_NAMES[op], "AccumulateGrad"]
    torch.testing.assert_close(ex.by_hand, ex.autograd, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(ex.finite_diff, ex.autograd.double(), rtol=1e-4, atol=1e-5)
    # each step is upstream · local, and the first step starts from ∂z/∂z = 1
    assert all(torch.equal(s.grad, s.upstream * s.local) for s in ex.steps)
    assert (ex.steps[0].upstream == 1).all() and ex.steps[-1].input == "x"


def test_a_longer_chain_walks_one_local_derivative_per_step():
    steps = (("square", 0.0), ("sigmoid", 0.0), ("mul", -3.0), ("sum", 0.0))
    ex = G.lesson_example((0.5, -1.0, 2.0), steps)
    assert [(s.output, s.input) for s in ex.steps] == [("z", "y3"), ("y3", "y2"), ("y2", "y1"), ("y1", "x")]
    for later, earlier in zip(ex.steps, ex.steps[1:]):
        assert torch.equal(earlier.upstream, later.grad)
    torch.testing.assert_close(ex.by_hand, ex.autograd, rtol=1e-6, atol=1e-7)
    assert G.local_latex(ex.steps[2]) == r"\frac{\partial y_{2}}{\partial y_{1}} = \sigma(y_{1})\,(1-\sigma(y_{1}))"
    assert G.local_latex(ex.steps[0]) == r"\frac{\partial z}{\partial y_{3}} = 1"
    assert ex.steps[1].code() == "y3 = y2 * -3"


@pytest.mark.parametrize("steps", [(), (("mean", 0),), (("div", 2.0), ("mean", 0)), (("mul", 2.0),),
                                   (("mean", 0), ("mul", 2.0)), (("mul", float("inf")), ("sum", 0))])
def test_only_menu_chains_ending_in_one_reduction_are_accepted(steps):
    if steps == (("mean", 0),):
        assert G.lesson_example((1, 2, 3), steps).autograd.tolist() == pytest.approx([1 / 3] * 3)
    else:
        with pytest.raises(ValueError):
            G.check_chain(steps)


def test_overflow_is_reported_not_hidden():
    ex = G.lesson_example((10.0, 10.0, 10.0), (("exp", 0), ("exp", 0), ("sum", 0)))
    assert not ex.finite()
    assert G.lesson_example().finite()


def test_mlp_graph_has_the_lessons_operations_and_six_parameters(batch):
    result = G.model_graph(MLP(), *batch)
    g = result.graph
    assert sorted(p.name for p in g.params()) == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight", "fc3.bias",
                                                  "fc3.weight"]
    assert g.op_counts() == {"AccumulateGrad": 6, "AddmmBackward0": 3, "TBackward0": 3, "ReluBackward0": 2,
                             "LogSoftmaxBackward0": 1, "NllLossBackward0": 1}
    assert g.nodes[0].name == "loss" and g.nodes[0].value.item() == pytest.approx(result.loss)
    assert list(g.groups.items()) == [("fc1", "Linear"), ("fc2", "Linear"), ("fc3", "Linear"),
                                      ("loss", "CrossEntropyLoss")]
    fc1w = g.node("fc1.weight")
    assert fc1w.shape == (128, 784) and fc1w.group == "fc1" and fc1w.grad.norm() > 0
    relus = [n for n in g.nodes if n.op == "ReluBackward0"]
    assert {n.shape for n in relus} == {(8, 128), (8, 64)} and all(n.group == "" and n.made_by == "relu" for n in relus)
    shapes = {(g.nodes[int(e.src[1:])].op, g.nodes[int(e.dst[1:])].op): e.shape for e in g.edges}
    assert shapes[("AddmmBackward0", "LogSoftmaxBackward0")] == (8, 10)


def test_parameter_gradients_are_the_ones_backward_stores(batch):
    model = MLP()
    g = G.model_graph(model, *batch).graph
    for name, p in model.named_parameters():
        assert torch.equal(g.node(name).grad, p.grad)


def test_dropout_adds_its_node_in_train_mode_only(batch):
    plain = G.model_graph(G.fresh_model("mlp"), *batch).graph
    dropped = G.model_graph(G.fresh_model("mlp", dropout=0.5), *batch).graph
    assert dropped.op_counts()["MulBackward0"] == plain.op_counts()["MulBackward0"] + 2
    assert {"dropout", "dropout (2)"} <= set(dropped.groups)
    assert [n.op for n in dropped.nodes if n.group == "dropout"] == ["MulBackward0"]
    evaluated = G.model_graph(G.fresh_model("mlp", dropout=0.5), *batch, mode="eval").graph
    assert evaluated.op_counts() == plain.op_counts() and "dropout" not in evaluated.groups


def test_batchnorm_adds_its_nodes_and_parameters(batch):
    g = G.model_graph(G.fresh_model("mlp", batchnorm=True), *batch).graph
    assert g.op_counts()["NativeBatchNormBackward0"] == 2 and len(g.params()) == 10
    assert {"bn1", "bn2"} <= set(g.groups)


SHAPES = [((), "tanh"), ((64, 64, 64, 64), "sigmoid"), ((128, 64), "none")]  # hidden layers, activation


@pytest.mark.parametrize("hidden,activation", SHAPES)
def test_any_shape_is_grouped_layer_by_layer(batch, hidden, activation):
    g = G.model_graph(G.fresh_model("mlp", batchnorm=True, hidden=hidden, activation=activation), *batch).graph
    layers = range(1, len(hidden) + 2)
    assert [call for call in g.groups if call[:2] in ("fc", "bn")] == [
        name for i in layers for name in (f"fc{i}", f"bn{i}") if name != f"bn{len(hidden) + 1}"]
    counts = g.op_counts()
    assert counts["AddmmBackward0"] == len(layers) and len(g.params()) == 2 * len(layers) + 2 * len(hidden)
    between = {op: n for op, n in counts.items() if op in ("ReluBackward0", "TanhBackward0", "SigmoidBackward0")}
    expected = {"tanh": "TanhBackward0", "sigmoid": "SigmoidBackward0"}.get(activation)
    assert between == ({expected: len(hidden)} if expected and hidden else {})  # one per hidden layer; none: none
    assert g.node(f"fc{len(hidden) + 1}.weight").shape == (10, hidden[-1] if hidden else 784)


def test_no_grad_records_no_graph(batch):
    model = MLP()
    result = G.model_graph(model, *batch, mode="no_grad")
    assert result.graph is None and 0 < result.loss < 10
    assert all(p.grad is None for p in model.parameters())
    counts = G.mode_op_counts(G.fresh_model("mlp", dropout=0.5), *batch)
    assert not counts["no_grad"] and counts["train"]["MulBackward0"] == 2 and "MulBackward0" not in counts["eval"]


def test_cnn_graph_has_convolutions_pooling_and_six_parameters(batch):
    g = G.model_graph(G.fresh_model("cnn"), *batch).graph
    counts = g.op_counts()
    assert counts["ConvolutionBackward0"] == 2 and counts["MaxPool2DWithIndicesBackward0"] == 2
    assert counts["AccumulateGrad"] == 6 and {"pool", "pool (2)", "conv1", "conv2", "fc"} <= set(g.groups)
    assert g.node("conv2.weight").shape == (32, 16, 3, 3)


def test_fresh_model_is_fixed_and_leaves_the_random_state_alone():
    state = torch.get_rng_state()
    a, b = G.fresh_model("mlp"), G.fresh_model("mlp")
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(a.fc1.weight, b.fc1.weight)


def test_dot_collapses_modules_to_one_box_and_expands_them(batch):
    g = G.model_graph(MLP(), *batch).graph
    expanded = G.to_dot(g)
    assert 'fontname="Noto Sans CJK JP, sans-serif"' in expanded
    assert "subgraph cluster_0" in expanded and expanded.count("TBackward0") == 3
    assert 'label="8×128"' in expanded and "fc1.weight\\n128×784\\n‖grad‖" in expanded
    collapsed = G.to_dot(g, collapsed=set(g.groups) - {"fc2"})
    assert "TBackward0" in collapsed and collapsed.count("TBackward0") == 1  # only fc2 is open
    assert 'label="fc1 · Linear\\nweight 128×784, ‖grad‖' in collapsed
    assert "g0 -> " in collapsed and "-> g3" in collapsed  # edges are redirected to the boxes


def test_dot_labels_escape_quotes_and_keep_japanese():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    z = (x * 3).sum()
    g = G.trace(z, {'入力 "x"': x, "z": z})
    g.backward()
    dot = G.to_dot(g)
    assert 'label="入力 \\"x\\" (AccumulateGrad)\\n[1, 2]\\ngrad [3, 3]"' in dot
    assert G.quote('a\\b"c\nd') == '"a\\\\b\\"c\\nd"'


def test_cli_prints_dot_for_each_example(capsys):
    out = subprocess.run([sys.executable, "-m", "core.graph", "--example", "lesson"], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("digraph G {") and "MeanBackward0" in out.stdout and "AccumulateGrad" in out.stdout
    for example, expected in (("mlp", "fc1.weight"), ("cnn", "ConvolutionBackward0")):
        G.main(["--example", example, "--batch", "2"])
        assert expected in capsys.readouterr().out
    G.main(["--example", "mlp", "--mode", "no_grad"])
    assert capsys.readouterr().out.startswith("// no graph")


def test_the_shared_model_is_not_changed(batch):
    shared = MLP().eval()
    before = copy.deepcopy(shared.state_dict())
    G.mode_op_counts(shared, *batch)
    assert not shared.training and all(p.grad is None for p in shared.parameters())
    assert all(torch.equal(v, shared.state_dict()[k]) for k, v in before.items())
