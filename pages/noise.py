"""SGD gradient noise: minibatch gradients of the real model scatter around the true gradient G."""
import streamlit as st

from core import noise
from core.i18n import fmt_int, fmt_seconds
from ui import noise_charts as charts
from ui import noise_reports
from ui.runs import model_run
from ui.session import current_model, dataset, lang, model_caption, model_label, tr

SAMPLE_CHOICES = (500, 1000, 2000, 4000, 8000, 16000, 30000, 60000)
DRAW_CHOICES = (10, 20, 50, 100, 200)
CNN_SAMPLES = 1000  # the CNN's per-sample gradients need vmap: fewer samples keep the page quick

st.title(tr("noise.title"))
st.write(tr("noise.intro"))

in_use = current_model()
labels = {k: tr(f"noise.model_{k}") for k in ("current", "fresh")}
which = st.radio(tr("noise.model_label"), list(labels), format_func=labels.get,
                 horizontal=True, key="noise_model")
fresh_caption = tr("noise.fresh_caption", model=model_label(in_use.config))
st.caption(model_caption(in_use) if which == "current" else fresh_caption)

splits = dataset()
n_train = len(splits.train)
sample_options = [n for n in SAMPLE_CHOICES if n < n_train] + [n_train]
default_n = n_train if in_use.config.model == "mlp" else min(CNN_SAMPLES, n_train)
left, middle, right = st.columns(3)
# one slider per model kind: a CNN that comes in after an MLP starts at its own quick default
n = left.select_slider(tr("noise.samples_label"), sample_options, value=default_n, format_func=fmt_int,
                       key=f"noise_samples_{in_use.config.model}", help=tr("noise.samples_help"))
draws = middle.select_slider(tr("noise.draws_label"), DRAW_CHOICES, value=noise.DEFAULT_DRAWS, key="noise_draws",
                             help=tr("noise.draws_help"))
seed = right.number_input(tr("noise.seed_label"), min_value=0, max_value=10_000, value=0, step=1, key="noise_seed")
with st.spinner(tr("noise.measuring", n=fmt_int(n))):
    report = noise_reports.report(in_use, which == "fresh", n, draws, seed)
scale = report.scale

st.caption(tr("noise.measured_in", n=fmt_int(scale.n_samples), draws=draws, seconds=fmt_seconds(report.seconds),
              largest=fmt_int(report.sizes[-1].batch_size)))
with st.container(horizontal=True, horizontal_alignment="distribute", gap="large"):  # wraps on a narrow screen
    st.metric(tr("noise.trace_sigma"), f"{scale.trace_sigma:.4g}", help=tr("noise.trace_sigma_help"), width="content")
    st.metric(tr("noise.grad_norm_sq"), f"{scale.grad_norm_sq:.4g}", help=tr("noise.grad_norm_sq_help"),
              width="content")
    st.metric(tr("noise.b_simple"), f"{scale.b_simple:.1f}", help=tr("noise.b_simple_help"), width="content")

st.subheader(tr("noise.cloud_title"))
st.write(tr("noise.cloud_text"))
st.altair_chart(charts.cloud_chart(report, lang()), width=charts.CLOUD_WIDTH)

st.subheader(tr("noise.variance_title"))
st.write(tr("noise.variance_text"))
st.altair_chart(charts.variance_chart(report, lang()), width="stretch")

st.subheader(tr("noise.cosine_title"))
st.write(tr("noise.cosine_text"))
st.altair_chart(charts.cosine_chart(report, lang()), width="stretch")

st.subheader(tr("noise.scale_title"))
st.write(tr("noise.scale_text", value=f"{scale.b_simple:.0f}"))
st.altair_chart(charts.noise_scale_chart(report, lang()), width="stretch")

run = model_run()
rows = [{"epoch": e.epoch, **e.extra} for e in run.epochs if "b_simple" in e.extra] if run else []
if rows and which == "current":
    st.subheader(tr("noise.epochs_title"))
    st.write(tr("noise.epochs_text"))
    st.altair_chart(charts.noise_over_epochs_chart(rows, lang()), width="stretch")

st.caption(tr("noise.mode_note"))
