"""Home: the training loop as the lesson draws it, ① data on disk … ⑧ parameter update."""
import streamlit as st

from core.i18n import fmt_int
from ui.pages import PAGES
from ui.session import dataset, device_summary, source_summary, tr
from ui.styles import page_style

STEPS = range(1, 9)
CLAIMS = ("depth", "nonlinearity", "random_batches")  # the deep-learning text's claims, as Lab presets


def loop_diagram(rankdir: str) -> str:
    """The loop in two rows (rankdir TB: ① → ④ along the top, ⑤ → ⑧ back along the bottom) or, for a
    narrow page, the same in two columns (LR: ① → ④ down, ⑤ → ⑧ back up); then up to ② again."""
    label = "xlabel" if rankdir == "TB" else "label"  # in the columns an xlabel overlaps its own line
    nodes = "\n".join(f'  s{i} [label="{tr(f"home.step{i}")}"];' for i in STEPS)
    return f"""digraph loop {{
  rankdir={rankdir}; nodesep=0.35; ranksep={0.5 if rankdir == "TB" else 0.3};
  node [shape=box, style="rounded,filled", fillcolor="#eef4ff", fontname="Noto Sans CJK JP, sans-serif", fontsize=16];
{nodes}
  {{rank=same; s1 -> s2 -> s3 -> s4;}}
  {{rank=same; s8 -> s7 -> s6 -> s5 [dir=back];}}
  s4 -> s5;
  s8 -> s2 [{label}="{tr('home.repeat')}", style=dashed, constraint=false];
}}"""


st.title(tr("home.title"))
st.write(tr("home.intro"))

# A diagram is scaled to the page's width. The two rows' text is ~13 px high on a 768-px tablet but ~5 px
# on a phone; below 600 px (ui/home.css) the two columns show instead, at their own size or smaller.
page_style("home")  # which of the two diagrams shows (ui/home.css)
loop = st.container(key="loop")
loop.container(key="loop_wide").graphviz_chart(loop_diagram("TB"), width="stretch")
loop.container(key="loop_narrow").graphviz_chart(loop_diagram("LR"), width="content")
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

st.subheader(tr("home.claims"))
st.caption(tr("home.claims_intro"))
for preset in CLAIMS:  # the claim in words (they wrap), then a short link that opens the Lab with the
    st.markdown(tr(f"home.claim_{preset}"))  # preset's first variant chosen (ui/lab_controls.init_state)
    st.page_link("pages/lab.py", label=tr(f"lab.preset_{preset}"), icon=":material/science:",
                 query_params={"preset": preset})

st.subheader(tr("home.pages"))
for path, title, icon, help_key in PAGES[1:]:
    st.page_link(path, label=tr(title), icon=icon, help=tr(help_key))
    st.caption(tr(help_key))
st.caption(tr("home.credits"))
