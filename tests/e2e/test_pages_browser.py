"""In Chromium: every page of the menu opens in Japanese without an error and under its own title;
the Results page draws its confusion matrix and its pictures; the language stays in the URL; on a
1024-pixel projector (in either language) and on a phone no text or chart is cut."""
from pathlib import Path

import pytest

from core.i18n import t
from tests.e2e.conftest import cut_text, wait_for_app
from ui.pages import PAGES


def test_every_page_opens_in_japanese(server_url, browser):
    context = browser.new_context(locale="ja-JP", viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    for path, *_ in PAGES:
        name = Path(path).stem
        tab.goto(f"{server_url}/{'' if name == 'home' else name}")
        wait_for_app(tab, timeout=90_000)
        assert tab.locator('[data-testid="stException"]').count() == 0, name
        assert tab.locator("h1").first.text_content().startswith(t(f"{name}.title", "ja")), name
    context.close()


def test_results_draws_the_confusion_matrix_and_the_mistakes(server_url, page):
    page.goto(f"{server_url}/results")
    wait_for_app(page)
    page.wait_for_selector('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg')
    pictures = page.locator('[data-testid="stImage"] img')
    # mistakes, one mistake's saliency, the first layer's weights: waited for, as a loaded machine
    # may still be drawing the page's lower part when its script has ended
    page.wait_for_function("() => document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 3")
    pictures.last.scroll_into_view_if_needed()
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=\"stImage\"] img')]"
                           ".every(img => img.complete && img.naturalWidth > 0)")
    assert pictures.count() >= 3 and page.get_by_text("read as").count() >= 1


def test_the_language_stays_on_reload_on_other_pages_and_in_a_shared_link(server_url, page):
    page.goto(f"{server_url}/lab?lang=ja&batch_size=128")  # a link a Japanese teacher shared; the browser says en-US
    wait_for_app(page)
    assert page.locator("h1").first.text_content().startswith(t("lab.title", "ja"))
    page.get_by_role("combobox", name="Language / 言語").click()
    page.get_by_role("option", name="English").click()
    page.wait_for_selector(f"h1:has-text('{t('lab.title', 'en')}')")
    page.wait_for_function("() => location.search.includes('lang=en')")
    assert "batch_size=128" in page.url  # the Lab's own settings stay beside it
    page.reload()
    wait_for_app(page)
    assert page.locator("h1").first.text_content().startswith(t("lab.title", "en"))
    page.get_by_role("link", name=t("results.nav", "en")).click()  # to another page: the URL keeps the language
    page.wait_for_selector(f"h1:has-text('{t('results.title', 'en')}')")
    page.wait_for_function("() => location.search.includes('lang=en')")


@pytest.mark.parametrize("locale, width", [("ja-JP", 1024), ("en-US", 1024), ("ja-JP", 390)])
def test_no_text_or_chart_is_cut_on_a_projector_or_a_phone(server_url, browser, locale, width):
    """A classroom projector (1024 px, sidebar open) or a learner's phone (390 px): no button label,
    figure or heading ends in "…", and no chart is wider than the page."""
    context = browser.new_context(locale=locale, viewport={"width": width, "height": 768})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.goto(f"{server_url}/lab?epochs=1&train_subset=300")
    wait_for_app(tab)
    tab.locator(".st-key-train button").click()
    tab.wait_for_selector(".st-key-go_on button")  # a finished run: its banner, Go on, the history table
    assert cut_text(tab) == [], "lab"
    for path, *_ in PAGES:
        name = Path(path).stem
        if name != "lab":
            tab.goto(f"{server_url}/{'' if name == 'home' else name}")
            wait_for_app(tab, timeout=90_000)
            assert cut_text(tab) == [], name
    tab.goto(f"{server_url}/draw")
    wait_for_app(tab)
    assert canvas_wholly_shown(tab)  # all of its 280 pixels can be drawn on
    context.close()


def canvas_wholly_shown(tab) -> bool:
    """Whether the page shows the drawing canvas's right edge where it shows its middle (a column
    narrower than the canvas clips it; the canvas lives in a shadow root, so compare the hosts)."""
    return tab.locator("canvas.upper-canvas").first.evaluate("""c => {
        const r = c.getBoundingClientRect(), y = r.top + r.height / 2;
        return document.elementFromPoint(r.left + r.width / 2, y) === document.elementFromPoint(r.right - 2, y);
    }""")


@pytest.mark.parametrize("locale, width", [("en-US", 390), ("ja-JP", 1024), ("en-US", 1400)])
def test_the_loop_diagram_on_home_is_readable_on_a_phone_a_projector_and_a_wide_screen(server_url, browser,
                                                                                      locale, width):
    """One diagram shows (two rows where the page is wide, two columns where it is not), and its
    smallest word is at least 9 px high: scaled to a phone, the two rows' words were 7 px boxes."""
    context = browser.new_context(locale=locale, viewport={"width": width, "height": 768})
    tab = context.new_page()
    tab.goto(f"{server_url}/")
    wait_for_app(tab)
    tab.wait_for_function("() => document.querySelectorAll('[data-testid=\"stGraphVizChart\"] svg').length == 2")
    shown = tab.evaluate("""() => [...document.querySelectorAll('[data-testid="stGraphVizChart"]')]
        .filter(chart => chart.checkVisibility())
        .map(chart => Math.min(...[...chart.querySelectorAll('text')].map(t => t.getBoundingClientRect().height)))""")
    assert len(shown) == 1 and shown[0] >= 9, shown
    context.close()
