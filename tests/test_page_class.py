"""The class wall, driven as a teacher and two students would: open a class, join with the code,
train, see the leaderboard, reveal the test set once; and every bad input refused in words."""
import io
import re
import time

import pytest
from streamlit.testing.v1 import AppTest

from apptest import as_learner
from core import classroom, confusion
from core.jobs import JobManager
from core.store import new_learner_key, open_store
from core.store import schema as S
from core.store.classes import CODE_ALPHABET, ClassError, Classes, Teacher
from core.train import TrainConfig


def as_browser(key: str, lang: str = "en", **query) -> AppTest:
    """The class page in a browser holding learner key `key`."""
    return as_learner("pages/class.py", key, lang, **query)


def open_class(name="5th period") -> tuple[AppTest, str, str]:
    teacher = new_learner_key()
    at = as_browser(teacher)
    at.text_input(key="class_name").input(name)
    at.button(key="create_class").click().run()
    assert not at.exception, at.exception
    code, teacher_key = at.session_state["class_created"]
    return at, code, teacher_key


def join(code: str, nickname: str) -> tuple[AppTest, str]:
    key = new_learner_key()
    at = as_browser(key)
    at.text_input(key="class_code").input(code)
    at.text_input(key="nickname").input(nickname)
    at.button(key="join_class").click().run()
    return at, key


def train(key: str, splits, **settings) -> int:
    """A finished run of learner `key`, stored as the Lab stores it; returns its run id."""
    store, writer = open_store()
    config = TrainConfig(epochs=1, train_subset=300, device="cpu", **settings)
    run_id, _, _ = store.create_run(key, config, "cpu", splits.source)
    job = JobManager(1).submit(config, splits, listener=writer.recorder(run_id), run_id=run_id)
    job.thread.join(60)
    assert writer.flush()
    return run_id


def fresh(at: AppTest) -> AppTest:
    """The page a moment later (the wall is read at most every 1.5 s)."""
    time.sleep(1.6)
    at.run()
    assert not at.exception, at.exception
    return at


def chart_rows(at: AppTest, index: int) -> list[dict]:
    """The rows of the wall's chart `index` (0: the map, 1: the losses), as the browser receives them."""
    import pyarrow as pa

    (data,) = at.get("vega_lite_chart")[index].proto.datasets
    return pa.ipc.open_stream(data.data.data).read_all().to_pylist()


def board(at: AppTest) -> list[tuple[int, str, str]]:
    table = at.dataframe[0].value
    return list(zip(table["#"], table["Student"], table["Validation accuracy"]))


def test_a_teacher_opens_a_class_two_students_join_train_and_are_ranked(splits):
    teacher, code, teacher_key = open_class()
    assert re.fullmatch(f"[{CODE_ALPHABET}]{{6}}", code)
    assert [c.value for c in teacher.code] == [code, f"?class={code}&teacher={teacher_key}"]
    aiko, aiko_key = join(code.lower(), "Aiko")  # typed in lower case: still the code
    assert "You are in “5th period”" in aiko.success[0].value and "as Aiko" in aiko.success[0].value
    ben, ben_key = join(code, "Ben")
    before = train(ben_key, splits, learning_rate=1e-4)  # …counts: he joined first
    train(aiko_key, splits, learning_rate=1e-2)
    train(aiko_key, splits, learning_rate=1e-4)
    wall = Classes(open_store()[0]).wall(code)
    acc = {r.run_id: r.val_acc for r in wall.runs}
    teacher = fresh(teacher)
    assert "open for the contest · Students: 2 · runs on the wall: 3 · training now: 0" in [c.value for c in teacher.caption]
    best_aiko = max(r.val_acc for r in wall.runs if r.nickname == "Aiko")
    assert board(teacher) == [(1, "Aiko", f"{best_aiko:.1%}"), (2, "Ben", f"{acc[before]:.1%}")]
    assert {"close_class", "reveal_test"} <= {b.key for b in teacher.button} and teacher.get("download_button")
    points = chart_rows(teacher, 0)  # the map: one point per run, its settings in the tooltip and the link
    assert sorted(p["lr"] for p in points) == [1e-4, 1e-4, 1e-2] and all(p["link"].startswith("lab?") for p in points)
    assert {p["label"].split(" · ")[0] for p in points} == {"Aiko", "Ben"}
    assert len(chart_rows(teacher, 1)) == 3  # the loss chart: one epoch of each run
    student = fresh(ben)
    assert board(student)[0][1] == "Aiko"  # the same wall …
    assert not {"close_class", "reveal_test", "remove_run"} & {b.key for b in student.button}  # … without controls


def test_runs_from_before_joining_do_not_count_and_ties_go_to_the_earlier_run(splits):
    teacher, code, _ = open_class()
    key = new_learner_key()
    train(key, splits)  # before joining: this learner's own run only
    at = as_browser(key)
    at.text_input(key="class_code").input(code)
    at.text_input(key="nickname").input("Chika")
    at.button(key="join_class").click().run()
    assert Classes(open_store()[0]).wall(code).runs == []
    train(key, splits, seed=0)
    other, other_key = join(code, "Dai")
    train(other_key, splits, seed=0)  # the same settings and seed: the same accuracy, ended later
    places = [p.nickname for p in classroom.leaderboard(Classes(open_store()[0]).wall(code))]
    assert places == ["Chika", "Dai"]


def test_the_reveal_scores_each_run_once_as_the_confusion_cli_does(splits, tmp_path):
    teacher, code, teacher_key = open_class()
    _, key = join(code, "Emi")
    run_id = train(key, splits)
    teacher = fresh(teacher)
    teacher.button(key="reveal_test").click().run()
    assert not teacher.exception and "1 run was scored" in teacher.success[0].value
    store = open_store()[0]
    with store.session.begin() as db:
        stored_acc, blob = db.get(S.Run, run_id).test_acc, db.get(S.Weights, run_id).model
    path = tmp_path / "emi.pt"
    path.write_bytes(blob)
    printed = io.StringIO()
    confusion.main(["--checkpoint", str(path), "--split", "test"], out=printed)
    mistakes, n = re.search(r"test: accuracy [\d.]+%, (\d+) mistakes in ([\d,]+)", printed.getvalue()).groups()
    n = int(n.replace(",", ""))
    assert stored_acc == (n - int(mistakes)) / n  # the very score the CLI gives that file
    final = fresh(teacher).dataframe[1].value
    assert list(final["Student"]) == ["Emi"] and list(final["Test accuracy"]) == [f"{stored_acc:.1%}"]
    assert "reveal_test" not in {b.key for b in teacher.button}  # once only
    assert Classes(store).reveal(code, Teacher(teacher_key=teacher_key), lambda m: 0.0) == 0
    with store.session.begin() as db:
        assert db.get(S.Run, run_id).test_acc == stored_acc  # a second reveal changed nothing
    assert not Classes(store).find(code).is_open  # the contest closed with the reveal


def test_teacher_operations_need_the_teacher_key_or_the_creating_browser(splits):
    teacher, code, teacher_key = open_class()
    _, key = join(code, "Fumi")
    run_id = train(key, splits)
    classes = Classes(open_store()[0])
    forged = Teacher(teacher_key=new_learner_key(), learner_key=key)
    for operation in (lambda who: classes.set_open(code, who, False),
                      lambda who: classes.hide_run(code, who, run_id),
                      lambda who: classes.set_display(code, who, show_names=False),
                      lambda who: classes.reveal(code, who, lambda m: 1.0)):
        with pytest.raises(ClassError, match="Only the class's teacher"):
            operation(forged)
    wall = classes.wall(code)
    assert wall.klass.is_open and wall.klass.show_names and wall.klass.revealed_at is None
    assert not wall.runs[0].hidden and wall.runs[0].test_acc is None  # nothing changed
    classes.hide_run(code, Teacher(teacher_key=teacher_key), run_id)  # the teacher link's key works anywhere
    assert classes.wall(code).runs[0].hidden
    link = as_browser(new_learner_key(), **{"class": code, "teacher": teacher_key})
    assert "reveal_test" in {b.key for b in link.button} and "teacher" not in link.query_params


@pytest.mark.parametrize("code, nickname, sentence", [
    ("ZZZZZZ", "Gen", "There is no class with the code ZZZZZZ"),
    (None, "", "Choose a nickname"),
    (None, "x" * 25, "A nickname is at most 24 characters (this one has 25)"),
    (None, "tab\there", "cannot hold control characters"),
    (None, "Aiko", "already uses the nickname “Aiko”"),
])
def test_bad_joins_are_refused_in_words_and_change_nothing(code, nickname, sentence):
    _, real_code, _ = open_class()
    join(real_code, "Aiko")
    at, key = join(code or real_code, nickname)
    assert [e.value for e in at.error] and sentence in at.error[0].value
    assert Classes(open_store()[0]).membership(key) is None and not at.success


def test_a_closed_class_takes_no_one_and_its_new_runs_do_not_count(splits):
    teacher, code, _ = open_class()
    _, key = join(code, "Hana")
    teacher.button(key="close_class").click().run()
    assert not teacher.exception and "reopen_class" in {b.key for b in teacher.button}
    late, _ = join(code, "Ken")
    assert "is closed" in late.error[0].value
    train(key, splits)  # still saved for Hana …
    assert open_store()[0].runs(key) and Classes(open_store()[0]).wall(code).runs == []  # … not counted


def test_a_nickname_is_shown_as_text_and_names_can_be_hidden(splits):
    teacher, code, _ = open_class("**Bold** [link](http://x)")
    at, key = join(code, "<svg onload=alert(1)>")
    train(key, splits)
    assert "<svg onload=alert(1)>" in at.success[0].value.replace("\\", "")  # escaped for Markdown, shown as typed
    teacher = fresh(teacher)
    assert board(teacher)[0][1] == "<svg onload=alert(1)>"
    assert teacher.subheader[-2].value.startswith("\\*\\*Bold\\*\\*")  # the class name is not made bold
    teacher.toggle(key="show_names").set_value(False).run()
    assert board(fresh(teacher))[0][1] == "Student 1"


def test_the_wall_csv_has_a_row_per_run(splits):
    teacher, code, _ = open_class()
    _, key = join(code, "Iori")
    train(key, splits)
    teacher = fresh(teacher)
    csv = teacher.get("download_button")[0].proto
    assert csv.label == "Download the wall (CSV)"
    rows = classroom.csv_rows(Classes(open_store()[0]).wall(code))
    assert [(r["nickname"], r["run"], r["val_rank"], r["test_acc"]) for r in rows] == [("Iori", 1, 1, None)]
