"""Every word on screen exists in English and Japanese, with the same placeholders."""
import re
import string

from core.i18n import LANGUAGES, MISSING, catalogue, fmt_accuracy, fmt_seconds, language_for_locale, t


def placeholders(text):
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def forms(value):
    """A catalogue value's texts: one, or each plural form."""
    return list(value.values()) if isinstance(value, dict) else [value]


def test_every_key_exists_in_both_languages_with_the_same_placeholders():
    en, ja = catalogue("en"), catalogue("ja")
    assert en.keys() == ja.keys()
    for key in en:
        for text in forms(en[key]) + forms(ja[key]):
            assert placeholders(text) == placeholders(forms(ja[key])[0]), key
            assert text.strip(), key


def test_a_count_picks_the_plural_form():
    """English says "1 epoch" and "2 epochs"; every plural key has both forms and a {count}."""
    en = catalogue("en")
    plural = [key for key, value in en.items() if isinstance(value, dict)]
    assert "lab.ended_finished" in plural and "results.shown" in plural
    for key in plural:
        assert set(en[key]) == {"one", "other"} and all("count" in placeholders(v) for v in en[key].values()), key
    words = dict(run="Run 1", seconds="2.0", acc="90.0")
    assert t("lab.ended_finished", "en", count=1, **words).startswith("Run 1 finished 1 epoch in")
    assert t("lab.ended_finished", "en", count=3, **words).startswith("Run 1 finished 3 epochs in")
    assert t("lab.ended_finished", "ja", count=1, **words).startswith("Run 1 は 1 エポック")
    assert t("results.shown", "en", shown=1, count=1) == "Showing 1 of 1 mistake."
    assert t("data.loader_len", "en", n="8,000", b=1, count=8000, last=1).count("8,000 iterations") == 1


def test_japanese_is_japanese():
    kana_or_kanji = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    ja = catalogue("ja")
    translated = [k for k, v in ja.items() if kana_or_kanji.search(v)]
    assert len(translated) >= 0.9 * len(ja)


def test_language_follows_the_browser_locale():
    assert language_for_locale("ja-JP") == "ja" and language_for_locale("en-US") == "en"
    assert language_for_locale(None) == "en" and language_for_locale("fr-FR") == "en"
    assert set(LANGUAGES) == {"en", "ja"}
    assert t("common.source_bundled", "ja", train="8,000", val="1,000", test="1,000").startswith("同梱サンプル")


def test_a_server_can_set_the_first_visit_language(monkeypatch):
    monkeypatch.setenv("TLL_DEFAULT_LANGUAGE", "ja")
    assert language_for_locale("en-US") == "ja"
    monkeypatch.setenv("TLL_DEFAULT_LANGUAGE", "klingon")  # ignored, not a crash
    assert language_for_locale("en-US") == "en"


def test_sentences_are_joined_as_each_language_writes_them():
    from core.i18n import sentences

    assert sentences("en", "Run 1 finished.", "Its model is used.") == "Run 1 finished. Its model is used."
    assert sentences("ja", "終わりました。", "このモデルを使います。") == "終わりました。このモデルを使います。"


def test_a_short_time_is_not_written_as_no_time():
    assert [fmt_seconds(s) for s in (12.34, 0.4, 0.1, 0.04, 0.0042)] == ["12.3", "0.4", "0.1", "0.04", "0.0042"]


def test_an_accuracy_is_written_in_points_or_as_missing():
    assert (fmt_accuracy(0.9283), fmt_accuracy(1.0)) == ("92.8", "100.0")
    assert fmt_accuracy(float("nan")) == fmt_accuracy(None) == MISSING == "–"
