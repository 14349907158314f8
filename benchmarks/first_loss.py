"""Time from clicking Train to the first loss point on screen, with the Training Lab's default settings.

    python benchmarks/first_loss.py --clicks 5

Starts the real server (`streamlit run app.py`, bundled data), opens /lab in Chromium, and for
each click measures until the page shows a run that has made at least one step (its progress
bar or its end message; the loss chart is drawn in the same fragment update). Also prints the
engine's own share: submit → first loss inside the job manager, without the browser.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, start_server, wait_for_app  # noqa: E402

SHOWN = """() => {
  const bar = document.querySelector('[data-testid="stProgress"]');
  if (bar && /step [1-9]/.test(bar.innerText)) return true;
  return [...document.querySelectorAll('[data-testid="stAlertContentSuccess"]')].some(a => a.innerText.includes('Run ' + %d + ' '));
}"""


def engine_first_loss(clicks: int) -> list[float]:
    from core import data as D
    from core.jobs import JobManager
    from core.train import TrainConfig

    splits, manager, seconds = D.load_splits(download=False), JobManager(), []
    for _ in range(clicks):
        job = manager.submit(TrainConfig(), splits)
        while job.state.snapshot().seconds_to_first_loss is None:
            time.sleep(0.001)
        seconds.append(job.state.snapshot().seconds_to_first_loss)
        manager.cancel(job)
        while not job.done:
            time.sleep(0.01)
    return seconds


def browser_first_loss(clicks: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_server(port, {"TLL_DATA_DIR": str(ROOT / "tests" / "no-data-dir")})
    seconds = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/lab")
            wait_for_app(page)
            page.wait_for_timeout(2000)  # let the browser finish loading the page's scripts
            for k in range(1, clicks + 1):
                started = time.perf_counter()
                page.locator(".st-key-train button").click()
                page.wait_for_function(SHOWN % k, timeout=60_000)
                seconds.append(time.perf_counter() - started)
                page.locator(".st-key-stop button").click()  # the run may already have finished
                page.wait_for_function(f"() => /Run {k} (was stopped|finished)/.test(document.body.innerText)",
                                       timeout=60_000)
            browser.close()
    finally:
        server.terminate()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=5)
    args = parser.parse_args()
    engine = engine_first_loss(args.clicks)
    print("engine, submit → first loss (s):", " ".join(f"{s:.3f}" for s in engine),
          f"| median {statistics.median(engine):.3f}")
    shown = browser_first_loss(args.clicks)
    print("browser, click → first loss on screen (s):", " ".join(f"{s:.2f}" for s in shown),
          f"| median {statistics.median(shown):.2f} | first click {shown[0]:.2f}")


if __name__ == "__main__":
    main()
