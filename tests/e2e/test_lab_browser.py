"""In Chromium: move a slider, train a short run, see the charts; presets and shared links set the controls."""
from tests.e2e.conftest import wait_for_app

CHART = '[data-testid="stVegaLiteChart"]'


def slider_input(page, label: str):
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).locator('input[type="range"]')


def test_slider_train_and_chart(server_url, page):
    page.goto(f"{server_url}/lab?epochs=2&train_subset=1000")
    wait_for_app(page)
    batch = slider_input(page, "Batch size")
    assert batch.get_attribute("aria-valuetext") == "64"
    batch.focus()
    page.keyboard.press("ArrowRight")  # 64 → 128
    page.wait_for_selector("text=batch size 128 → 8 iterations")
    assert batch.get_attribute("aria-valuetext") == "128"
    page.locator(".st-key-train button").click()
    page.wait_for_selector("text=Run 1 finished 2 epochs", timeout=60_000)
    page.wait_for_selector(f"{CHART} canvas, {CHART} svg")
    assert page.locator(CHART).count() == 2  # loss and accuracy
    assert page.get_by_text("Runs of this session").is_visible()
    assert page.locator('[data-testid="stDataFrame"]').count() == 1  # the history table
    go_on = page.locator(".st-key-go_on button")
    assert go_on.inner_text().endswith("Go on") and page.get_by_text("Next: Run 1, epochs 3–4.").is_visible()
    go_on.click()  # 2 more: the Epochs slider
    page.wait_for_selector("text=Run 1 finished 4 epochs", timeout=60_000)
    page.wait_for_selector("text=Next: Run 1, epochs 5–6.")  # the same run, ready to go on again


def test_preset_and_shared_link_set_the_controls(server_url, page):
    page.goto(f"{server_url}/lab?batch_size=256&optimizer=sgd&learning_rate=0.05&dropout=0.5")
    wait_for_app(page)
    assert slider_input(page, "Batch size").get_attribute("aria-valuetext") == "256"
    assert slider_input(page, "Learning rate").get_attribute("aria-valuetext") == "0.05"
    assert slider_input(page, "Dropout").get_attribute("aria-valuetext") == "0.50"
    assert page.get_by_role("combobox", name="Optimizer").input_value() == "SGD"
    page.get_by_text("Classroom presets").click()
    page.get_by_role("button", name="300 samples, no dropout").click()
    page.wait_for_selector("text=validation loss turns up")
    assert slider_input(page, "Epochs").get_attribute("aria-valuetext") == "40"
    assert slider_input(page, "Dropout").get_attribute("aria-valuetext") == "0.00"
    assert "epochs=40" in page.url and "train_subset=300" in page.url  # the link a teacher hands out
