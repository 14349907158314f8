"""A class opens the Gradient noise page at once: server CPU and wall time until every tab shows it.

    python benchmarks/noise_page_load.py --sessions 8

Starts the real server (`streamlit run app.py`, bundled data) on localhost, opens the home page once
(the data and the default model load), then opens /noise in N Chromium tabs at the same moment and
waits until each shows its charts. Prints the seconds that took and the CPU seconds the server
process spent (from /proc, so Linux only). The browsers share this machine's cores with the server:
the wall time is pessimistic, the server's CPU time is what a classroom server pays.
"""
import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, start_server, wait_for_app  # noqa: E402

CHART = '[data-testid="stVegaLiteChart"]'


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime, stime in clock ticks (100 a second)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    server = start_server(port)
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            warm = browser.new_page()
            warm.goto(url)
            wait_for_app(warm, timeout=180_000)
            tabs = [browser.new_context(viewport={"width": 1200, "height": 800}).new_page()
                    for _ in range(args.sessions)]
            cpu0, t0 = cpu_seconds(server.pid), time.perf_counter()
            for tab in tabs:
                tab.goto(f"{url}/noise", wait_until="commit")
            for tab in tabs:
                tab.wait_for_selector(CHART, timeout=600_000)
                assert tab.locator('[data-testid="stException"]').count() == 0
            wall, cpu = time.perf_counter() - t0, cpu_seconds(server.pid) - cpu0
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"{args.sessions} sessions opened /noise at once: every tab drawn after {wall:.1f} s; "
          f"server CPU {cpu:.1f} s ({cpu / args.sessions:.2f} s a session)")


if __name__ == "__main__":
    main()
