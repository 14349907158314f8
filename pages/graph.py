"""Computation graph: what loss.backward() walks, from the lesson's x * 2 → mean to the real model."""
import copy

import pandas as pd
import streamlit as st
import torch

from core import data as D
from core import graph as G
from core.models import MODEL_NAMES
from ui.formula import formula
from ui.session import current_model, dataset, lang, model_caption, tr

MAX_STEPS = 3  # elementwise operations before the reduction
BATCH = 8  # samples in the minibatch of part 2
DROPOUT = 0.2  # when the model in use has no dropout of its own


def numbers(t: torch.Tensor) -> str:
    return "[" + ", ".join(f"{v:.6g}" for v in t.flatten().tolist()) + "]"


op_names = {k: tr(f"graph.op_{k}") for k in ("none", *G.OPERATIONS)}  # format_func must not depend on the session
mode_names = {m: tr(f"graph.mode_{m}") for m in G.MODES}
pass_names = {p: tr(f"graph.pass_{p}") for p in ("forward", "backward")}

st.title(tr("graph.title"))
st.write(tr("graph.intro"))

# part 1: the lesson's example -----------------------------------------------------------------
st.header(tr("graph.lesson_header"))
st.write(tr("graph.lesson_intro"))
x_values = [column.number_input(f"x[{i}]", -10.0, 10.0, v, 0.5, key=f"x{i}")
            for i, (column, v) in enumerate(zip(st.columns(len(G.LESSON_X)), G.LESSON_X))]
steps = []
columns = st.columns(MAX_STEPS + 1)
for i, column in enumerate(columns[:MAX_STEPS]):
    key = column.selectbox(tr("graph.step", i=i + 1), ("none", *G.ELEMENTWISE), index=1 if i == 0 else 0,
                           format_func=op_names.get, key=f"op{i}")
    constant = column.number_input(tr("graph.constant"), -10.0, 10.0, 2.0, 0.5, key=f"c{i}",
                                   disabled=key == "none" or not G.OPERATIONS[key].constant)
    if key != "none":
        steps.append((key, constant))
reduction = columns[-1].selectbox(tr("graph.reduction"), G.REDUCTIONS, format_func=op_names.get,
                                  key="reduction")
steps.append((reduction, 0.0))
backward = st.radio(tr("graph.pass"), ("forward", "backward"), format_func=pass_names.get, horizontal=True,
                    key="pass") == "backward"
example = G.lesson_example(x_values, steps)
drawing, explained = st.columns([2, 3])
explained.code(example.code, language="python")
if not example.finite():
    explained.warning(tr("graph.overflow"))
else:
    walk = example.steps  # from z back to x
    with explained:
        shown = st.slider(tr("graph.chain_steps"), 1, len(walk), len(walk), key="shown") \
            if backward and len(walk) > 1 else len(walk)
    with drawing:
        current = {walk[shown - 1].input} if backward else ()  # the node the last step shown reaches
        st.graphviz_chart(G.to_dot(example.graph, grads=backward, highlight=current, lang=lang()))
        st.caption(tr("graph.legend_backward" if backward else "graph.legend_forward"))
    if backward:
        with explained:
            st.subheader(tr("graph.chain_header"))
            for i, step in enumerate(walk[:shown], 1):
                st.markdown(tr("graph.chain_step", i=i, input=step.input, output=step.output, code=step.code()))
                formula(G.local_latex(step))
                st.markdown(tr("graph.chain_values", local=numbers(step.local), upstream=numbers(step.upstream),
                               grad=numbers(step.grad), input=step.input, output=step.output))
        st.dataframe(pd.DataFrame({"x": example.tensors[0].tolist(),
                                   tr("graph.col_chain"): example.by_hand.tolist(),
                                   tr("graph.col_autograd"): example.autograd.tolist(),
                                   tr("graph.col_finite"): example.finite_diff.tolist()}), hide_index=True)
        st.caption(tr("graph.compare", chain=(example.by_hand - example.autograd).abs().max().item(),
                      finite=(example.finite_diff - example.autograd.double()).abs().max().item()))

# part 2: the real model -----------------------------------------------------------------------
st.header(tr("graph.model_header"))
st.write(tr("graph.model_intro"))
in_use = current_model()
c = in_use.config
left, middle, right = st.columns([1, 1.4, 1.6])  # room for "ドロップアウト（p = 0.2）" at 1024 px
arch = left.selectbox(tr("graph.arch"), MODEL_NAMES, index=MODEL_NAMES.index(c.model), format_func=str.upper,
                      key="arch")
p_drop = c.dropout if c.dropout > 0 else DROPOUT
dropout = middle.checkbox(tr("graph.dropout", p=f"{p_drop:g}"), value=c.dropout > 0, key="dropout")
batchnorm = middle.checkbox(tr("graph.batchnorm"), value=c.batchnorm, key="batchnorm")
mode = right.radio(tr("graph.mode"), G.MODES, format_func=mode_names.get, key="mode")
if (arch, dropout, batchnorm) == (c.model, c.dropout > 0, c.batchnorm):
    model = copy.deepcopy(in_use.model).cpu()  # the shared model is never changed; the graph is drawn on the CPU
    st.caption(model_caption(in_use))
else:
    model = G.fresh_model(arch, p_drop if dropout else 0.0, batchnorm, hidden=c.hidden, activation=c.activation)
    st.info(tr("graph.fresh", model=arch.upper()))

train = dataset().train
x, y = D.normalize(train.images[:BATCH]), train.labels[:BATCH]  # (8, 1, 28, 28), (8,)
st.caption(tr("graph.batch", n=BATCH))
st.image(list(train.images[:BATCH].numpy()), caption=[str(int(v)) for v in y], width=42)
result = G.model_graph(copy.deepcopy(model), x, y, mode)  # mode_op_counts below gets the untouched model
graph = result.graph
if graph is None:
    st.info(tr("graph.no_graph", loss=f"{result.loss:.4f}"))
else:
    drawing, details = st.columns([3, 2])
    with details:
        st.metric(tr("graph.loss"), f"{result.loss:.4f}")
        st.metric(tr("graph.n_ops"), sum(n.kind == "op" for n in graph.nodes))
        st.metric(tr("graph.n_params"), len(graph.params()))
        every = st.toggle(tr("graph.expand_all"), key="expand_all")
        expanded = graph.groups if every else st.multiselect(tr("graph.expand"), list(graph.groups),
                                                               placeholder=tr("graph.expand_placeholder"))
        params = [graph.node(name) for name, _ in model.named_parameters()]  # in the model's order
        st.dataframe(pd.DataFrame([{tr("graph.col_param"): n.name, tr("graph.col_shape"): G.fmt_shape(n.shape, lang()),
                                    tr("graph.col_grad_norm"): n.grad.norm().item()} for n in params]),
                     hide_index=True)
    with drawing:
        st.graphviz_chart(G.to_dot(graph, collapsed=set(graph.groups) - set(expanded), lang=lang()))
        st.caption(tr("graph.legend_model"))

st.subheader(tr("graph.modes_header"))
st.write(tr("graph.modes_intro"))
counts = G.mode_op_counts(model, x, y)
st.dataframe(pd.DataFrame({mode_names[m]: counts[m] for m in G.MODES}).fillna(0).astype(int))
st.caption(tr("graph.modes_note"))
