"""In Chromium: /graph draws the recorded graphs as SVG, with the autograd nodes' labels, and the chain
rule's formulas whole."""
from tests.e2e.conftest import cut_text, wait_for_app

CHART = '[data-testid="stGraphVizChart"] svg'


def svg_texts(page) -> list[str]:
    """The text of every rendered graph, in page order, once both graphs (the lesson's and the model's)
    have drawn their nodes: on a cold server the second may come a moment after the first."""
    page.wait_for_function(f"() => document.querySelectorAll('{CHART}').length >= 2 && "
                           f"[...document.querySelectorAll('{CHART}')].every(s => s.querySelector('g.node'))")
    return [svg.text_content() for svg in page.query_selector_all(CHART)]


def test_graph_page_renders_the_lesson_and_model_graphs(server_url, page, tmp_path):
    page.goto(f"{server_url}/graph")
    wait_for_app(page)
    page.wait_for_selector(CHART, timeout=60_000)
    lesson, model = svg_texts(page)[:2]
    for label in ("z = MeanBackward0", "y1 = MulBackward0", "x (AccumulateGrad)", "[1, 2, 3]"):
        assert label in lesson
    for label in ("fc1 · Linear", "fc3 · Linear", "ReluBackward0", "8×128"):
        assert label in model
    page.get_by_text("Backward: gradients").click()
    page.wait_for_function(f"() => document.querySelector('{CHART}').textContent.includes('grad [0.6667')")
    assert "grad [0.6667, 0.6667, 0.6667]" in svg_texts(page)[0]
    assert cut_text(page) == []  # the chain rule's fractions are drawn whole (st.latex's box cut them)
    shot = tmp_path / "graph.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
