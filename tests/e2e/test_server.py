"""The real server: health endpoint, and a closed tab's training is cancelled (its slot freed)."""
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import free_port, start_server, wait_for_app


@pytest.fixture(scope="module")
def quick_reaping_server():
    """A server that cancels a closed session's runs 1 s after it disconnects."""
    port = free_port()
    proc = start_server(port, {"TLL_SESSION_GRACE": "1", "TLL_MAX_JOBS": "1"})
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_health_endpoint_answers_ok(quick_reaping_server):
    with urllib.request.urlopen(f"{quick_reaping_server}/_stcore/health", timeout=5) as response:
        assert response.status == 200 and response.read() == b"ok"


def test_a_closed_tabs_run_is_cancelled_and_frees_its_slot(quick_reaping_server, browser):
    student = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 1000})
    tab = student.new_page()
    tab.goto(f"{quick_reaping_server}/lab?batch_size=1&epochs=50")  # minutes of training
    wait_for_app(tab)
    tab.locator(".st-key-train button").click()
    expect(tab.get_by_text("step", exact=False).first).to_be_visible(timeout=30_000)

    teacher = browser.new_context(locale="en-US").new_page()
    teacher.goto(quick_reaping_server)
    wait_for_app(teacher)
    expect(teacher.get_by_text("Server: training 1, waiting 0")).to_be_visible()

    student.close()  # the tab is gone: after the 1 s grace period the run is cancelled
    for _ in range(30):
        teacher.reload()
        wait_for_app(teacher)
        if teacher.get_by_text("Server: training 0, waiting 0").is_visible():
            break
        teacher.wait_for_timeout(1000)
    expect(teacher.get_by_text("Server: training 0, waiting 0")).to_be_visible()
    teacher.context.close()
