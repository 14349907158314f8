"""The Training Lab's live part: progress and charts, redrawn from the jobs' RunState while they train."""
import streamlit as st

from core.history import legend_labels
from core.i18n import MISSING, fmt_accuracy, fmt_seconds, sentences
from core.jobs import Snapshot
from ui import runs
from ui.lab_answers import answers, sorted_digit_starts
from ui.lab_charts import Curve, accuracy_spec, loss_spec
from ui.lab_history import shown_numbers
from ui.pictures import framed
from ui.session import base_model, current_model, dataset, lang, model_name, tr

POLL_SECONDS = 0.5  # while a run trains: the loss curve grows twice a second
QUEUED_POLL_SECONDS = 2.0  # while this session's run only waits for a free slot


def overlay_runs() -> list[runs.SessionRun]:
    """The runs the charts show: those picked in the history (the newest run is always added)."""
    chosen = set(shown_numbers())
    return [r for r in runs.history() if r.number in chosen]


def live_panel() -> None:
    """Redraw every POLL_SECONDS while a run of this session trains, every QUEUED_POLL_SECONDS while it
    waits in the queue; still otherwise."""
    active = runs.active()
    watching = [r.number for r in active]
    training = any(r.status == "running" for r in active)
    every = (POLL_SECONDS if training else QUEUED_POLL_SECONDS) if active else None
    st.fragment(run_every=every)(_draw)(watching, training)


def _draw(watching: list[int], training: bool) -> None:
    if any(r.number in watching and r.done for r in runs.history()):
        st.rerun(scope="app")  # a run ended: refresh the history, the Stop button and the current model
    if not training and any(r.status == "running" for r in runs.active()):
        st.rerun(scope="app")  # a queued run started: poll at the training pace
    history = runs.history()
    newest = history[-1] if history else None
    newest_snap = newest.snapshot() if newest else None
    if newest:
        _status(newest, newest_snap)
    else:
        st.info(tr("lab.no_runs"))
    shown = overlay_runs()
    snaps = [r.snapshot() for r in shown]
    labels = legend_labels([r.name for r in shown], [r.config for r in shown], lang())
    curves = [Curve(label, snap, run.early_stop_epoch, sorted_digit_starts(run.config))
              for run, label, snap in zip(shown, labels, snaps) if snap.losses]
    st.markdown(f"**{tr('lab.loss_title')}**")  # drawn empty before the first run: the first loss shows at once
    st.vega_lite_chart(spec=loss_spec(curves, lang()), width="stretch")
    st.caption(tr("lab.loss_caption"))
    if any(c.snap.epochs for c in curves):
        st.markdown(f"**{tr('lab.accuracy_title')}**")
        st.vega_lite_chart(spec=accuracy_spec(curves, lang()), width="stretch")
    noise_rows = [dict(run=c.label, epoch=e.epoch, **e.extra) for c in curves for e in c.snap.epochs
                  if "b_simple" in e.extra]  # recorded only when the learner asked for it
    if noise_rows:
        from ui.noise_charts import noise_over_epochs_chart

        st.markdown(f"**{tr('lab.noise_title')}**")
        st.altair_chart(noise_over_epochs_chart(noise_rows), width="stretch")
    if newest:
        _watched(newest, newest_snap)
        answers(newest, newest_snap)


def _status(run: runs.SessionRun, snap: Snapshot) -> None:
    """What the newest run is doing: queued, a progress bar, or how it ended."""
    if snap.status == "queued":
        st.warning(tr("lab.queued", run=run.name, position=snap.queue_position) if snap.queue_position
                   else tr("lab.queued_cluster", run=run.name))  # in Ray's queue, or another server's
    elif snap.status == "running":
        fraction = snap.step / snap.total_steps if snap.total_steps else 0.0
        st.progress(min(fraction, 1.0), text=tr(
            "lab.progress", run=run.name, epoch=min(snap.epoch + 1, run.config.epochs), epochs=run.config.epochs,
            step=f"{snap.step:,}", steps=f"{snap.total_steps:,}", speed=f"{snap.samples_per_s:,.0f}"))
    elif snap.status == "diverged":
        st.error(f"{run.name}: " + tr("errors.diverged", step=snap.diverged_step))
    elif snap.status == "failed":
        st.error(tr("lab.failed", run=run.name, error=snap.error.splitlines()[0] if snap.error else ""))
    elif snap.status == "interrupted":
        st.warning(tr("lab.ended_interrupted", run=run.name, count=snap.epoch) if run.can_go_on
                   else tr("lab.ended_interrupted_none", run=run.name))
    else:
        kept = run.kept_epoch  # early stopping: the best
        ended = tr(f"lab.ended_{snap.status}", run=run.name, count=snap.epoch, seconds=fmt_seconds(snap.elapsed),
                   acc=fmt_accuracy(kept.val_acc if kept else None), best=kept.epoch if kept else MISSING)
        st.success(sentences(lang(), ended, _who_uses(run)) if snap.status in runs.KEPT_MODEL else ended)


def _who_uses(run: runs.SessionRun) -> str:
    """Whether the other pages now use this run's model, or which model instead (a file loaded after
    it ended, an earlier run picked in the history, a copy taught on the Draw page)."""
    if base_model().key == run.model_key:  # itself, or a copy taught from it
        return tr("lab.used_now")
    return tr("lab.used_instead", model=model_name(current_model()), picker=tr("lab.use_model"))


def _watched(run: runs.SessionRun, snap: Snapshot) -> None:
    """The newest run reading the same validation digits after each epoch, as in ConvNetJS's demo:
    its answer under each digit with a mark, in a blue frame when right, an orange one when wrong."""
    last = next((e for e in reversed(snap.epochs) if "watched" in e.extra), None)
    if last is None:
        return
    answers = last.extra["watched"]
    val = dataset().val
    right = [answer == int(truth) for answer, truth in zip(answers, val.labels)]
    st.markdown(f"**{tr('lab.watch_title')}**")
    st.image([framed(digit.numpy(), ok) for digit, ok in zip(val.images, right)], width=44,
             caption=[f"{answer} {tr('lab.watch_right' if ok else 'lab.watch_wrong')}"
                      for answer, ok in zip(answers, right)])
    st.caption(tr("lab.watch_caption", run=run.name, epoch=last.epoch, right=sum(right), n=len(right)))

