"""Draw with the mouse (and with a finger, on a phone) on the real canvas in Chromium, read the prediction
off the page, clear it."""
import math

from playwright.sync_api import expect

from conftest import wait_for_app
from core.i18n import t

SIDE = 280  # the canvas, in CSS pixels


def canvas(tab):
    """The canvas Fabric.js listens on (its upper layer), once it is on screen."""
    upper = tab.locator("canvas.upper-canvas").first
    expect(upper).to_be_visible()
    return upper


def stroke(tab, points: list[tuple[float, float]]) -> None:
    """One pen stroke through `points`, given in canvas pixels."""
    box = canvas(tab).bounding_box()
    assert round(box["width"]) == SIDE and round(box["height"]) == SIDE
    x0, y0 = box["x"], box["y"]
    tab.mouse.move(x0 + points[0][0], y0 + points[0][1])
    tab.mouse.down()
    for x, y in points[1:]:
        tab.mouse.move(x0 + x, y0 + y, steps=2)
    tab.mouse.up()


def inked_pixels(tab) -> int:
    """Lit pixels on the canvas's drawing layer, read in the browser."""
    return tab.locator("canvas.dc-canvas.lower-canvas").first.evaluate(
        "c => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] > 128; return n; }")


def prediction(tab):
    metric = tab.locator('[data-testid="stMetric"]').filter(has_text=t("draw.prediction"))
    return metric.locator('[data-testid="stMetricValue"]')


def clear(tab) -> None:
    tab.get_by_role("button", name=t("draw.clear")).click()
    expect(tab.get_by_text(t("draw.blank"))).to_be_visible()
    expect(prediction(tab)).to_have_count(0)
    assert inked_pixels(tab) == 0


ONE = [(140, 40 + 10 * i) for i in range(21)]  # a straight down-stroke, 200 pixels tall
ZERO = [(140 + 60 * math.sin(2 * math.pi * i / 40), 140 - 95 * math.cos(2 * math.pi * i / 40)) for i in range(42)]


def test_drawing_a_one_and_a_zero_reads_them_and_clear_empties_the_canvas(server_url, page):
    page.goto(f"{server_url}/draw")
    wait_for_app(page)
    expect(page.get_by_text(t("draw.blank"))).to_be_visible()
    assert inked_pixels(page) == 0  # the canvas shows on first load, empty

    stroke(page, ONE)
    expect(prediction(page)).to_have_text("1", timeout=30_000)
    assert inked_pixels(page) > 1000
    expect(page.locator(".st-key-draw_answer")).to_be_hidden()  # the prediction is beside the canvas
    clear(page)

    stroke(page, ZERO)
    expect(prediction(page)).to_have_text("0", timeout=30_000)
    clear(page)


def test_a_finger_draws_on_a_phone_and_the_answer_shows_under_the_canvas(server_url, browser):
    """A learner's phone (390 px, touch): a finger's stroke inks the canvas instead of scrolling the
    page, and the answer shows in view right under the canvas (the prediction beside it on a wide
    screen has wrapped below, out of sight)."""
    context = browser.new_context(locale="en-US", viewport={"width": 390, "height": 844}, has_touch=True,
                                  is_mobile=True, device_scale_factor=3)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    tab.goto(f"{server_url}/draw")
    wait_for_app(tab)
    upper = canvas(tab)
    upper.scroll_into_view_if_needed()
    box = upper.bounding_box()
    scrolled = "() => document.querySelector('[data-testid=\"stMain\"]').scrollTop"
    before = tab.evaluate(scrolled)
    touch = context.new_cdp_session(tab)  # Playwright's own touch API only taps
    points = [{"x": box["x"] + x, "y": box["y"] + y} for x, y in ZERO]
    touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": points[:1]})
    for point in points[1:]:
        touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    expect(prediction(tab)).to_have_text("0", timeout=30_000)
    assert inked_pixels(tab) > 1000 and tab.evaluate(scrolled) == before
    answer = tab.locator(".st-key-draw_answer")
    expect(answer).to_be_in_viewport()
    words = t("draw.answer_line", digit=0, p="%").replace("**", "").split("%")[0]  # "Prediction: 0, confidence "
    expect(answer).to_contain_text(words)
    context.close()
