"""Altair charts of the data page: pixel histograms, minibatch tiles, class balance.

Chart builders take numbers already computed by `core`; they only draw, in the session's language.
"""
import altair as alt
import pandas as pd
import torch

from ui.session import tr

TILE = 22  # pixels per tile in the minibatch picture


def pixel_histogram(values: torch.Tensor, lo: float, hi: float, stage: str, color: str,
                    bins: int = 32) -> alt.Chart:
    """Counts of `values` in `bins` equal bins over [lo, hi], on a log axis: most pixels are background.

    Empty bins are left out; they show as gaps. The axis title is the stage's name with the range on
    a second line: in a third of a 1024-pixel screen one line is cut.
    """
    x_title = [stage, tr("data.stage_range", lo=_signed(lo), hi=_signed(hi))]
    counts = torch.histc(values.float().flatten(), bins=bins, min=lo, max=hi)  # (bins,)
    edges = torch.linspace(lo, hi, bins + 1)
    df = pd.DataFrame({"start": edges[:-1].numpy(), "end": edges[1:].numpy(), "count": counts.numpy()})
    return alt.Chart(df[df["count"] > 0]).mark_bar(color=color, binSpacing=0, stroke="white", strokeWidth=0.5).encode(
        x=alt.X("start:Q", bin="binned", title=x_title, scale=alt.Scale(domain=[lo, hi])),
        x2="end:Q",
        y=alt.Y("count:Q", title=tr("data.axis_pixels"), scale=alt.Scale(type="log"),
                axis=alt.Axis(values=[1, 10, 100, 1_000, 10_000, 100_000], format="~s")),
        y2=alt.datum(1),  # bars grow from 1: a log axis has no 0
        tooltip=[alt.Tooltip("start:Q", title=tr("data.axis_from"), format=".3g"),
                 alt.Tooltip("end:Q", title=tr("data.axis_to"), format=".3g"),
                 alt.Tooltip("count:Q", title=tr("data.axis_pixels"), format=",.0f")],
    ).properties(height=200)


def _signed(number: float) -> str:
    """-1 as "−1", with a typographic minus as the lesson writes it."""
    return f"{number:g}".replace("-", "−")


def batch_tiles(epochs: list[list[list[int]]], dropped: list[list[int]], digits: list[int]) -> alt.Chart:
    """One row of tiles per minibatch, one block per epoch; a tile shows its item's digit in that digit's
    colour (sorted by digit, a minibatch is one colour), its item number when pointed at.

    `epochs[e][i]` are the items of iteration i in epoch e; `dropped[e]` the items epoch e left out;
    `digits[item]` the item's label.
    """
    rows = []
    for e, (batches, left) in enumerate(zip(epochs, dropped), start=1):
        named = [(tr("data.tile_batch", i=i), batch, True) for i, batch in enumerate(batches, start=1)]
        if left:
            named.append((tr("data.tile_dropped"), left, False))
        for row, (name, items, kept) in enumerate(named):
            rows += [{"epoch": tr("data.tile_epoch", e=e), "row": row, "batch": name, "slot": s, "item": item,
                      "digit": digits[item], "kept": kept} for s, item in enumerate(items, start=1)]
    df = pd.DataFrame(rows, columns=["epoch", "row", "batch", "slot", "item", "digit", "kept"])
    base = alt.Chart().encode(
        x=alt.X("slot:O", title=tr("data.axis_slot"), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("batch:N", title=None, sort=alt.SortField("row")),
    )
    tiles = base.mark_rect(stroke="white").encode(
        color=alt.condition("datum.kept", alt.Color("digit:Q", legend=None,
                                                     scale=alt.Scale(scheme="viridis", domain=[0, 9])),
                            alt.value("#bbbbbb")),
        tooltip=[alt.Tooltip("batch:N", title=tr("data.axis_batch")),
                 alt.Tooltip("slot:O", title=tr("data.axis_slot")), alt.Tooltip("item:Q", title=tr("data.axis_item")),
                 alt.Tooltip("digit:Q", title=tr("data.axis_digit"))],
    )
    text = base.mark_text(fontSize=10).encode(
        text="digit:Q",
        color=alt.condition("datum.kept && datum.digit < 5", alt.value("white"), alt.value("black")),
    )
    return alt.layer(tiles, text, data=df).properties(width=alt.Step(TILE), height=alt.Step(TILE)).facet(
        row=alt.Row("epoch:N", title=None, header=alt.Header(labelAngle=0, labelAlign="left", labelFontWeight="bold")),
    )


def class_balance(counts: dict[str, list[int]]) -> alt.Chart:
    """Grouped bars: for each digit, its share of every split (counts in the tooltip).

    Shares, not raw counts, so a 1,000-image split can be compared with an 8,000-image one.
    """
    digit_title, share_title, split_title, count_title = (
        tr(f"data.axis_{k}") for k in ("digit", "share", "split", "count"))
    rows = [{"split": split, "digit": digit, "count": c, "share": c / max(sum(per_digit), 1)}
            for split, per_digit in counts.items() for digit, c in enumerate(per_digit)]
    return alt.Chart(pd.DataFrame(rows)).mark_bar().encode(
        x=alt.X("digit:O", title=digit_title, axis=alt.Axis(labelAngle=0)),
        xOffset=alt.XOffset("split:N", sort=list(counts)),
        y=alt.Y("share:Q", title=share_title, axis=alt.Axis(format="%")),
        color=alt.Color("split:N", title=split_title, sort=list(counts)),
        tooltip=[alt.Tooltip("split:N", title=split_title), alt.Tooltip("digit:O", title=digit_title),
                 alt.Tooltip("count:Q", title=count_title, format=","),
                 alt.Tooltip("share:Q", title=share_title, format=".1%")],
    ).properties(height=260)
