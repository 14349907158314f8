"""Home: the training loop as the lesson draws it, ① data on disk … ⑧ parameter update."""
import streamlit as st

from core.i18n import fmt_int
from ui.pages import PAGES
from ui.session import dataset, device_summary, source_summary, tr

STEPS = range(1, 9)

st.title(tr("home.title"))
st.write(tr("home.intro"))

# two rows, as a loop reads: ① → ④ along the top, ⑤ → ⑧ back along the bottom, then up to ② again.
# One row of eight boxes is scaled to the page so small that its text was ~8 px high at 1400 px (5 px on a
# 1024-px projector); in two rows it is ~13 px (8 px).
nodes = "\n".join(f'  s{i} [label="{tr(f"home.step{i}")}"];' for i in STEPS)
st.graphviz_chart(
    f"""digraph loop {{
  nodesep=0.35; ranksep=0.5;
  node [shape=box, style="rounded,filled", fillcolor="#eef4ff", fontname="Noto Sans CJK JP, sans-serif", fontsize=16];
{nodes}
  {{rank=same; s1 -> s2 -> s3 -> s4;}}
  {{rank=same; s8 -> s7 -> s6 -> s5 [dir=back];}}
  s4 -> s5;
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
