"""Data and minibatches: ① data on disk → ③ preprocessing → ② shuffled minibatches, and the split."""
import pandas as pd
import streamlit as st
import torch

from core import data as D
from core.batching import batch_epochs, left_out
from core.i18n import fmt_int, sentences
from ui import data_charts as charts
from ui.formula import formula
from ui.session import dataset, lang, source_summary, tr

GRID = 24  # sample digits in the grid
AUGMENTED = 8  # digits in the augmentation preview
HISTOGRAM_IMAGES = 500  # images whose pixels fill the histograms (392,000 pixels)
SPLITS = ("train", "val", "test")


def next_seed(key: str) -> None:
    st.session_state[key] = st.session_state.get(key, 0) + 1


def pictures(x: torch.Tensor) -> list:
    """Normalized (N, 1, 28, 28) → N brightness arrays (28, 28) in [0, 1] for st.image."""
    return list(D.denormalize(x)[:, 0].numpy())


def loader_code(batch_size: int, drop_last: bool, order: str) -> str:
    """The lesson's DataLoader lines with the chosen batch size; only training shuffles, and only in
    the order "shuffle" (the others put the training set in their order once, as the Lab's code shows)."""
    extra = ", drop_last=True" if drop_last else ""
    return "\n".join([
        "from torch.utils.data import DataLoader",
        "",
        f"train_loader = DataLoader(train_dataset, batch_size={batch_size}, shuffle={order == 'shuffle'}{extra})"
        f"  # {tr(f'lab.order_{order}')}",
        f"val_loader = DataLoader(val_dataset, batch_size={batch_size}, shuffle=False)  # {tr('data.code_val')}",
        f"test_loader = DataLoader(test_dataset, batch_size={batch_size}, shuffle=False)  # {tr('data.code_test')}",
    ])


splits = dataset()
train = splits.train
st.title(tr("data.title"))
st.write(tr("data.intro"))

st.header(tr("data.samples_header"))
st.caption(source_summary(splits))
st.write(tr("data.samples_format", shown=GRID, n=fmt_int(len(train)), location=splits.location))
st.image(list(train.images[:GRID].numpy()), caption=[tr("data.label", y=int(y)) for y in train.labels[:GRID]],
         width=56)

st.header(tr("data.norm_header"))
st.write(tr("data.norm_intro"))
# one formula a line: side by side they are wider than a phone
formula(r"x_{\mathrm{ToTensor}} = \frac{x_{\mathrm{pixel}}}{255} \in [0, 1]")
formula(rf"x_{{\mathrm{{Normalize}}}} = \frac{{x_{{\mathrm{{ToTensor}}}} - {D.MEAN}}}{{{D.STD}}} \in [-1, 1]")
examples = torch.tensor([[0, 64, 128, 255]], dtype=torch.uint8)
st.caption(tr("data.norm_examples", pairs=", ".join(
    f"{p} → {v:+.3f}" for p, v in zip(examples[0].tolist(), D.normalize(examples).flatten().tolist()))))
pixels = train.images[:HISTOGRAM_IMAGES]  # (500, 28, 28) uint8
x = D.normalize(pixels)  # (500, 1, 28, 28) in [-1, 1]
stages = [(pixels, 0, 255, "raw", "#888888"), (D.denormalize(x), 0, 1, "tensor", "#4c78a8"),
          (x, -1, 1, "normalized", "#f58518")]
for column, (values, lo, hi, stage, color) in zip(st.columns(3), stages):
    column.altair_chart(charts.pixel_histogram(values, lo, hi, tr(f"data.stage_{stage}"), color), width="stretch")
    values = values.float()
    column.caption(tr("data.stats", lo=f"{values.min().item():.3g}", hi=f"{values.max().item():.3g}",
                      mean=f"{values.mean().item():.3g}"))
st.caption(tr("data.norm_note"))

st.header(tr("data.aug_header"))
cfg = D.AugmentConfig()
st.write(tr("data.aug_intro", degrees=f"{cfg.rotate_degrees:g}", pixels=f"{cfg.shift_pixels:g}",
            noise=f"{cfg.noise_std:g}"))
st.button(tr("data.aug_button"), key="new_draw", on_click=next_seed, args=("aug_seed",))
aug_seed = st.session_state.setdefault("aug_seed", 0)
originals = D.normalize(train.images[:AUGMENTED])  # (8, 1, 28, 28)
st.caption(tr("data.aug_original"))
st.image(pictures(originals), width=84)
st.caption(tr("data.aug_augmented", seed=aug_seed))
st.image(pictures(D.augment(originals, torch.Generator().manual_seed(aug_seed), cfg)), width=84)

st.header(tr("data.batch_header"))
st.write(tr("data.batch_intro"))
left, right = st.columns(2)
n = left.slider(tr("data.n_items"), 1, 60, 20, key="n_items")
batch_size = right.slider(tr("data.batch_size"), 1, 32, 6, key="batch_size")
orders = {name: tr(f"lab.order_{name}") for name in D.ORDERS}  # the Lab's orders, cut by the Trainer's own code
order = st.selectbox(tr("lab.order"), list(orders), key="tile_order", format_func=orders.get,
                     help=tr("data.order_help"))
with st.container(horizontal=True, vertical_alignment="center", gap="large"):  # wraps on a narrow screen
    drop_last = st.toggle("drop_last", key="drop_last", help=tr("data.drop_last_help"))
    st.button(tr("data.reshuffle"), key="reshuffle", on_click=next_seed, args=("shuffle_seed",),
              disabled=order in ("file", "sorted"))  # nothing random to draw again
shuffle_seed = st.session_state.setdefault("shuffle_seed", 0)
iterations, last = D.batch_plan(n, batch_size, drop_last)
digits = train.labels[:n]  # item i is training sample i
epochs = batch_epochs(n, batch_size, shuffle_seed, 2, drop_last,  # epochs[e][i]: items of iteration i
                      D.fixed_order(order, digits, shuffle_seed))
dropped = [left_out(n, batches) for batches in epochs]
with st.container(horizontal=True, horizontal_alignment="distribute", gap="large"):
    st.metric(tr("data.iterations"), iterations, width="content")
    st.metric(tr("data.last_batch"), last, width="content")
    st.metric(tr("data.dropped"), len(dropped[0]), width="content")
rounding = r"\left\lfloor {n} / {b} \right\rfloor" if drop_last else r"\left\lceil {n} / {b} \right\rceil"
formula(rounding.format(n=n, b=batch_size) + f" = {iterations}")
if iterations == 0:
    st.warning(tr("data.no_batch", n=n, b=batch_size))
st.altair_chart(charts.batch_tiles(epochs, dropped, digits.tolist()), width="content")
if iterations:
    st.caption(tr("data.first_batches", one=epochs[0][0], two=epochs[1][0]))
st.caption(sentences(lang(), tr(f"data.batch_note_{order}", seed=shuffle_seed), tr("data.drop_note")))

st.header(tr("data.split_header"))
sizes = splits.sizes()
for column, name in zip(st.columns(3), SPLITS):
    column.metric(tr(f"data.split_{name}"), fmt_int(sizes[name]))
    column.caption(tr(f"data.role_{name}"))
st.write(tr("data.exams"))
st.caption(tr("data.test_from_file" if splits.test.in_test_file else "data.test_from_pool"))
st.code(loader_code(batch_size, drop_last, order), language="python")
train_iterations, train_last = D.batch_plan(sizes["train"], batch_size, drop_last)
st.caption(tr("data.loader_len", n=fmt_int(sizes["train"]), b=batch_size, count=train_iterations,
              last=train_last))

st.header(tr("data.balance_header"))
counts = {tr(f"data.split_{name}"): getattr(splits, name).class_counts() for name in SPLITS}  # 10 per split
st.altair_chart(charts.class_balance(counts), width="stretch")
st.dataframe(pd.DataFrame(counts).T.rename(columns=str), width="stretch")
st.caption(tr("data.balance_note"))
