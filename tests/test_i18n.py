"""Every word on screen exists in English and Japanese, with the same placeholders."""
import re
import string

from core.i18n import LANGUAGES, catalogue, language_for_locale, t


def placeholders(text):
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_exists_in_both_languages_with_the_same_placeholders():
    en, ja = catalogue("en"), catalogue("ja")
    assert en.keys() == ja.keys()
    for key in en:
        assert placeholders(en[key]) == placeholders(ja[key]), key
        assert ja[key].strip(), key


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
