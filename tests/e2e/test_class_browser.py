"""In Chromium: a class as a teacher and two students live it. The teacher opens a class; two students
join with its code (one under a nickname that is HTML, after the issue's longer one was refused in
words) and each trains a short run in the Lab; the teacher's wall, open all along and never reloaded, shows each
run within 5 s of its end. The map's tooltip names a run's settings; the reveal shows the final ranking
once; a 1024-px projector (projector mode, Japanese) and a 390-px phone show the wall with nothing cut.

No alert ever fires: every tab fails the test on a dialog. The HTML nickname must reach the screen as
the text it is: in the "You are in …" message, in the leaderboard (the dataframe draws on a canvas,
but its grid keeps an accessible table of the visible cells, read here), in the map's tooltip, and no
<svg onload> element may exist in any tab.

The tests share one class (the `room`) and run in file order: each builds on the ones before.
"""
import re
import time

import pandas as pd
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from core.i18n import t
from tests.e2e.conftest import create_class, cut_text, wait_for_app
from ui.class_wall import REFRESH_SECONDS

MAIN = '[data-testid="stMain"]'
MAP = f'{MAIN} [data-testid="stVegaLiteChart"] >> nth=0'
HTML_NICKNAME = "<svg onload=alert(1)>"  # 21 characters: a nickname the wall must show as text
TOO_LONG = "<img src=x onerror=alert(1)>"  # 28: over the 24 a nickname may have
PLAIN_NICKNAME = "Ben"
LIVE_SECONDS = 5  # a run on the wall this soon after it ends: the fragment's 3 s + the cache's 1.5 s
LABS = {HTML_NICKNAME: "epochs=1&train_subset=1000",  # Adam, lr 0.001, batch 64: the Lab's defaults
        PLAIN_NICKNAME: "epochs=1&train_subset=1000&optimizer=sgd&learning_rate=0.05&batch_size=32"}
SETTINGS = {HTML_NICKNAME: "Adam · lr 0.001 · batch 64 · dropout 0 · MLP 784 → 128 → 64 → 10 ReLU · 1 ep.",
            PLAIN_NICKNAME: "SGD · lr 0.05 · batch 32 · dropout 0 · MLP 784 → 128 → 64 → 10 ReLU · 1 ep."}
# a display-only st.dataframe gets no st-key-… class (its key is not its element id): found by place
LEADERBOARD = f'{MAIN} [data-testid="stDataFrame"] >> nth=0'
FINAL_RANKING = f'{MAIN} [data-testid="stDataFrame"] >> nth=1'
# the zoom of the first heading's element: 1.35 in projector mode (on a wide screen)
ZOOM = ("getComputedStyle(document.querySelector('[data-testid=\"stMain\"] h3')"
        ".closest('[data-testid=\"stElementContainer\"]')).zoom")
INJECTED = "() => document.querySelectorAll('svg[onload], img[onerror], [onload], [onerror]').length"


class Room:
    """The class's browsers (teacher, two students: one context, one cookie jar each) and what the tests saw."""

    def __init__(self, browser):
        self.browser = browser
        self.dialogs: list[str] = []
        self.tabs = []
        self.code = ""
        self.teacher = self.context()
        self.students = {HTML_NICKNAME: self.context(), PLAIN_NICKNAME: self.context()}
        self.wall = None  # the teacher's wall, open from the class's creation on

    def context(self, width: int = 1400, height: int = 1000):
        return self.browser.new_context(locale="en-US", viewport={"width": width, "height": height})

    def tab(self, context, width: int | None = None, height: int = 768):
        """A new tab of `context` (of `width` px, else the context's) that records any dialog and dismisses it."""
        tab = context.new_page()
        tab.set_default_timeout(60_000)
        if width:
            tab.set_viewport_size({"width": width, "height": height})
        tab.on("dialog", lambda d: (self.dialogs.append(f"{d.type}: {d.message}"), d.dismiss()))
        self.tabs.append(tab)
        return tab

    def check_no_script_ran(self) -> None:
        assert self.dialogs == [], self.dialogs
        for tab in self.tabs:
            if not tab.is_closed():
                assert tab.evaluate(INJECTED) == 0, tab.url

    def close(self) -> None:
        for context in (self.teacher, *self.students.values()):
            context.close()


@pytest.fixture(scope="module")
def room(browser):
    r = Room(browser)
    yield r
    r.close()


def main_text(tab) -> str:
    return tab.locator(MAIN).inner_text()


def counts(students: int, runs: int, training: int = 0) -> str:
    return t("class.counts", "en", students=students, runs=runs, training=training)


def wait_for_text(tab, text: str, timeout: float) -> None:
    """Wait until the page's main part shows `text` (a live fragment redraws it without a reload)."""
    tab.wait_for_function("text => document.querySelector('[data-testid=\"stMain\"]').innerText.includes(text)",
                          arg=text, timeout=timeout)


def grid_cells(tab, table: str) -> list[str]:
    """The texts of the dataframe's visible cells: its grid draws them on a canvas and keeps them in an
    accessible table too."""
    return tab.locator(table).locator("[role=gridcell]").all_text_contents()


def wait_for_cells(tab, table: int, cells: int) -> None:
    """Wait until the main part's dataframe number `table` (0 = first) shows at least `cells` cells."""
    tab.wait_for_function("([i, n]) => { const t = document.querySelectorAll("
                          "'[data-testid=\"stMain\"] [data-testid=\"stDataFrame\"]')[i];"
                          " return t && t.querySelectorAll('[role=gridcell]').length >= n; }", arg=[table, cells])


def tables_cut(tab) -> list[int]:
    """The dataframes (by place) whose grid is drawn past their column's right edge: cut_text cannot see
    into a canvas. Zoomed for the projector, the leaderboard ran past the screen's right edge."""
    return tab.evaluate("""() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stDataFrame"]')]
        .map((table, i) => [i, table.querySelector('canvas'),
                            table.parentElement.closest('[data-testid="stVerticalBlock"]')])
        .filter(([, canvas, column]) => canvas
                && canvas.getBoundingClientRect().right > column.getBoundingClientRect().right + 1)
        .map(([i]) => i)""")


def tooltip(tab, point, seen: list[str]) -> str:
    """The tooltip Vega shows over `point` (not one of the `seen` ones, fading away). The mouse moves
    off and onto the point until it shows: a hover while the page is still settling can go unseen."""
    for _ in range(5):
        tab.mouse.move(0, 0)
        point.hover(force=True)  # a point of the zoomable plot: nothing covers it but the plot itself
        try:
            return tab.wait_for_function(
                """seen => { const e = document.getElementById('vg-tooltip-element');
                    const text = e && e.classList.contains('visible') ? e.innerText : '';
                    return text.includes(' · Run 1 · ') && !seen.includes(text) && text; }""",
                arg=seen, timeout=3000).json_value()
        except PlaywrightTimeout:
            continue
    raise AssertionError("no tooltip over the point")


def test_students_join_train_and_their_runs_show_live_on_the_teachers_wall(server_url, room):
    teacher = room.wall = room.tab(room.teacher)
    room.code, link = create_class(teacher, server_url, "5th period")
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{6}", room.code)
    assert re.fullmatch(rf"{re.escape(server_url)}/class\?class={room.code}&teacher=[\w-]{{32}}", link)
    wait_for_text(teacher, counts(0, 0), 10_000)  # the wall, under the form
    assert f"class={room.code}" in teacher.url and "teacher=" not in teacher.url

    joined = {}
    for nickname, context in room.students.items():
        tab = room.tab(context)
        tab.goto(f"{server_url}/class")
        wait_for_app(tab)
        tab.locator(".st-key-class_code input").fill(room.code.lower())  # as a student types it
        if nickname == HTML_NICKNAME:  # the nickname first: refused in words, nothing joined
            tab.locator(".st-key-nickname input").fill(TOO_LONG)
            tab.locator(".st-key-join_class button").click()
            wait_for_app(tab)
            refusal = t("errors.nickname_too_long", "en", limit=24, length=len(TOO_LONG))
            assert tab.locator('[data-testid="stAlertContentError"]').inner_text() == refusal
        tab.locator(".st-key-nickname input").fill(nickname)
        tab.locator(".st-key-join_class button").click()
        tab.locator(".st-key-leave_class").wait_for()
        joined[nickname] = tab.locator('[data-testid="stAlertContentSuccess"]').inner_text()
        assert f" as {nickname}. " in joined[nickname]  # the HTML as its characters, not as an element
    wait_for_text(teacher, counts(2, 0), 10_000)

    for number, (nickname, context) in enumerate(room.students.items(), 1):
        lab = room.tab(context)
        lab.goto(f"{server_url}/lab?{LABS[nickname]}")
        wait_for_app(lab)
        lab.locator(".st-key-train button").click()
        lab.wait_for_selector("text=Run 1 finished 1 epoch", timeout=90_000)
        ended = time.monotonic()
        wait_for_text(teacher, counts(2, number), LIVE_SECONDS * 1000)
        print(f"run {number} on the wall {time.monotonic() - ended:.1f} s after its tab said it finished")
        wait_for_cells(teacher, 0, number * 6)  # 6 columns
        assert nickname in grid_cells(teacher, LEADERBOARD)  # the cell's text is the nickname itself
        lab.close()
    # the teacher's controls are live too (they were drawn once, with the empty class: no run to take
    # off the wall, the CSV button disabled): now they offer both runs, and the CSV holds them
    teacher.locator(".st-key-remove_run").wait_for()
    with teacher.expect_download() as download:
        teacher.locator(".st-key-wall_csv").get_by_role("button").click()
    table = pd.read_csv(download.value.path())
    assert sorted(table["nickname"]) == sorted(SETTINGS)
    room.check_no_script_ran()


def test_the_maps_tooltip_names_each_runs_settings(room):
    teacher = room.wall
    chart = teacher.locator(MAP)
    chart.scroll_into_view_if_needed()
    points = chart.locator("g.mark-symbol.role-mark path")  # not the legend's symbols
    assert points.count() == 2
    tips = {}
    for i in range(2):
        text = tooltip(teacher, points.nth(i), seen=list(tips.values()))
        tips[next(n for n in SETTINGS if f"{n} · Run 1 · " in text)] = text
    for nickname, text in tips.items():
        assert SETTINGS[nickname] in text, text  # the nickname as its characters, and the run's settings
        assert t("class.col_settings", "en") in text and "settings" not in text, text  # titled, not a field name
    assert set(tips) == set(SETTINGS)
    room.check_no_script_ran()


def test_the_reveal_shows_the_final_ranking_once(server_url, room):
    teacher = room.wall
    teacher.locator(".st-key-reveal_test").get_by_role("button").click()  # (a button with help is drawn twice)
    teacher.locator(FINAL_RANKING).wait_for()
    wait_for_text(teacher, t("class.revealed", "en", count=2), 10_000)
    wait_for_cells(teacher, 1, 2 * 6)
    assert set(SETTINGS) <= set(grid_cells(teacher, FINAL_RANKING))
    again = room.tab(room.teacher)
    again.goto(f"{server_url}/class?class={room.code}")
    wait_for_app(again)
    again.locator(FINAL_RANKING).wait_for()
    revealed = t("class.revealed_before", "en", time="§").split("§")
    assert all(part in main_text(again) for part in revealed)
    assert again.locator(".st-key-reveal_test").count() == 0
    assert t("class.status_closed", "en") in main_text(again)
    again.close()
    room.check_no_script_ran()


def test_a_projector_in_projector_mode_and_in_japanese_shows_the_wall_whole(server_url, room):
    """Projector mode is turned on in the projector's tab while the teacher's first tab stays open: that
    tab's redraws must not turn it off again (its toggle wrote what it showed, still "off", whenever that
    differed from the class's setting)."""
    tab = room.tab(room.teacher, width=1024)
    tab.goto(f"{server_url}/class?class={room.code}&lang=ja")
    wait_for_app(tab)
    tab.locator(".st-key-projector label").click()
    tab.wait_for_function(f"() => {ZOOM} === '1.35'")
    room.wall.wait_for_function(f"() => {ZOOM} === '1.35'")
    time.sleep(REFRESH_SECONDS + 1)  # both tabs redraw the wall (and their toggles) at least once
    assert tab.evaluate(f"() => {ZOOM}") == "1.35"
    tab.locator(FINAL_RANKING).wait_for()
    assert t("class.counts", "ja", students=2, runs=2, training=0) in main_text(tab)
    assert cut_text(tab) == [] and tables_cut(tab) == []
    room.check_no_script_ran()


def test_a_phone_shows_the_wall_whole(server_url, room):
    """A student's phone while the class is in projector mode (the teacher left it on): not zoomed there,
    and nothing cut."""
    tab = room.tab(room.students[HTML_NICKNAME], width=390)
    tab.goto(f"{server_url}/class")  # the class of the learner's membership
    wait_for_app(tab)
    tab.locator(FINAL_RANKING).wait_for()
    tab.locator(MAP).wait_for()
    assert tab.evaluate(f"() => {ZOOM}") == "1"
    assert cut_text(tab) == [] and tables_cut(tab) == []
    room.check_no_script_ran()
