"""Words shown to users, in English and Japanese, kept apart from the code.

Catalogues live in `core/locales/<lang>/<section>.json`; a key is `<section>.<name>`, so
`t("home.title", "ja")` reads `home.json`'s "title" in Japanese. Values are `str.format`
templates: `t("data.source_bundled", "en", train=8000)`.

A value that depends on a number is an object of plural forms, {"one": "…", "other": "…"}, chosen
by the `count` parameter (`t("lab.ended_finished", "en", count=1, …)` → "finished 1 epoch");
Japanese has one form and keeps a plain string.
"""
import json
import math
import os
from functools import lru_cache
from pathlib import Path

LOCALES = Path(__file__).resolve().parent / "locales"
LANGUAGES = {"en": "English", "ja": "日本語"}
DEFAULT_LANGUAGE = "en"


@lru_cache(maxsize=None)
def catalogue(lang: str) -> dict[str, str | dict[str, str]]:
    """Every key of one language, flattened from its section files."""
    words = {}
    for path in sorted((LOCALES / lang).glob("*.json")):
        section = json.loads(path.read_text(encoding="utf-8"))
        words.update({f"{path.stem}.{name}": text for name, text in section.items()})
    return words


def plural_form(count: float, lang: str) -> str:
    """The CLDR plural category of `count`: English says "1 epoch" but "0 epochs" and "2 epochs"."""
    return "one" if lang == "en" and count == 1 else "other"


def t(key: str, lang: str = DEFAULT_LANGUAGE, **params) -> str:
    """The text for `key` in `lang`, filled with `params`; a missing key raises KeyError. A key
    with plural forms needs the `count` parameter."""
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    text = catalogue(lang)[key]
    if isinstance(text, dict):
        text = text[plural_form(params["count"], lang)]
    return text.format(**params) if params else text


class LessonError(ValueError):
    """An error with a message a student understands: `key` and `params` name it in the catalogue
    (core/locales/*/errors.json), so a page can show it in the learner's language; str() is English."""

    def __init__(self, key: str, **params):
        self.key, self.params = key, params
        super().__init__(t(f"errors.{key}", "en", **params))

    def __reduce__(self):
        """Pickled with its key and params (a Ray worker's error reaches the app in the learner's words)."""
        return _rebuild_error, (self.__class__, self.key, self.params)


def _rebuild_error(cls, key: str, params: dict) -> LessonError:
    return cls(key, **params)


def language_for_locale(locale: str | None) -> str:
    """The UI language of a first visit: TLL_DEFAULT_LANGUAGE when the server sets one (a Japanese
    classroom whose browsers say en-US), else the browser locale such as "ja-JP", else English."""
    configured = os.environ.get("TLL_DEFAULT_LANGUAGE", "").lower()
    if configured in LANGUAGES:
        return configured
    code = (locale or "").split("-")[0].split("_")[0].lower()
    return code if code in LANGUAGES else DEFAULT_LANGUAGE


def sentences(lang: str, *texts: str) -> str:
    """Sentences joined as each language writes them: "Done. Next." but "終わりました。次へ。" (no space)."""
    return ("" if lang == "ja" else " ").join(texts)


def fmt_int(n: int) -> str:
    """12,345: thousands separators read the same in both languages."""
    return f"{n:,}"


MISSING = "–"  # a figure there is none of yet (a run stopped before its first epoch ended)


def fmt_accuracy(fraction: float | None) -> str:
    """92.8 for 0.928 (the text adds "%"); MISSING for None or NaN."""
    return f"{100 * fraction:.1f}" if fraction is not None and math.isfinite(fraction) else MISSING


def fmt_seconds(seconds: float) -> str:
    """12.3, 0.4, 0.04: one decimal, or two significant digits under 0.1 s ("0.0 seconds" reads as
    no time at all, and a 300-image epoch takes 0.04 s)."""
    return f"{seconds:.1f}" if seconds >= 0.095 else f"{seconds:.2g}"


MARKDOWN_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:=^\"'&")


def plain(text: str) -> str:
    """A user's text (a class name, a nickname) escaped so that Markdown shows it as typed: no bold,
    link, math, emoji code or colour, ever."""
    return "".join("\\" + ch if ch in MARKDOWN_SPECIAL else ch for ch in str(text))
