"""A class's wall, redrawn every few seconds: counts, the leaderboard, the hyperparameter map, every
run's validation loss, the final ranking after the reveal, and (for its teacher) the controls.

Nicknames are drawn only in dataframes and charts (text, never HTML or Markdown)."""
import math
import threading
from collections import OrderedDict

import pandas as pd
import streamlit as st

from core import classroom
from core.i18n import fmt_accuracy, plain
from core.store import open_store
from core.store.classes import Classes, ClassError, Wall, WallRun
from core.models import shape_text
from core.train import OPTIMIZERS, TrainConfig, batch_text, test_accuracy
from ui import classes as C
from ui.class_charts import BEST_CURVES, curves_spec, map_spec
from ui.session import dataset, lang, tr

REFRESH_SECONDS = 3.0
BUILT_KEPT = 32  # wall snapshots whose charts are kept built (a few classes × two languages)
PROJECTOR_ZOOM = 1.35
# Large type on a projector (not on a phone, where a student may look at the same wall): every element
# but the charts and tables. Zoomed with the rest of the page (the whole column), each of those took
# its width from its column's size on screen and drew that many CSS pixels, which the zoom enlarged
# again: the charts ran 35 % past their column and the leaderboard past the screen's right edge.
PROJECTOR_CSS = ("<style>@media (min-width: 640px) { [data-testid='stMain'] [data-testid='stElementContainer']"
                 ":not(:has([data-testid='stVegaLiteChart'], [data-testid='stDataFrame']))"
                 f" {{ zoom: {PROJECTOR_ZOOM}; }} }}</style>")


def draw(code: str, is_teacher: bool) -> None:
    """The wall of class `code`, live; its teacher's controls under it, live too: drawn once outside the
    fragment, they listed no run that ended after the page was loaded (no run to remove) and offered the
    CSV of that moment (disabled when the class was empty then)."""
    st.fragment(run_every=REFRESH_SECONDS)(_live)(code, is_teacher)
    if "class_revealed" in st.session_state:  # after the full rerun of a reveal; kept until the next one
        st.success(tr("class.revealed", count=st.session_state.pop("class_revealed")))


def _names(wall: Wall) -> dict[int, str]:
    """member id → what the wall calls the student: the nickname, or "Student 3" when names are hidden."""
    members = sorted({r.member_id: r.nickname for r in wall.runs}.items())
    if wall.klass.show_names:
        return dict(members)
    return {member: tr("class.student_hidden", n=i) for i, (member, _) in enumerate(members, 1)}


def settings_text(run: WallRun) -> str:
    c = run.config
    return tr("class.settings", optimizer=OPTIMIZERS[c.optimizer], lr=f"{c.learning_rate:g}", batch=batch_text(c.batch_size, lang()),
              dropout=f"{c.dropout:g}", model=model_text(c), epochs=c.epochs)


def model_text(c: TrainConfig) -> str:
    """"MLP 784 → 128 → 64 → 10 ReLU" (an MLP's shape and activation function) or "CNN": what set a run apart."""
    if c.model != "mlp":
        return c.model.upper()
    activation = f" {tr(f'lab.activation_{c.activation}')}" if c.hidden else ""  # no hidden layer: none to apply
    return f"MLP {shape_text(c.hidden)}{activation}"


def _live(code: str, is_teacher: bool) -> None:
    wall = C.wall(code)
    if wall is None:
        return
    _wall(wall)
    if is_teacher:
        _teacher_controls(code, wall)


def _wall(wall: Wall) -> None:
    info, names = wall.klass, _names(wall)
    if info.projector:
        st.html(PROJECTOR_CSS)
    st.subheader(f"{plain(info.name)} · {tr('class.code_label', code=info.code)}")
    shown = classroom.counted(wall)
    status = tr("class.status_open" if info.is_open else "class.status_closed")
    st.caption(f"{status} · " + tr("class.counts", students=wall.students, runs=len(shown),
                                   training=wall.training))
    if not shown:
        st.info(tr("class.empty"))
        return
    _leaderboard(wall, names)
    finals = classroom.final_ranking(wall)
    if finals:
        _final(finals, names)
    map_spec, curves_spec, best = _charts(wall, names, lang())
    st.markdown(f"**{tr('class.map_title')}**")
    st.vega_lite_chart(spec=map_spec, width="stretch")
    st.caption(tr("class.map_caption"))
    st.markdown(f"**{tr('class.curves_title')}**")
    st.vega_lite_chart(spec=curves_spec, width="stretch")
    st.caption(tr("class.curves_caption", n=best))


_BUILT: OrderedDict = OrderedDict()  # (id of a wall snapshot, language) → (the snapshot, its chart specs)
_BUILT_LOCK = threading.Lock()


def _charts(wall: Wall, names: dict[int, str], language: str) -> tuple[dict, dict, int]:
    """The map's and the loss chart's specs (and how many runs the latter names), built once per wall
    snapshot and language: every viewer of a class gets the same snapshot for WALL_SECONDS, and building
    the two charts was most of a viewer's redraw (~55 of ~110 ms with 400 runs)."""
    key = (id(wall), language)
    with _BUILT_LOCK:
        found = _BUILT.get(key)
        if found is not None and found[0] is wall:  # the very snapshot (an id alone may be reused)
            return found[1]
    shown = classroom.counted(wall)
    rows = [{"lr": r.config.learning_rate, "batch": r.config.minibatch(len(dataset().train)), "acc": r.val_acc,
             "optimizer": OPTIMIZERS[r.config.optimizer], "label": _label(r, names), "settings": settings_text(r),
             "link": C.lab_link(r.config)} for r in shown]
    best = [_label(p.run, names) for p in classroom.leaderboard(wall)[:BEST_CURVES]]
    curves = [{"run": _label(r, names), "epoch": epoch, "loss": loss}
              for r in shown for epoch, loss in enumerate(r.val_losses, 1) if math.isfinite(loss)]
    built = (map_spec(rows, language), curves_spec(curves, best, language), len(best))
    with _BUILT_LOCK:
        _BUILT[key] = (wall, built)
        while len(_BUILT) > BUILT_KEPT:
            _BUILT.popitem(last=False)
    return built


def _label(run: WallRun, names: dict[int, str]) -> str:
    return tr("class.run_label", nickname=names[run.member_id], number=run.number, acc=fmt_accuracy(run.val_acc))


def _leaderboard(wall: Wall, names: dict[int, str]) -> None:
    st.markdown(f"**{tr('class.leaderboard_title')}**")
    rows = [{tr("class.col_rank"): p.rank, tr("class.col_student"): names[p.run.member_id],
             tr("class.col_val_acc"): f"{p.run.val_acc:.1%}", tr("class.col_run"): p.run.number,
             tr("class.col_settings"): settings_text(p.run), tr("class.col_try"): C.lab_link(p.run.config)}
            for p in classroom.leaderboard(wall)]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="leaderboard", column_config={
        tr("class.col_try"): st.column_config.LinkColumn(display_text=tr("class.try_link")),
        tr("class.col_val_acc"): st.column_config.TextColumn(alignment="right")})
    st.caption(tr("class.leaderboard_caption"))


def _final(finals: list[classroom.Final], names: dict[int, str]) -> None:
    st.markdown(f"**{tr('class.final_title')}**")
    rows = [{tr("class.col_rank"): f.test_rank, tr("class.col_student"): names[f.run.member_id],
             tr("class.col_test_acc"): f"{f.run.test_acc:.1%}", tr("class.col_val_rank"): f.val_rank,
             tr("class.col_val_acc"): f"{f.run.val_acc:.1%}", tr("class.col_moved"): _moved(f.moved)}
            for f in finals]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="final_ranking")
    st.caption(tr("class.final_caption"))


def _moved(places: int) -> str:
    if places > 0:
        return tr("class.moved_up", n=places)
    return tr("class.moved_down", n=-places) if places < 0 else tr("class.moved_same")


# the teacher's controls ------------------------------------------------------------------------------

def _teacher_controls(code: str, wall: Wall) -> None:
    info, who, all_classes = wall.klass, C.teacher(code), C.classes()
    st.subheader(tr("class.teacher_title"))
    try:
        row = st.container(horizontal=True)
        if info.is_open and row.button(tr("class.close"), key="close_class"):
            all_classes.set_open(code, who, False)
            _changed()
        if not info.is_open and info.revealed_at is None and row.button(tr("class.reopen"), key="reopen_class"):
            all_classes.set_open(code, who, True)
            _changed()
        # The toggles show the class's settings now and write only when this teacher flips one. They
        # wrote whenever they differed from the class's: another teacher tab (the projector's browser
        # opened with the teacher link), at its next redraw, turned back what this one had just turned on.
        for key, now_set in (("projector", info.projector), ("show_names", info.show_names)):
            st.session_state[key] = now_set
            row.toggle(tr(f"class.{key}"), key=key, on_change=_set_display, args=(code, key))
        if error := st.session_state.pop("class_display_error", None):
            raise error
        _remove_and_restore(code, wall)
        if info.revealed_at is None:
            if st.button(tr("class.reveal"), key="reveal_test", type="primary", help=tr("class.reveal_help")):
                splits = dataset()
                scored = all_classes.reveal(code, who, lambda model: test_accuracy(model, splits))
                st.session_state.class_revealed = scored
                _changed()
        else:
            st.caption(tr("class.revealed_before", time=info.revealed_at.strftime("%Y-%m-%d %H:%M")))
    except ClassError as exc:
        st.error(tr(f"errors.{exc.key}", **exc.params))
    st.download_button(tr("class.download_csv"), lambda: _csv(code), f"class-{code}.csv", "text/csv",
                       key="wall_csv", disabled=not wall.runs, on_click="ignore")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet reads such a cell as a formula


def _csv(code: str) -> str:
    """The wall as CSV, read when the teacher clicks (not rebuilt at each redraw of the wall). A nickname
    a spreadsheet would run as a formula ("=cmd|' /C calc'!A0", "=HYPERLINK(…)") gets a leading "'"."""
    wall = Classes(open_store()[0]).wall(code)
    rows = classroom.csv_rows(wall) if wall else []
    for row in rows:
        if row["nickname"].startswith(FORMULA_STARTS):
            row["nickname"] = "'" + row["nickname"]
    return pd.DataFrame(rows).to_csv(index=False)


def _remove_and_restore(code: str, wall: Wall) -> None:
    names = {r.member_id: r.nickname for r in wall.runs}  # the teacher sees who, even with names hidden
    for hidden, label, button in ((False, "class.remove_run", "class.remove"), (True, "class.restore_run", "class.restore")):
        runs = {r.run_id: tr("class.run_label", nickname=names[r.member_id], number=r.number, acc=fmt_accuracy(r.val_acc))
                for r in wall.runs if r.hidden == hidden}
        if not runs:
            continue
        left, right = st.columns([3, 1], vertical_alignment="bottom")
        picked = left.selectbox(tr(label), list(runs), format_func=runs.get, key=f"pick_{button}")
        if right.button(tr(button), key=button.replace("class.", "") + "_run"):
            C.classes().hide_run(code, C.teacher(code), picked, hidden=not hidden)
            _changed()


def _set_display(code: str, key: str) -> None:
    """A teacher flipped the toggle `key`: the class's setting, for every viewer's next redraw."""
    try:
        C.classes().set_display(code, C.teacher(code), **{key: st.session_state[key]})
    except ClassError as exc:
        st.session_state.class_display_error = exc
    C.wall.clear()


def _changed() -> None:
    """A teacher changed the class: every viewer's next redraw reads it again."""
    C.wall.clear()
    st.rerun()
