"""In Chromium, beyond one machine (issue 22): two Streamlit replicas, A and B, share one PostgreSQL
database and one Ray head (`ray start --head`, 2 CPUs, on free ports); their trainings run as Ray tasks.

A teacher opens a class on A and puts its wall on a projector served by B; a learner joins on A and
trains there; the same learner, brought to another browser on B by the "continue on another device"
link (`?learner=KEY`), sees the run train on (its step moving, never "interrupted") and finish with the
figures A shows; B's class wall counts it while it trains and ranks it once it ends. Both replicas'
sidebars say the cluster trains at most 2 runs at once (its CPUs).

The tests share the servers and browsers (the `scene`) and run in file order.
"""
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.i18n import t
from tests.e2e.conftest import create_class, free_port, learner_cookie as cookie, start_server, stop_server, wait_for_app

MAIN = '[data-testid="stMain"]'
SIDEBAR = '[data-testid="stSidebar"]'
TABLE = '[data-testid="stDataFrame"]'
EXCEPTION = '[data-testid="stException"]'
NICKNAME = "Ada"
EPOCHS = 8
STEPS = EPOCHS * 4000  # batch size 2: 4,000 steps an epoch, ~1,600 a second on an idle core: ~20 s
LAB = f"lab?epochs={EPOCHS}&batch_size=2"
FINISHED = f"Run 1 finished {EPOCHS} epochs"
ROWS = (f"() => [...document.querySelectorAll('{MAIN} {TABLE} tbody tr')]"
        ".map(tr => [...tr.querySelectorAll('td')].map(td => td.textContent.trim()))")


@pytest.fixture(scope="module")
def database(postgres_server):
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


class Replica:
    def __init__(self, name: str, proc, port: int):
        self.name, self.proc = name, proc
        self.url = f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def replicas(ray_head, database):
    """Servers A and B, started together: the same database, the same Ray head."""
    env = {"TLL_DATABASE_URL": database, "TLL_RAY_ADDRESS": ray_head.address, **ray_head.env}
    ports = [free_port(), free_port()]
    with ThreadPoolExecutor(2) as pool:
        starting = [pool.submit(start_server, port, env) for port in ports]
    started = [Replica(name, f.result(), port) for name, f, port in zip("AB", starting, ports) if not f.exception()]
    try:
        for f in starting:
            f.result()  # raises the first failure to start, after the other server was kept for stopping
        yield started
    finally:
        for replica in started:
            replica.proc.terminate()  # both at once: each leaves the Ray cluster as it ends
        for replica in started:
            stop_server(replica.proc)


class Scene:
    """The browsers (one context, one cookie jar each) and what the tests saw."""

    def __init__(self, browser, a: Replica, b: Replica):
        self.browser, self.a, self.b = browser, a, b
        self.contexts = []
        self.teacher = self.context()  # creates the class on A
        self.projector = self.context()  # the class wall, from B
        self.learner_a = self.context()  # the learner's first browser, on A
        self.learner_b = self.context()  # the learner's other device, on B
        self.code = self.teacher_link = ""
        self.wall = None  # the projector's tab
        self.lab_a = self.lab_b = None

    def context(self):
        context = self.browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
        self.contexts.append(context)
        return context

    @staticmethod
    def tab(context):
        tab = context.new_page()
        tab.set_default_timeout(60_000)
        return tab

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture(scope="module")
def scene(browser, replicas):
    s = Scene(browser, *replicas)
    yield s
    s.close()


def main_text(tab) -> str:
    return tab.locator(MAIN).inner_text()


def wait_for_text(tab, text: str, timeout: float) -> None:
    """Wait until the page's main part shows `text` (a live fragment redraws it without a reload)."""
    try:
        tab.wait_for_function("text => document.querySelector('[data-testid=\"stMain\"]').innerText.includes(text)",
                              arg=text, timeout=timeout)
    except Exception as exc:
        raise AssertionError(f"no {text!r} on {tab.url} within {timeout / 1000:.0f} s; it shows:\n"
                             f"{main_text(tab)[:1500]}") from exc


def wait_for_step_past(tab, step: int, timeout: float) -> tuple[int, int]:
    """Wait until Run 1's progress bar says a step past `step` (redrawn live, no reload); its (epoch, step)."""
    try:
        seen = tab.wait_for_function(
            """step => { const m = document.querySelector('[data-testid="stMain"]').innerText
                              .match(/Run 1 · epoch (\\d+)\\/\\d+ · step ([\\d,]+)\\//);
                         const now = m && parseInt(m[2].replace(/,/g, ''));
                         return now > step && [parseInt(m[1]), now]; }""", arg=step, timeout=timeout).json_value()
    except Exception as exc:
        raise AssertionError(f"no step past {step} on {tab.url} within {timeout / 1000:.0f} s; it shows:\n"
                             f"{main_text(tab)[:1500]}") from exc
    return tuple(seen)


def counts(students: int, runs: int, training: int = 0) -> str:
    return t("class.counts", "en", students=students, runs=runs, training=training)


def table_rows(tab, status: str) -> list[list[str]]:
    """The history table's rows once it has Run 1 alone, with `status`."""
    tab.wait_for_function(f"status => {{ const rows = ({ROWS})(); return rows.length === 1"
                          " && rows[0][0] === 'Run 1' && rows[0][1].startsWith(status) }", arg=status)
    return tab.evaluate(ROWS)


def test_both_replicas_train_on_the_cluster_at_most_two_at_once(scene):
    """The sidebar counts the cluster's CPUs, not the replica's. Each replica joins the head in the
    background when its first page is drawn (both at once here: their workers warm up together), and
    says nothing of the cluster until then: never "cannot be reached" while it joins."""
    wanted = t("common.server_load", "en", running=0, queued=0, slots=2)
    began = time.monotonic()
    tabs = [scene.tab(scene.projector) for _ in (scene.a, scene.b)]
    for tab, replica in zip(tabs, (scene.a, scene.b)):
        tab.goto(f"{replica.url}/", wait_until="commit")
    for tab in tabs:
        wait_for_app(tab)
        deadline = time.monotonic() + 60
        while wanted not in (said := tab.locator(SIDEBAR).inner_text()):
            assert "cannot be reached" not in said and time.monotonic() < deadline, said
            time.sleep(1.0)
            tab.reload()
            wait_for_app(tab)
        assert tab.locator(EXCEPTION).count() == 0
        tab.close()
    print(f"both replicas joined the cluster {time.monotonic() - began:.1f} s after their first page")


def test_a_class_opened_on_a_shows_its_wall_on_b(scene):
    teacher = scene.tab(scene.teacher)
    scene.code, scene.teacher_link = create_class(teacher, scene.a.url, "Replicas")
    assert scene.teacher_link.startswith(f"{scene.a.url}/class?class={scene.code}&teacher=")

    scene.wall = wall = scene.tab(scene.projector)  # the teacher's link, opened on the other replica
    wall.goto(scene.teacher_link.replace(scene.a.url, scene.b.url))
    wait_for_app(wall)
    wait_for_text(wall, counts(0, 0), 10_000)
    wall.locator(".st-key-reveal_test").wait_for()  # B knows the teacher key A made: the teacher's controls

    learner = scene.tab(scene.learner_a)
    learner.goto(f"{scene.a.url}/class")
    wait_for_app(learner)
    learner.locator(".st-key-class_code input").fill(scene.code)
    learner.locator(".st-key-nickname input").fill(NICKNAME)
    learner.locator(".st-key-join_class button").click()
    learner.locator(".st-key-leave_class").wait_for()
    wait_for_text(wall, counts(1, 0), 10_000)  # B's wall, live, never reloaded
    learner.close()


def test_a_run_trained_on_a_shows_live_on_b_and_finishes_there_with_the_same_figures(scene):
    a = scene.lab_a = scene.tab(scene.learner_a)
    a.goto(f"{scene.a.url}/{LAB}")
    wait_for_app(a)
    a.locator(".st-key-train button").click()
    clicked = time.monotonic()
    a.get_by_text(re.compile(r"Run 1 (is queued|· epoch)")).first.wait_for()  # stored: B can find it
    key = cookie(scene.learner_a)

    # at once, while the run waits for a worker and trains: the learner's other device, on B, by the link
    b = scene.lab_b = scene.tab(scene.learner_b)
    b.goto(f"{scene.b.url}/lab?learner={key}")
    wait_for_text(scene.wall, counts(1, 0, training=1), 10_000)  # meanwhile B's wall: the run queues or trains
    first = wait_for_step_past(b, 0, 90_000)  # not after wait_for_app: its first look matters, not its settling
    print(f"B showed {first} {time.monotonic() - clicked:.1f} s after Train on A")
    second = wait_for_step_past(b, first[1], 15_000)  # B redraws the run as A trains it, without a reload
    third = wait_for_step_past(b, second[1], 15_000)
    print(f"B then showed {second}, {third} at {time.monotonic() - clicked:.1f} s")
    assert "interrupted" not in main_text(b)
    assert first[1] < second[1] < third[1] < STEPS
    assert "learner=" not in b.url and cookie(scene.learner_b) == key  # B's browser keeps the learner now

    wait_for_text(a, FINISHED, 150_000)
    ended = time.monotonic()
    print(f"A said finished {ended - clicked:.1f} s after Train")
    wait_for_text(b, FINISHED, 15_000)
    print(f"B said finished {time.monotonic() - ended:.1f} s after A")
    wait_for_app(a)
    wait_for_app(b)
    said_a = a.locator(f'{MAIN} [data-testid="stAlertContentSuccess"]').first.inner_text()
    said_b = b.locator(f'{MAIN} [data-testid="stAlertContentSuccess"]').first.inner_text()
    assert said_a == said_b, (said_a, said_b)
    rows_a, rows_b = table_rows(a, "finished"), table_rows(b, "finished")
    assert rows_a == rows_b and rows_a[0][6] == f"{EPOCHS}/{EPOCHS}", (rows_a, rows_b)
    assert a.locator(EXCEPTION).count() == 0 and b.locator(EXCEPTION).count() == 0


def test_the_class_wall_on_b_ranks_the_run(scene):
    wall = scene.wall
    wait_for_text(wall, counts(1, 1), 10_000)
    wall.wait_for_function("() => [...document.querySelectorAll('[data-testid=\"stMain\"] [data-testid=\"stDataFrame\"]"
                           " [role=gridcell]')].some(c => c.textContent === 'Ada')")
    assert wall.locator(EXCEPTION).count() == 0


def test_stop_pressed_on_b_stops_the_run_training_on_a(scene):
    """B trains nothing of the learner's: its Stop reaches A through the store (A's heartbeat reads it)."""
    a, b = scene.lab_a, scene.lab_b
    a.goto(f"{scene.a.url}/lab?epochs=20&batch_size=2")
    wait_for_app(a)
    a.locator(".st-key-train button").click()
    a.get_by_text(re.compile(r"Run 2 (is queued|· epoch)")).first.wait_for()  # stored: B can find it
    b.goto(f"{scene.b.url}/lab")  # an idle tab finds a run started elsewhere at its next rerun: here a reload
    wait_for_text(b, "Run 2 · epoch", 90_000)  # B shows it training
    b.locator(".st-key-stop button").click()
    pressed = time.monotonic()
    wait_for_text(a, "Run 2 was stopped", 20_000)
    print(f"A stopped Run 2 {time.monotonic() - pressed:.1f} s after Stop on B")
    wait_for_text(b, "Run 2 was stopped", 15_000)
    assert time.monotonic() - pressed < 25
    assert a.locator(EXCEPTION).count() == 0 and b.locator(EXCEPTION).count() == 0
