"""The computation graph that `loss.backward()` walks: nodes, edges, shapes, values and gradients.

PyTorch records one autograd node per operation while the forward pass runs (`y.grad_fn`, e.g.
`MulBackward0`), linked to the nodes of its inputs by `next_functions`; a leaf tensor that
requires a gradient (a parameter, or the lesson's `x`) ends in an `AccumulateGrad` node that adds
the incoming gradient into `.grad`. We walk that structure from the loss, name the leaves, group
the operations by the module call that made them, and write Graphviz DOT text.

    python -m core.graph --example lesson|mlp|cnn   # prints the DOT text
"""
import argparse
import copy
import math
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from core import data as D
from core import i18n
from core.models import LESSON_HIDDEN, MODEL_NAMES, build_model

FONT = "Noto Sans CJK JP, sans-serif"  # shows Japanese names too
MODES = ("train", "eval", "no_grad")  # model.train(); model.eval(); model.eval() under torch.no_grad()
SMALL = 8  # tensors with at most this many numbers show their values in the drawing
COLORS = {"param": "#cfe2ff", "input": "#fff3bf", "op": "#f1f3f5", "root": "#ffd8d8"}


# the graph ------------------------------------------------------------------------------------

@dataclass(eq=False)
class Node:
    id: str  # "o0" is the root (the loss), then breadth-first towards the leaves: "o" operations, "v" leaves
    op: str  # the autograd node's class: "MeanBackward0", "AddmmBackward0", "AccumulateGrad"
    kind: str  # "param" (an nn.Parameter), "input" (another leaf, the lesson's x) or "op"
    name: str = ""  # a leaf's or named tensor's name: "fc1.weight", "x", "y1", "loss"
    made_by: str = ""  # the torch function that recorded it: "linear", "relu", "mean"
    group: str = ""  # the module call that made it: "fc1", "dropout (2)"; "" for code outside modules
    shape: tuple = ()  # of the tensor this node produces
    value: torch.Tensor | None = None  # that tensor, where known
    grad: torch.Tensor | None = None  # ∂root/∂(that tensor), after backward()


@dataclass(frozen=True)
class Edge:
    src: str  # data flows from src to dst in the forward pass; backward walks it the other way
    dst: str
    shape: tuple  # of the tensor on this edge


@dataclass(eq=False)
class Graph:
    root: torch.Tensor
    nodes: list[Node]
    edges: list[Edge]
    groups: dict[str, str]  # module call → its module's class name, in call order
    fns: dict[str, object] = field(repr=False)  # node id → autograd node

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def params(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "param"]

    def op_counts(self) -> Counter:
        return Counter(n.op for n in self.nodes)

    def backward(self) -> None:
        """root.backward(), keeping each node's output gradient (a hook on every autograd node)."""
        grads = {}

        def keep(node_id):
            def hook(grad_inputs, grad_outputs):
                grads[node_id] = grad_outputs[0]
            return hook

        handles = [fn.register_hook(keep(i)) for i, fn in self.fns.items()]
        try:
            self.root.backward()
        finally:
            for h in handles:
                h.remove()
        for n in self.nodes:
            g = grads.get(n.id)
            n.grad = None if g is None else g.detach()


def output_shape(fn, nr: int, value: torch.Tensor | None) -> tuple:
    """Shape of output `nr` of an autograd node: from its recorded value, else from its metadata."""
    if value is not None:
        return tuple(value.shape)
    metadata = getattr(fn, "_input_metadata", ())  # PyTorch's own record of each output's shape
    return tuple(metadata[nr].shape) if nr < len(metadata) else ()


class Recording(TorchFunctionMode):
    """While active: the value each new autograd node produces, the torch function that made it,
    and the module call it was made in (leaf modules of `modules`, named like named_modules())."""

    def __init__(self, modules: Mapping[str, nn.Module] | None = None):
        super().__init__()
        self.modules = modules or {}
        self.values: dict = {}  # autograd node → output tensor (detached)
        self.made_by: dict = {}  # autograd node → "linear"
        self.groups: dict = {}  # autograd node → module call
        self.calls: dict[str, str] = {}  # module call → module class name
        self._count = Counter()  # calls so far per module name
        self._inputs = set()  # autograd nodes of the running module call's inputs
        self._handles = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if isinstance(out, torch.Tensor) and out.grad_fn is not None and out.grad_fn not in self.values:
            self.values[out.grad_fn] = out.detach()
            self.made_by[out.grad_fn] = getattr(func, "__name__", str(func)).strip("_")
        return out

    def __enter__(self):
        for prefix, root in self.modules.items():
            for name, module in root.named_modules(prefix=prefix):
                if not list(module.children()):
                    self._handles.append(module.register_forward_pre_hook(self._before))
                    self._handles.append(module.register_forward_hook(self._after(name or prefix)))
        return super().__enter__()

    def __exit__(self, *exc):
        for h in self._handles:
            h.remove()
        return super().__exit__(*exc)

    def _before(self, module, inputs):
        self._inputs = {t.grad_fn for t in inputs if isinstance(t, torch.Tensor) and t.grad_fn is not None}

    def _after(self, name):
        def hook(module, inputs, output):
            """Claim every new autograd node between the call's inputs and its output."""
            self._count[name] += 1
            call = name if self._count[name] == 1 else f"{name} ({self._count[name]})"
            todo = [output.grad_fn] if isinstance(output, torch.Tensor) else []
            claimed = False
            while todo:
                fn = todo.pop()
                if fn is None or fn in self._inputs or fn in self.groups:
                    continue
                self.groups[fn] = call
                claimed = True
                todo.extend(f for f, _ in fn.next_functions)
            if claimed:
                self.calls[call] = type(module).__name__
        return hook


def trace(root: torch.Tensor, named: Mapping[str, torch.Tensor] | None = None,
          recording: Recording | None = None) -> Graph | None:
    """Walk root.grad_fn → next_functions into a Graph; None when no graph was recorded (no_grad).

    `named` names tensors: leaves ("x", "fc1.weight") by identity, others by their grad_fn.
    """
    if root.grad_fn is None:
        return None
    named = named or {}
    leaf_names = {id(t): name for name, t in named.items() if t.grad_fn is None}
    fn_names = {t.grad_fn: name for name, t in named.items() if t.grad_fn is not None}
    rec = recording or Recording()
    values = {**rec.values, **{t.grad_fn: t.detach() for t in named.values() if t.grad_fn is not None}}

    order, seen = [root.grad_fn], {root.grad_fn}  # breadth-first from the root
    for fn in order:
        for f, _ in fn.next_functions:
            if f is not None and f not in seen:
                order.append(f)
                seen.add(f)
    # the letter keeps ids of boxes and ovals apart, so the browser's animation between graphs morphs like shapes
    ids = {fn: f"{'v' if hasattr(fn, 'variable') else 'o'}{i}" for i, fn in enumerate(order)}

    nodes = []
    for fn in order:
        variable = getattr(fn, "variable", None)  # set on AccumulateGrad: the leaf tensor
        if variable is not None:
            kind = "param" if isinstance(variable, nn.Parameter) else "input"
            value, name = variable.detach(), leaf_names.get(id(variable), "")
        else:
            kind, value, name = "op", values.get(fn), fn_names.get(fn, "")
        nodes.append(Node(ids[fn], type(fn).__name__, kind, name, rec.made_by.get(fn, ""), rec.groups.get(fn, ""),
                          output_shape(fn, 0, value), value))
    by_fn = dict(zip(order, nodes))
    edges = [Edge(ids[f], ids[fn], output_shape(f, nr, by_fn[f].value if nr == 0 else None))
             for fn in order for f, nr in fn.next_functions if f is not None]
    groups = {call: cls for call, cls in rec.calls.items() if any(n.group == call for n in nodes)}
    return Graph(root, nodes, edges, groups, {ids[fn]: fn for fn in order})


# drawing --------------------------------------------------------------------------------------

def quote(text: str) -> str:
    """A DOT string: backslashes and quotes escaped, newlines as DOT line breaks."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def fmt_shape(shape: tuple, lang: str = i18n.DEFAULT_LANGUAGE) -> str:
    """(8, 128) → "8×128"; a scalar → "scalar" ("スカラー")."""
    return "×".join(str(s) for s in shape) if shape else i18n.t("graph.word_scalar", lang)


def fmt_values(t: torch.Tensor) -> str:
    """A small tensor's numbers: "[2, 4, 6]", or "4" for a scalar."""
    t = t.detach().float()
    if t.dim() == 0:
        return f"{t.item():.4g}"
    return "[" + ", ".join(f"{v:.4g}" for v in t.flatten().tolist()) + "]"


def node_label(n: Node, values: bool, grads: bool, lang: str = i18n.DEFAULT_LANGUAGE) -> str:
    """A node's lines: its name and PyTorch's (code, never translated), its value, its gradient."""
    if n.kind == "param":
        lines = [n.name, fmt_shape(n.shape, lang)]
    else:
        title = f"{n.name} = {n.op}" if n.name else n.op
        lines = [title if n.kind == "op" else f"{n.name or i18n.t('graph.word_leaf', lang)} ({n.op})"]
        if n.made_by and n.kind == "op":
            lines.append(f"← {n.made_by}")
        if values and n.value is not None:
            lines.append(fmt_values(n.value) if n.value.numel() <= SMALL else fmt_shape(n.shape, lang))
    if grads and n.grad is not None:
        lines.append(grad_text(n.grad, lang))
    return "\n".join(lines)


def grad_text(grad: torch.Tensor, lang: str) -> str:
    """"grad [1, 2, 3]" for a small gradient, its norm for a large one (see grad_norm_text)."""
    if grad.numel() > SMALL:
        return grad_norm_text(grad, lang)
    return f"{i18n.t('graph.word_grad', lang)} {fmt_values(grad)}"


def grad_norm_text(grad: torch.Tensor, lang: str) -> str:
    """"‖grad‖ 0.0751": a gradient's size in one number."""
    return f"‖{i18n.t('graph.word_grad', lang)}‖ {grad.norm().item():.3g}"


def node_style(n: Node, is_root: bool, highlight: bool) -> str:
    color = COLORS["root" if is_root else n.kind]
    shape = "ellipse" if n.kind != "op" else "box"
    extra = ', penwidth=3, color="#d6336c"' if highlight else ""
    return f'shape={shape}, style="rounded,filled", fillcolor="{color}"{extra}'


def group_label(graph: Graph, call: str, grads: bool, lang: str = i18n.DEFAULT_LANGUAGE) -> str:
    """A collapsed module: its name and class, then each parameter with shape (and gradient norm)."""
    lines = [f"{call} · {graph.groups[call]}"]
    root = graph.nodes[0]
    if root.group == call and root.value is not None:
        lines.append(f"{root.name or root.op} = {fmt_values(root.value)}")
    for p in sorted(graph.params(), key=lambda p: p.name.endswith("bias")):  # weight, then bias
        if p.group == call:
            norm = f", {grad_norm_text(p.grad, lang)}" if grads and p.grad is not None else ""
            lines.append(f"{p.name.rsplit('.', 1)[-1]} {fmt_shape(p.shape, lang)}{norm}")
    return "\n".join(lines)


def to_dot(graph: Graph, values: bool = True, grads: bool = True, collapsed: Collection[str] = (),
           highlight: Collection[str] = (), lang: str = i18n.DEFAULT_LANGUAGE) -> str:
    """Graphviz DOT text, forward direction (leaves at the top, the loss at the bottom).

    Modules in `collapsed` become one box each; the others are drawn as a dashed frame around their
    operations. `highlight` names nodes to outline. Edge labels are tensor shapes. The few words
    that are not code ("grad", "leaf", "scalar") are in `lang`.
    """
    where = {n.id: (f"g{list(graph.groups).index(n.group)}" if n.group in collapsed else n.id) for n in graph.nodes}
    lines = ["digraph G {", f'  graph [fontname="{FONT}", rankdir=TB, nodesep=0.25, ranksep=0.35];',
             f'  node [fontname="{FONT}", fontsize=11];', f'  edge [fontname="{FONT}", fontsize=9, color="#555555"];']
    for i, (call, cls) in enumerate(graph.groups.items()):
        members = [n for n in graph.nodes if n.group == call]
        if call in collapsed:
            has_params = any(n.kind == "param" for n in members)
            lines.append(f'  g{i} [label={quote(group_label(graph, call, grads, lang))}, shape=box3d, style=filled, '
                         f'fillcolor="{COLORS["param"] if has_params else COLORS["op"]}"];')
            continue
        lines.append(f'  subgraph cluster_{i} {{ label={quote(f"{call} · {cls}")}; '
                     'style="rounded,dashed"; color="#868e96";')
        lines += [f"    {n.id};" for n in members]
        lines.append("  }")
    for n in graph.nodes:
        if where[n.id] == n.id:
            lines.append(f"  {n.id} [label={quote(node_label(n, values, grads, lang))}, "
                         f"{node_style(n, n is graph.nodes[0], n.name in highlight)}];")
    seen = set()
    for e in graph.edges:
        src, dst = where[e.src], where[e.dst]
        if src != dst and (src, dst, e.shape) not in seen:
            seen.add((src, dst, e.shape))
            lines.append(f"  {src} -> {dst} [label={quote(fmt_shape(e.shape, lang))}];")
    lines.append("}")
    return "\n".join(lines)


# part 1: the lesson's example -----------------------------------------------------------------

@dataclass(frozen=True)
class Operation:
    """One entry of the fixed menu: how it computes, how it reads in code, and its local derivative."""
    code: str  # the PyTorch expression, with {u} the input and {c} the constant
    forward: Callable[[torch.Tensor, float], torch.Tensor]
    local: Callable[[torch.Tensor, float], torch.Tensor]  # ∂out/∂u, elementwise (for reductions: per input)
    latex: str  # the local derivative in LaTeX: U the input, C the constant, N the number of inputs
    constant: bool = False  # whether the step takes the constant c
    reduces: bool = False  # whether it turns the vector into one number (only the last step)


OPERATIONS = {
    "mul": Operation("{u} * {c}", lambda u, c: u * c, lambda u, c: torch.full_like(u, c), "C", constant=True),
    "add": Operation("{u} + {c}", lambda u, c: u + c, lambda u, c: torch.ones_like(u), "1", constant=True),
    "square": Operation("{u} ** 2", lambda u, c: u ** 2, lambda u, c: 2 * u, "2U"),
    "exp": Operation("torch.exp({u})", lambda u, c: torch.exp(u), lambda u, c: torch.exp(u), "e^{U}"),
    "relu": Operation("torch.relu({u})", lambda u, c: torch.relu(u), lambda u, c: (u > 0).to(u.dtype),
                      r"\begin{cases}1 & U>0\\0 & U\le 0\end{cases}"),
    "sigmoid": Operation("torch.sigmoid({u})", lambda u, c: torch.sigmoid(u),
                         lambda u, c: torch.sigmoid(u) * (1 - torch.sigmoid(u)), r"\sigma(U)\,(1-\sigma(U))"),
    "tanh": Operation("torch.tanh({u})", lambda u, c: torch.tanh(u), lambda u, c: 1 - torch.tanh(u) ** 2,
                      r"1-\tanh^2 U"),
    "sin": Operation("torch.sin({u})", lambda u, c: torch.sin(u), lambda u, c: torch.cos(u), r"\cos U"),
    "mean": Operation("{u}.mean()", lambda u, c: u.mean(), lambda u, c: torch.full_like(u, 1 / u.numel()),
                      r"\tfrac{1}{N}", reduces=True),
    "sum": Operation("{u}.sum()", lambda u, c: u.sum(), lambda u, c: torch.ones_like(u), "1", reduces=True),
}
ELEMENTWISE = tuple(k for k, op in OPERATIONS.items() if not op.reduces)
REDUCTIONS = tuple(k for k, op in OPERATIONS.items() if op.reduces)
LESSON_X = (1.0, 2.0, 3.0)
LESSON_STEPS = (("mul", 2.0), ("mean", 0.0))  # y = x * 2; z = y.mean()


def check_chain(steps: Sequence[tuple[str, float]]) -> None:
    """Menu keys only, finite constants, and exactly one reduction, last (so z is one number)."""
    if not steps or any(key not in OPERATIONS for key, _ in steps):
        raise ValueError(f"steps must be keys of {', '.join(OPERATIONS)}")
    if [OPERATIONS[key].reduces for key, _ in steps] != [False] * (len(steps) - 1) + [True]:
        raise ValueError(f"only the last step reduces ({', '.join(REDUCTIONS)})")
    if not all(math.isfinite(c) for _, c in steps):
        raise ValueError("constants must be finite numbers")


def run_chain(x: torch.Tensor, steps: Sequence[tuple[str, float]]) -> list[torch.Tensor]:
    """[x, y1, …, z]: each step applied to the previous tensor."""
    tensors = [x]
    for key, c in steps:
        tensors.append(OPERATIONS[key].forward(tensors[-1], c))
    return tensors


def tensor_names(steps: Sequence) -> list[str]:
    """x, y1, y2, …, z."""
    return ["x"] + [f"y{i}" for i in range(1, len(steps))] + ["z"]


def code_number(v: float) -> str:
    """2 → "2.", 0.5 → "0.5": a float literal, as the lesson writes `torch.tensor([1., 2., 3.])`."""
    text = f"{v:g}"
    return text if any(ch in text for ch in ".ein") else text + "."


def op_line(key: str, c: float, u: str, out: str) -> str:
    """"y1 = x * 2": one menu step as a line of PyTorch."""
    return f"{out} = " + OPERATIONS[key].code.format(u=u, c=f"{c:g}")


def chain_code(x_values: Sequence[float], steps: Sequence[tuple[str, float]]) -> str:
    """The PyTorch lines for this chain, as the lesson writes them."""
    names = tensor_names(steps)
    lines = [f"x = torch.tensor([{', '.join(code_number(v) for v in x_values)}], requires_grad=True)"]
    lines += [op_line(key, c, u, out) for (key, c), u, out in zip(steps, names, names[1:])]
    return "\n".join(lines + ["z.backward()", "x.grad"])


@dataclass(frozen=True)
class ChainStep:
    """One step of the chain rule, from z back towards x: ∂z/∂input = ∂z/∂output · ∂output/∂input."""
    op: str  # menu key
    constant: float
    input: str  # "y1"
    output: str  # "z"
    local: torch.Tensor  # ∂output/∂input, elementwise
    upstream: torch.Tensor  # ∂z/∂output (for a reduction: spread to every input)
    grad: torch.Tensor  # ∂z/∂input = upstream · local

    def code(self) -> str:
        return op_line(self.op, self.constant, self.input, self.output)


def tex_name(name: str) -> str:
    """y1 → y_1."""
    return name[0] + (f"_{{{name[1:]}}}" if len(name) > 1 else "")


def local_latex(step: ChainStep) -> str:
    """The step's local derivative in symbols, e.g. "\\frac{\\partial z}{\\partial y_1} = \\tfrac{1}{3}"."""
    formula = (OPERATIONS[step.op].latex.replace("U", tex_name(step.input))
               .replace("C", f"{step.constant:g}").replace("N", str(step.local.numel())))
    return rf"\frac{{\partial {tex_name(step.output)}}}{{\partial {tex_name(step.input)}}} = {formula}"


def chain_rule(tensors: Sequence[torch.Tensor], steps: Sequence[tuple[str, float]]) -> list[ChainStep]:
    """Each local derivative by hand (the menu's formulas, no autograd), multiplied from z back to x."""
    names = tensor_names(steps)
    upstream = torch.ones((), dtype=tensors[-1].dtype)  # ∂z/∂z = 1
    walk = []
    for i in reversed(range(len(steps))):
        key, c = steps[i]
        u = tensors[i].detach()
        local = OPERATIONS[key].local(u, c)
        spread = upstream.expand_as(u) if OPERATIONS[key].reduces else upstream
        grad = spread * local
        walk.append(ChainStep(key, c, names[i], names[i + 1], local, spread, grad))
        upstream = grad
    return walk


def finite_differences(x: torch.Tensor, steps: Sequence[tuple[str, float]], h: float = 1e-6) -> torch.Tensor:
    """∂z/∂x_i ≈ (z(x + h·e_i) − z(x − h·e_i)) / 2h, in float64, one coordinate at a time."""
    x = x.detach().double()
    eye = torch.eye(len(x), dtype=torch.float64)
    z = lambda v: run_chain(v, steps)[-1].item()  # noqa: E731
    return torch.tensor([(z(x + h * e) - z(x - h * e)) / (2 * h) for e in eye], dtype=torch.float64)


@dataclass(eq=False)
class LessonExample:
    code: str
    names: list[str]  # x, y1, …, z
    tensors: list[torch.Tensor]  # their values
    graph: Graph  # gradients filled in
    steps: list[ChainStep]  # from z back to x
    autograd: torch.Tensor  # x.grad from z.backward()
    by_hand: torch.Tensor  # the chain rule's last gradient
    finite_diff: torch.Tensor

    def finite(self) -> bool:
        return all(torch.isfinite(t).all() for t in (*self.tensors, self.autograd, self.by_hand))


def lesson_example(x_values: Sequence[float] = LESSON_X,
                   steps: Sequence[tuple[str, float]] = LESSON_STEPS) -> LessonExample:
    """`x = torch.tensor(x_values, requires_grad=True)`, the chosen steps, `z.backward()`, and the checks."""
    check_chain(steps)
    x = torch.tensor([float(v) for v in x_values], requires_grad=True)  # float32, as in the lesson
    with Recording() as rec:
        tensors = run_chain(x, steps)
    names = tensor_names(steps)
    graph = trace(tensors[-1], dict(zip(names, tensors)), rec)
    graph.backward()
    walk = chain_rule(tensors, steps)
    return LessonExample(chain_code(x_values, steps), names, [t.detach() for t in tensors], graph, walk,
                         x.grad.detach(), walk[-1].grad, finite_differences(x, steps))


# part 2: the real model -----------------------------------------------------------------------

@dataclass(eq=False)
class ModelGraph:
    graph: Graph | None  # None under torch.no_grad(): nothing was recorded
    loss: float
    mode: str


def model_graph(model: nn.Module, x: torch.Tensor, y: torch.Tensor, mode: str = "train") -> ModelGraph:
    """One minibatch through `model` and nn.CrossEntropyLoss, recorded, then backward.

    Changes the model's mode and its .grad: pass a copy (copy.deepcopy) of a shared model.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}")
    criterion = nn.CrossEntropyLoss()
    model.train(mode == "train")
    model.zero_grad(set_to_none=True)
    with torch.set_grad_enabled(mode != "no_grad"), Recording({"": model, "loss": criterion}) as rec:
        loss = criterion(model(x), y)  # x: (N, 1, 28, 28), y: (N,) → scalar
    graph = trace(loss, {**dict(model.named_parameters()), "loss": loss}, rec)
    if graph is not None:
        graph.backward()
    return ModelGraph(graph, loss.item(), mode)


def fresh_model(name: str, dropout: float = 0.0, batchnorm: bool = False, seed: int = 0,
                hidden: tuple[int, ...] = LESSON_HIDDEN, activation: str = "relu") -> nn.Module:
    """An untrained model with fixed initial weights, leaving the global random state as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(name, dropout, batchnorm, hidden, activation)


def mode_op_counts(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, Counter]:
    """How many nodes of each kind each mode records (empty under no_grad), on copies of `model`."""
    counts = {}
    for mode in MODES:
        g = model_graph(copy.deepcopy(model), x, y, mode).graph
        counts[mode] = g.op_counts() if g is not None else Counter()
    return counts


# CLI ------------------------------------------------------------------------------------------

def example_dot(example: str, dropout: float = 0.0, batchnorm: bool = False, mode: str = "train",
                batch: int = 8, collapse: bool = False) -> str:
    """DOT text for the lesson's example, or a fresh (seed 0) MLP/CNN on the first `batch` training digits."""
    if example == "lesson":
        return to_dot(lesson_example().graph)
    model = fresh_model(example, dropout, batchnorm)
    train = D.load_splits(download=False).train
    result = model_graph(model, D.normalize(train.images[:batch]), train.labels[:batch], mode)
    if result.graph is None:
        return f"// no graph: under torch.no_grad() nothing is recorded (loss {result.loss:.4f})"
    return to_dot(result.graph, collapsed=set(result.graph.groups) if collapse else ())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m core.graph", description=__doc__.split("\n")[0])
    parser.add_argument("--example", choices=("lesson", *MODEL_NAMES), default="lesson")
    parser.add_argument("--dropout", type=float, default=0.0, help="dropout probability (models only)")
    parser.add_argument("--batchnorm", action="store_true", help="BatchNorm after each hidden layer")
    parser.add_argument("--mode", choices=MODES, default="train")
    parser.add_argument("--batch", type=int, default=8, help="minibatch size")
    parser.add_argument("--collapse", action="store_true", help="one box per module")
    args = parser.parse_args(argv)
    if not 0 <= args.dropout < 1 or args.batch < 1:
        parser.error("--dropout must be in [0, 1) and --batch at least 1")
    print(example_dot(args.example, args.dropout, args.batchnorm, args.mode, args.batch, args.collapse))


if __name__ == "__main__":
    main()
