"""A classroom on one server: N real browser sessions at once, each training a short run and drawing a digit.

    python benchmarks/load_test.py --sessions 20

Starts the real server (`streamlit run app.py`, bundled data) on localhost and drives N Chromium
sessions (Playwright contexts). Each opens the Training Lab, trains a short run (2 epochs on
1,000 samples), waits for it to finish, goes to "Draw a digit" through the app's menu, draws a
"1" with the mouse and waits for a prediction. One session runs first, alone, as the baseline for
memory; the other N-1 then start together. The browsers share this machine's 2 cores with the
server (in a classroom they run on the students' computers), so they run at the lowest CPU
priority; the figures are still pessimistic. Prints time to first loss on screen (p50/p95), queue
waits, server peak memory and memory per extra session. Exit code 0 only when every session
succeeded.
"""
import argparse
import asyncio
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, start_server  # noqa: E402

LAB = "/lab?epochs=2&train_subset=1000&batch_size=64"  # 32 steps: a short classroom run
ONE = [(140, 40 + 10 * i) for i in range(21)]  # a straight down-stroke on the 280×280 canvas
READY = ("() => document.querySelector('h1') && document.querySelector('[data-testid=\"stApp\"]')"
         ".getAttribute('data-test-script-state') === 'notRunning'")
STATE = """() => {
  const text = document.body.innerText;
  if (document.querySelector('[data-testid="stException"]')) return 'error';
  if (/Run 1 finished/.test(text)) return 'finished';
  if (/Run 1 (diverged|failed|was stopped)/.test(text)) return 'error';
  const bar = document.querySelector('[data-testid="stProgress"]');
  if (bar && /step [1-9]/.test(bar.innerText)) return 'training';
  if (/Run 1 is queued/.test(text)) return 'queued';
  return 'starting';
}"""


@dataclass
class Session:
    index: int
    first_loss: float | None = None  # click → first loss on screen (s)
    queue_wait: float = 0.0  # time shown as queued (s)
    prediction: str | None = None
    total: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.first_loss is not None and self.prediction is not None


def lower_browser_priority() -> None:
    """Renice every Chromium process to 19. The browsers stand in for the students' own computers
    but share this machine's 2 cores with the server; Chromium raises its browser and GPU processes
    to nice -8, which would let 20 tabs' chart rendering starve the server being measured."""
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if "chromium" in (proc / "cmdline").read_text() and os.getpriority(os.PRIO_PROCESS, int(proc.name)) < 19:
                    os.setpriority(os.PRIO_PROCESS, int(proc.name), 19)
            except OSError:
                pass


def rss_mb(pid: int, key: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


async def one_session(browser, url: str, s: Session) -> None:
    started = time.perf_counter()
    context = await browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(180_000)
    try:
        await page.goto(url + LAB)
        await page.wait_for_function(READY)
        click = time.perf_counter()
        await page.locator(".st-key-train button").click()
        queued_since = None
        while True:
            state = await page.evaluate(STATE)
            now = time.perf_counter()
            if state == "queued" and queued_since is None:
                queued_since = now
            if state in ("training", "finished") and s.first_loss is None:
                s.first_loss = now - click
                s.queue_wait = now - queued_since if queued_since else 0.0
            if state in ("finished", "error"):
                break
            if now - click > 300:
                state = "timeout"
                break
            await asyncio.sleep(0.05)
        if state != "finished":
            s.errors.append(f"training ended as {state}")
            return
        s.prediction = await draw_a_one(page)
        if await page.locator('[data-testid="stException"]').count():
            s.errors.append("an exception is shown on the page")
    except Exception as exc:  # noqa: BLE001 - any failure of a session is reported, not raised
        s.errors.append(f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}")
    finally:
        s.total = time.perf_counter() - started


async def draw_a_one(page) -> str:
    """Go to "Draw a digit" through the menu, draw a straight "1" and return the prediction shown."""
    await page.locator('[data-testid="stSidebarNav"] a[href$="/draw"]').click()
    await page.wait_for_function(READY)
    upper = page.locator("canvas.upper-canvas").first
    await upper.wait_for(state="visible")
    box = await upper.bounding_box()
    await page.mouse.move(box["x"] + ONE[0][0], box["y"] + ONE[0][1])
    await page.mouse.down()
    for x, y in ONE[1:]:
        await page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
    await page.mouse.up()
    value = page.locator('[data-testid="stMetric"]').filter(has_text="Prediction").locator(
        '[data-testid="stMetricValue"]')
    await value.wait_for(state="visible")
    return (await value.inner_text()).strip()


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


async def main_async(n: int) -> int:
    from playwright.async_api import async_playwright

    port = free_port()
    server = start_server(port, {"TLL_DATA_DIR": str(ROOT / "tests" / "no-data-dir")})
    url = f"http://127.0.0.1:{port}"

    sessions = [Session(i) for i in range(n)]
    peak = 0.0
    try:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            lower_browser_priority()
            await one_session(browser, url, sessions[0])
            baseline = rss_mb(server.pid)
            print(f"after the first session: server RSS {baseline:.0f} MB "
                  f"(first loss {sessions[0].first_loss or float('nan'):.2f} s)")

            async def watch_memory():
                nonlocal peak
                while True:
                    peak = max(peak, rss_mb(server.pid))
                    lower_browser_priority()  # new tabs start new renderer processes
                    await asyncio.sleep(0.2)

            watcher = asyncio.create_task(watch_memory())
            t0 = time.perf_counter()
            await asyncio.gather(*(one_session(browser, url, s) for s in sessions[1:]))
            wall = time.perf_counter() - t0
            watcher.cancel()
            after = rss_mb(server.pid)  # every session still open, its runs and models kept
            await browser.close()
    finally:
        server.terminate()
        server.wait(timeout=20)
    ok = [s for s in sessions if s.ok]
    for s in sessions:
        if not s.ok:
            print(f"session {s.index} FAILED: {'; '.join(s.errors) or 'no prediction'}")
    firsts = [s.first_loss for s in sessions if s.first_loss is not None]
    waits = [s.queue_wait for s in sessions]
    print(f"sessions: {len(ok)}/{n} succeeded; the {n - 1} concurrent ones took {wall:.1f} s in all")
    if firsts:
        print(f"time to first loss on screen: p50 {pct(firsts, 0.5):.2f} s, p95 {pct(firsts, 0.95):.2f} s, "
              f"max {max(firsts):.2f} s")
    print(f"queue waits: {sum(w > 0 for w in waits)} sessions queued; p50 {pct(waits, 0.5):.2f} s, "
          f"p95 {pct(waits, 0.95):.2f} s, max {max(waits):.2f} s")
    print(f"predictions of the drawn 1: {sorted(s.prediction for s in ok).count('1')}/{len(ok)} read it as 1")
    print(f"server memory: {baseline:.0f} MB after one session, peak {peak:.0f} MB, {after:.0f} MB with all "
          f"{n} open → {(after - baseline) / max(n - 1, 1):.1f} MB per extra session")
    return 0 if len(ok) == n else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    args = parser.parse_args()
    sys.exit(asyncio.run(main_async(args.sessions)))


if __name__ == "__main__":
    main()
