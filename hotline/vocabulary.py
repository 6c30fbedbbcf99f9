"""The words a request is described with: one source for the UI, the SMS and the IVR's labels.

A request stores codes ("groceries", "coming_days", "fr"); people read words. Every word
is an English message id here, translated through the call centre's one catalogue
(``callcenter_ui/translations/<language>/LC_MESSAGES/messages.po``), so the operator's
screen, the volunteer's SMS and the operator's whisper name a need the same way. The
IVR's menu labels (``ivr_flows/*.toml``) are the same words with a capital letter
(tests/test_vocabulary.py holds them together). Languages are shown by name in the
reader's language; the language switch names each language in its own words.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import lru_cache
from pathlib import Path

from babel import support
from flask import has_app_context


def N_(message: str) -> str:
    """Mark an English text for translation without translating it here (Babel extracts N_)."""
    return message


# The categories the Leuven flow sets (ivr_flows/leuven.toml, `set.category`).
CATEGORIES = ("groceries", "meal", "errand", "dog", "talk", "other")
URGENCIES = ("today", "coming_days")
# Languages of requests, volunteers and texts; also the languages of the call centre.
LANGUAGES = ("nl", "fr", "en")
STATUSES = ("new", "triaged", "assigned", "accepted", "done", "cancelled")
# How a request came in (HelpRequest.source).
SOURCES = ("ivr", "live", "callback")

# Lower case, as they read inside a sentence ("new request 482913 - a meal in 3000").
CATEGORY_WORDS = {
    "groceries": N_("groceries or pharmacy"),
    "meal": N_("a meal"),
    "errand": N_("post or bank"),
    "dog": N_("walking the dog"),
    "talk": N_("a friendly chat"),
    "other": N_("something else"),
}
URGENCY_WORDS = {"today": N_("today"), "coming_days": N_("in the coming days")}
STATUS_WORDS = {
    "new": N_("new"),
    "triaged": N_("triaged"),
    "assigned": N_("assigned"),
    "accepted": N_("accepted"),
    "done": N_("done"),
    "cancelled": N_("cancelled"),
}
SOURCE_WORDS = {"ivr": N_("phone menu"), "live": N_("taken live"), "callback": N_("call-back")}
# A language as named in the reader's language ("Frans" for a Dutch reader).
LANGUAGE_WORDS = {"nl": N_("Dutch"), "fr": N_("French"), "en": N_("English"), "de": N_("German")}
# A language in its own words, for choosing one: never translated.
ENDONYMS = {"nl": "Nederlands", "fr": "français", "en": "English"}

# Where the catalogues are: the call centre's (the same distribution; a path, not an
# import), and any directory use_catalogue() adds.
_CATALOGUES: list[Path] = [
    Path(__file__).resolve().parent.parent / "callcenter_ui" / "translations"
]
_KINDS = {
    "category": CATEGORY_WORDS,
    "urgency": URGENCY_WORDS,
    "status": STATUS_WORDS,
    "source": SOURCE_WORDS,
    "language": LANGUAGE_WORDS,
}


def use_catalogue(directory: Path) -> None:
    """Read the words from the catalogues in ``directory`` (``<language>/LC_MESSAGES``):
    the call centre registers its own when the app is built."""
    if directory not in _CATALOGUES:
        _CATALOGUES.append(directory)
        _translations.cache_clear()
        _words.cache_clear()


@lru_cache(maxsize=16)
def _translations(language: str) -> support.NullTranslations:
    for directory in _CATALOGUES:
        catalogue = support.Translations.load(str(directory), [language])
        if isinstance(catalogue, support.Translations):
            return catalogue
    return support.NullTranslations()  # English: the message ids themselves


def _reader_language() -> str:
    if has_app_context():
        from flask_babel import get_locale

        return str(get_locale() or "nl")
    return "nl"


def words(kind: str, language: str | None = None) -> Mapping[str, str]:
    """Every code of ``kind`` ("category", "urgency", "status", "source", "language") with
    its word in ``language`` (default: the current reader's), e.g. {"meal": "een maaltijd"}.

    The same in a page, a job or a test: the catalogue is read from disk, not from a request.
    Outside an app, the reader is Dutch.
    """
    return _words(kind, language or _reader_language())


@lru_cache(maxsize=64)
def _words(kind: str, language: str) -> Mapping[str, str]:
    catalogue = _translations(language)
    return {code: catalogue.gettext(message) for code, message in _KINDS[kind].items()}


def category_words(code: str | None, language: str | None = None) -> str:
    """What a request is about ("een maaltijd"); an unknown or missing category is "other"."""
    table = words("category", language)
    return table.get(code or "other", table["other"])


def urgency_words(code: str | None, language: str | None = None) -> str:
    """How urgent a request is ("vandaag"), or "" when it is not known."""
    return words("urgency", language).get(code or "", "")


def language_name(code: str | None, language: str | None = None) -> str:
    """A language's name in the reader's language ("Frans"); an unknown code as it is."""
    return words("language", language).get(code or "", code or "")


def all_words(language: str | None = None) -> Mapping[str, str]:
    """Every code of a request (category, urgency, status, source, language) with its word:
    the table pages look their cells up in (the codes of the kinds do not overlap)."""
    merged: dict[str, str] = {}
    for kind in _KINDS:
        merged.update(words(kind, language))
    return merged


def label(code: str | None, language: str | None = None) -> str:
    """The word for any code of a request, for a table cell or a select option; an
    unknown code is shown as it is."""
    return all_words(language).get(code or "", code or "")


def translate(message: str, language: str) -> str:
    """``message`` (an English text marked with N_) in ``language``, from the catalogue."""
    return _translations(language).gettext(message)


def capitalised(text: str) -> str:
    """A word as a menu option or a list item starts: "Een maaltijd" (the rest unchanged)."""
    return text[:1].upper() + text[1:]


class ByLanguage(Mapping):
    """``ByLanguage("category")["nl"]`` is ``words("category", "nl")``: the per-language
    tables the SMS and voice texts index, read from the catalogue when asked."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __getitem__(self, language: str) -> Mapping[str, str]:
        if language not in LANGUAGES:
            raise KeyError(language)
        return words(self.kind, language)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)


class EveryLanguage(Mapping):
    """One English text in every language: ``EveryLanguage(N_("..."))["fr"]`` is its French,
    read from the catalogue (the SMS texts are tables of these)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __getitem__(self, language: str) -> str:
        if language not in LANGUAGES:
            raise KeyError(language)
        return translate(self.message, language)

    def __iter__(self) -> Iterator[str]:
        return iter(LANGUAGES)

    def __len__(self) -> int:
        return len(LANGUAGES)
