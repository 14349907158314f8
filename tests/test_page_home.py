import re

import torch
from streamlit.testing.v1 import AppTest

from conftest import ROOT
from core.i18n import t


def test_home_shows_the_loop_the_data_and_the_device_in_both_languages():
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None  # on a GPU machine: its name
    for lang, source, device in (("en", "bundled sample", gpu or "threads"), ("ja", "同梱サンプル", gpu or "スレッド")):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.session_state["lang"] = lang
        at.run()
        assert not at.exception
        text = " ".join(c.value for c in at.caption) + " ".join(h.value for h in at.subheader)
        assert source in text and "8,000" in text and device in text
        diagrams = [chart.proto.spec for chart in at.get("graphviz_chart")]  # wide page, narrow page (ui/home.css)
        assert len(diagrams) == 2 and "rankdir=TB" in diagrams[0] and "rankdir=LR" in diagrams[1]
        for dot in diagrams:
            assert t("home.step8", lang) in dot and t("home.repeat", lang) in dot
            assert arrows(dot) == {(1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 2)}  # ① … ⑧, then ② again


def arrows(dot: str) -> set[tuple[int, int]]:
    """The arrows of the loop diagram as drawn, (from, to): a `dir=back` chain points the other way."""
    drawn = set()
    for line in dot.splitlines():
        steps = [int(n) for n in re.findall(r"\bs(\d)\b(?=\s*(?:->|;|\[|$))", re.split(r"\[x?label", line)[0])]
        pairs = set(zip(steps, steps[1:])) if "->" in line else set()
        drawn |= {(b, a) for a, b in pairs} if "dir=back" in line else pairs
    return drawn


def test_the_lesson_plan_names_the_real_pages_presets_and_controls():
    from core.i18n import t

    for lang in ("en", "ja"):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.session_state["lang"] = lang
        at.run()
        plan = next(m.value for m in at.markdown if "(5" in m.value or "（5" in m.value)
        for key in ("data.nav", "lab.nav", "graph.nav", "results.nav", "draw.nav", "noise.nav",
                    "lab.preset_learning_rate", "lab.preset_overfitting", "lab.use_model"):
            assert t(key, lang) in plan, (lang, key)
        assert "{" not in plan



def test_a_broken_data_directory_is_named_in_the_sidebar_and_the_app_runs_on_the_sample(tmp_path, monkeypatch):
    from ui import session

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        (raw / name).write_bytes(b"an interrupted copy")
    monkeypatch.setenv("TLL_DATA_DIR", str(tmp_path))
    session._data.clear()  # the data is loaded once per process: load it again from the broken folder
    try:
        for lang, words in (("en", "bundled sample"), ("ja", "同梱サンプル")):
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
            at.session_state["lang"] = lang
            at.run()
            assert not at.exception
            warning = at.sidebar.warning[0].value
            assert words in warning and "train-images-idx3-ubyte.gz" in warning
            assert "8,000" in " ".join(c.value for c in at.sidebar.caption)
    finally:
        monkeypatch.undo()
        session._data.clear()


def test_a_language_in_the_url_is_the_first_visits_language():
    """A shared link's ?lang=ja wins over the browser's language (tests/e2e checks that the URL follows
    the sidebar's choice: AppTest does not see URL writes in an app with st.navigation)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["lang"] = "ja"
    at.run()
    assert at.session_state["lang"] == "ja" and "学習ループ" in at.title[0].value
    fresh = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    fresh.query_params["lang"] = "klingon"  # ignored, not a crash: the browser's language instead
    fresh.run()
    assert not fresh.exception and fresh.session_state["lang"] == "en"


def test_the_lessons_three_claims_link_to_their_presets_and_the_lab_opens_with_one_chosen():
    from apptest import open_page

    for lang in ("en", "ja"):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.session_state["lang"] = lang
        at.run()
        links = {link.proto.query_string: link.proto.label for link in at.get("page_link")
                 if link.proto.query_string}
        claims = ("depth", "nonlinearity", "random_batches")
        assert links == {f"preset={p}": t(f"lab.preset_{p}", lang) for p in claims}
        assert all(link.proto.page.endswith("lab") for link in at.get("page_link") if link.proto.query_string)
        texts = [m.value for m in at.markdown]
        assert all(t(f"home.claim_{p}", lang) in texts for p in claims)
    lab = open_page("pages/lab.py", query={"preset": "depth"})  # what such a link opens
    assert lab.selectbox(key="hidden").value == () and lab.slider(key="epochs").value == 10
    assert lab.session_state["lab_preset"] == ("depth", 0)
    assert "Without a hidden layer the network is one linear layer" in " ".join(i.value for i in lab.info)
    assert "preset" not in lab.query_params  # chosen once: the learner's later changes stay
