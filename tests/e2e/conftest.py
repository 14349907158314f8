"""Real-browser fixtures: one Streamlit server per test session and Chromium via Playwright.

The browser is Debian's /usr/bin/chromium (never `playwright install`). Pages are reached by
their st.navigation URL path: pages/draw.py → http://127.0.0.1:PORT/draw.
"""
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.i18n import t

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, extra_env: dict | None = None, prefix: tuple[str, ...] = (),
                 timeout: float = 60) -> subprocess.Popen:
    """`streamlit run app.py` on localhost:port, returned once /_stcore/health answers; `prefix` runs it
    through another command that execs it (e.g. `taskset -c 0`: the pid is still the server's)."""
    env = {**os.environ, "TLL_OFFLINE": "1", **(extra_env or {})}
    proc = subprocess.Popen(
        [*prefix, sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"streamlit did not answer /_stcore/health within {timeout:g} s")


def stop_server(proc: subprocess.Popen, timeout: float = 10) -> None:
    """End a server of start_server (SIGTERM, then SIGKILL if it has not ended within `timeout` s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


LEARNER_COOKIE = "tll_learner"
LEARNER_KEY = re.compile(r"[A-Za-z0-9_-]{32}")


def learner_cookie(context, timeout: float = 15.0) -> str:
    """The learner key in this browser's cookie, once the app's script has set it."""
    deadline = time.monotonic() + timeout
    while True:
        found = [c["value"] for c in context.cookies() if c["name"] == LEARNER_COOKIE]
        if found and LEARNER_KEY.fullmatch(found[0]):
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no well-formed {LEARNER_COOKIE} cookie: {context.cookies()}")
        time.sleep(0.2)


def create_class(tab, url: str, name: str) -> tuple[str, str]:
    """As a teacher on the server at `url`: open the Class page, create class `name`; (its code, the teacher link)."""
    tab.goto(f"{url}/class")
    wait_for_app(tab)
    tab.get_by_text(t("class.create_title", "en")).click()
    tab.locator(".st-key-class_name input").fill(name)
    tab.locator(".st-key-create_class button").click()
    codes = tab.locator('[data-testid="stMain"] [data-testid="stCode"] code')
    codes.nth(1).wait_for()
    code, link = (c.strip() for c in codes.all_inner_texts())
    return code, link


@pytest.fixture(scope="session")
def server_url():
    port = free_port()
    proc = start_server(port)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture(scope="module")
def ray_head():
    """A private Ray head of 2 CPUs on free ports for the module (tests/ray_head.py), stopped by its own
    means afterwards (never `ray stop`). Fails, never skips, when Ray is not installed."""
    from tests.ray_head import RayHeadUnavailable, start_ray_head

    try:
        # each replica joining the head is a Ray job with workers of its own, warmed when it starts (one per
        # CPU); Ray kills idle workers past one per CPU, and a replica whose warm workers were killed waits
        # for a new one to import torch (~20 s on 2 busy cores) before its first run starts
        head = start_ray_head(cpus=2, env={"RAY_num_workers_soft_limit": "8"})
    except RayHeadUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield head
    finally:
        forced = head.stop()
        assert head.processes() == [], f"processes of the Ray head outlived it: {head.processes()}"
        if forced:
            print(f"the Ray head's processes {forced} had to be killed")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: scripts/test.sh installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh browser tab (English locale, 1400×1000) per test."""
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    yield tab
    context.close()


SETTLED = ("() => document.querySelector('h1') && document.querySelector("
           "'[data-testid=\"stApp\"]').getAttribute('data-test-script-state') === 'notRunning'")


def wait_for_app(tab, timeout: float = 60_000) -> None:
    """Wait until Streamlit has drawn the page's title and finished its script runs: a page can run
    twice on load (measured: the first session of a new server runs /results twice, 20 ms apart), so
    the end of a run counts once it lasts 300 ms."""
    tab.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    tab.wait_for_function(SETTLED, timeout=timeout)
    tab.wait_for_timeout(300)
    tab.wait_for_function(SETTLED, timeout=timeout)


CUT_TEXT = """() => [...document.querySelectorAll('[data-testid="stMain"] *')].filter(e => {
    const style = getComputedStyle(e);
    const clips = style.textOverflow === 'ellipsis' || style.overflow === 'hidden' || style.overflowX === 'hidden';
    const text = e.textContent.trim() && !e.querySelector('canvas, svg, img, iframe, table') && !e.closest('.katex');
    return clips && text && e.checkVisibility() && e.scrollWidth > e.clientWidth + 1;
}).map(e => e.textContent.trim().slice(0, 60)).concat(  // and chart text Vega shortened to fit
    [...document.querySelectorAll('[data-testid="stMain"] svg text')].map(e => e.textContent).filter(t => t.endsWith('…'))
).concat(  // and chart text that runs past either side of its chart, or of the plot that clips it
    [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stVegaLiteChart"] svg.marks')].flatMap(svg =>
        [...svg.querySelectorAll('text')].filter(e => {
            let left = -Infinity, right = svg.getBoundingClientRect().right;  // an axis title may overhang the left
            const clipped = e.closest('[clip-path]');  // a zoomable chart clips its marks to the plot
            if (clipped) {
                const id = clipped.getAttribute('clip-path').match(/#([^)]+)/)[1];
                const box = document.getElementById(id).firstElementChild.getBBox(), m = clipped.getScreenCTM();
                left = Math.max(left, m.e + m.a * box.x);
                right = Math.min(right, m.e + m.a * (box.x + box.width));
            }
            const r = e.getBoundingClientRect();
            const shown = getComputedStyle(e).opacity !== '0';  // Vega hides overlapping labels so
            return shown && e.textContent.trim() && (r.right > right + 1 || r.left < left - 1);
        }).map(e => 'chart text: ' + e.textContent))
).concat(  // and charts drawn wider than their column: the page cuts off their right part
    [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stVegaLiteChart"]')].filter(chart => {
        const drawn = chart.querySelector('canvas, svg.marks');
        const column = chart.parentElement.closest('[data-testid="stVerticalBlock"]');
        return drawn && drawn.checkVisibility() && drawn.getBoundingClientRect().right > column.getBoundingClientRect().right + 1;
    }).map(chart => 'chart: ' + [...chart.querySelectorAll('.role-axis-title text')].map(e => e.textContent).join(' / '))
).concat(  // and formulas drawn past their box, which hides what sticks out (a fraction's top or bottom)
    [...document.querySelectorAll('[data-testid="stMain"] .katex-display')].filter(box => {
        const r = box.getBoundingClientRect();
        return [...box.querySelectorAll('.katex-html .mord')].some(e => {
            const q = e.getBoundingClientRect();
            return q.height > 0 && (q.top < r.top - 1 || q.bottom > r.bottom + 1 || q.right > r.right + 1);
        });
    }).map(box => 'formula: ' + box.querySelector('annotation').textContent.trim().slice(0, 60)))"""


def cut_text(tab) -> list[str]:
    """Texts on the page that end in "…" or are clipped, once its fonts are in (a fallback font measures
    otherwise); charts wider than their column (named by their axis titles) and formulas drawn past
    their box; and Markdown left unrendered ("**" shows where Japanese punctuation stops a bold)."""
    tab.evaluate("() => document.fonts.ready")
    tab.wait_for_timeout(1500)  # the page's scroll bar comes last and takes its width from the text
    raw = [line for line in tab.locator('[data-testid="stMain"]').inner_text().splitlines() if "**" in line]
    return tab.evaluate(CUT_TEXT) + raw
