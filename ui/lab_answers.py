"""Which digits the newest run answers on the validation set, epoch by epoch: trained on the digits
sorted 0…9, a model ends every epoch answering mostly the last digit it saw."""
import streamlit as st

from core.batching import digit_starts
from core.jobs import Snapshot
from core.train import TrainConfig
from ui import runs
from ui.lab_charts import answers_spec
from ui.session import dataset, lang, tr


def sorted_digit_starts(config: TrainConfig) -> tuple[tuple[int, int], ...]:
    """(step in an epoch, digit) where each digit's minibatches begin, for a run on digits sorted 0…9;
    () for any other order."""
    if config.order != "sorted":
        return ()
    labels = dataset().train.labels[:config.train_subset or None]  # the samples the Trainer takes
    return tuple(digit_starts(labels, config.batch_size, config.drop_last))


def answers(run: runs.SessionRun, snap: Snapshot) -> None:
    """The last epoch's commonest answer in a sentence; for a run on sorted digits, every epoch's answers."""
    counted = [(e.epoch, e.extra["predicted"]) for e in snap.epochs if "predicted" in e.extra]
    if not counted:
        return
    starts = sorted_digit_starts(run.config)
    if starts:
        st.markdown(f"**{tr('lab.answers_title')}**")
        st.vega_lite_chart(spec=answers_spec(counted, lang()), width="stretch")
        st.caption(tr("lab.answers_sorted", digit=starts[-1][1]))
    epoch, counts = counted[-1]
    top = max(range(len(counts)), key=counts.__getitem__)
    st.caption(tr("lab.answers_caption", run=run.name, epoch=epoch, digit=top,
                  share=f"{counts[top] / max(sum(counts), 1):.0%}", n=f"{sum(counts):,}"))
