"""Home: the training loop as the lesson draws it, ① data on disk … ⑧ parameter update."""
import streamlit as st

from core.i18n import fmt_int
from ui.pages import PAGES
from ui.session import dataset, device_summary, source_summary, tr

STEPS = range(1, 9)

st.title(tr("home.title"))
st.write(tr("home.intro"))

loop = "\n".join(f'  s{i} [label="{tr(f"home.step{i}")}"];' for i in STEPS)
edges = " -> ".join(f"s{i}" for i in STEPS)
st.graphviz_chart(
    f"""digraph loop {{
  rankdir=LR; node [shape=box, style="rounded,filled", fillcolor="#eef4ff", fontname="Noto Sans CJK JP, sans-serif"];
{loop}
  {edges};
  s8 -> s2 [label="{tr('home.repeat')}", style=dashed, constraint=false];
}}""",
    width="stretch",
)
for i in STEPS:
    st.markdown(f"**{tr(f'home.step{i}')}** — {tr(f'home.step{i}_detail')}")

splits = dataset()
left, right = st.columns(2)  # headings, not st.metric: a long GPU name wraps instead of being cut
left.caption(tr("common.data_label"))
left.subheader(source_summary(splits).split(":")[0], anchor=False)
left.caption(source_summary(splits))
right.caption(tr("common.device_label"))
right.subheader(device_summary(), anchor=False)
if splits.source == "bundled":
    st.info(tr("home.bundled_note", n=fmt_int(len(splits.files.train_labels))))

with st.expander(tr("home.lesson_title"), icon=":material/school:"):
    pages = {name: tr(f"{name}.nav") for name in ("data", "lab", "graph", "results", "draw", "noise")}
    st.markdown(tr("home.lesson_steps", **pages, preset_lr=tr("lab.preset_learning_rate"),
                   preset_overfit=tr("lab.preset_overfitting"), use_model=tr("lab.use_model")))

st.subheader(tr("home.pages"))
for path, title, icon, help_key in PAGES[1:]:
    st.page_link(path, label=tr(title), icon=icon, help=tr(help_key))
    st.caption(tr(help_key))
st.caption(tr("home.credits"))
