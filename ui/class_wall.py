"""A class's wall, redrawn every few seconds: counts, the leaderboard, the hyperparameter map, every
run's validation loss, the final ranking after the reveal, and (for its teacher) the controls.

Nicknames are drawn only in dataframes and charts (text, never HTML or Markdown)."""
import pandas as pd
import streamlit as st

from core import classroom
from core.i18n import fmt_accuracy, plain
from core.store.classes import ClassError, Wall, WallRun
from core.train import OPTIMIZERS, test_accuracy
from ui import classes as C
from ui.class_charts import BEST_CURVES, curves_chart, map_chart
from ui.session import dataset, lang, tr

REFRESH_SECONDS = 3.0
PROJECTOR_CSS = "<style>[data-testid='stMain'] .block-container { zoom: 1.35; }</style>"


def draw(code: str, is_teacher: bool) -> None:
    """The wall of class `code`, live; its teacher's controls under it."""
    st.fragment(run_every=REFRESH_SECONDS)(_live)(code)
    if is_teacher:
        _teacher_controls(code)


def _names(wall: Wall) -> dict[int, str]:
    """member id → what the wall calls the student: the nickname, or "Student 3" when names are hidden."""
    members = sorted({r.member_id: r.nickname for r in wall.runs}.items())
    if wall.klass.show_names:
        return dict(members)
    return {member: tr("class.student_hidden", n=i) for i, (member, _) in enumerate(members, 1)}


def settings_text(run: WallRun) -> str:
    c = run.config
    return tr("class.settings", optimizer=OPTIMIZERS[c.optimizer], lr=f"{c.learning_rate:g}", batch=c.batch_size,
              dropout=f"{c.dropout:g}", model=c.model.upper(), epochs=c.epochs)


def _live(code: str) -> None:
    wall = C.wall(code)
    if wall is None:
        return
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
    st.markdown(f"**{tr('class.map_title')}**")
    rows = [{"lr": r.config.learning_rate, "batch": r.config.batch_size, "acc": r.val_acc,
             "optimizer": OPTIMIZERS[r.config.optimizer], "label": _label(r, names), "settings": settings_text(r),
             "link": C.lab_link(r.config)} for r in shown]
    st.altair_chart(map_chart(rows, lang()), width="stretch")
    st.caption(tr("class.map_caption"))
    best = [_label(p.run, names) for p in classroom.leaderboard(wall)[:BEST_CURVES]]
    curves = [{"run": _label(r, names), "epoch": epoch, "loss": loss}
              for r in shown for epoch, loss in enumerate(r.val_losses, 1)]
    st.markdown(f"**{tr('class.curves_title')}**")
    st.altair_chart(curves_chart(curves, best, lang()), width="stretch")
    st.caption(tr("class.curves_caption", n=len(best)))


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

def _teacher_controls(code: str) -> None:
    wall = C.wall(code)
    if wall is None:
        return
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
        projector = row.toggle(tr("class.projector"), value=info.projector, key="projector")
        show_names = row.toggle(tr("class.show_names"), value=info.show_names, key="show_names")
        if (projector, show_names) != (info.projector, info.show_names):
            all_classes.set_display(code, who, show_names=show_names, projector=projector)
            _changed()
        _remove_and_restore(code, wall)
        if info.revealed_at is None:
            if st.button(tr("class.reveal"), key="reveal_test", type="primary", help=tr("class.reveal_help")):
                splits = dataset()
                scored = all_classes.reveal(code, who, lambda model: test_accuracy(model, splits))
                st.session_state.class_revealed = scored
                _changed()
        else:
            st.caption(tr("class.revealed_before", time=info.revealed_at.strftime("%Y-%m-%d %H:%M")))
        if "class_revealed" in st.session_state:
            st.success(tr("class.revealed", count=st.session_state.pop("class_revealed")))
    except ClassError as exc:
        st.error(tr(f"errors.{exc.key}", **exc.params))
    rows = classroom.csv_rows(wall)
    st.download_button(tr("class.download_csv"), pd.DataFrame(rows).to_csv(index=False), f"class-{code}.csv",
                       "text/csv", key="wall_csv", disabled=not rows)


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


def _changed() -> None:
    """A teacher changed the class: every viewer's next redraw reads it again."""
    C.wall.clear()
    st.rerun()
