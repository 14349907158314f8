from streamlit.testing.v1 import AppTest

from conftest import ROOT


def test_home_shows_the_loop_the_data_and_the_device_in_both_languages():
    for lang, expected in (("en", "bundled sample"), ("ja", "同梱サンプル")):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.session_state["lang"] = lang
        at.run()
        assert not at.exception
        text = " ".join(c.value for c in at.caption)
        assert expected in text and "8,000" in text
        assert len(at.get("graphviz_chart")) == 1
        assert "⑧" in at.get("graphviz_chart")[0].proto.spec
