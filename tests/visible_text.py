"""What a person sees on a page, and whether every word of it comes from the catalogue.

A page passes when each visible text (text nodes, and the attributes people read:
title, placeholder, aria-label, alt, button values) is made only of

- the fixed parts of the language's catalogue texts (a translation's words around its
  placeholders: "Fout %(code)d" contributes "Fout"), and
- data: the names, references, postcodes and places the test created, dates and times
  as Babel writes them in that language, numbers, punctuation, and a short list of words
  that are the same in every language (SMS, API, STOP ...).

Only the fixed parts are taken away, never what fills a placeholder: an English status
inside "Statut : %(old)s → %(new)s" is still found. Whatever is left with two or more
letters in a row is a word nobody translated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser
from pathlib import Path

from babel import Locale
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGUES = ROOT / "callcenter_ui" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%%")
WORD = re.compile(r"[^\W\d_]{2,}")
# Words that are the same in every language of the call centre (product and protocol names,
# the SMS keywords volunteers text, units).
SAME_EVERYWHERE = {
    "sms", "api", "openapi", "json", "stop", "start", "bearer", "authorization", "id",
    "min", "ok", "csv", "svg", "htmx", "utc", "cet", "cest", "gsm",
}  # fmt: skip
# Attributes people read or hear.
READ_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
SKIPPED_ELEMENTS = {"script", "style", "template", "noscript"}


def catalogue_texts(language: str) -> list[str]:
    """Every text of ``language``'s catalogue (for English: the message ids)."""
    template = CATALOGUES / "messages.pot"
    path = template if language == "en" else CATALOGUES / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as file:
        catalog = read_po(file, locale=None if language == "en" else language)
    texts = []
    for message in catalog:
        if not message.id:
            continue
        source = message.id if language == "en" else message.string
        texts.extend(source if isinstance(source, list | tuple) else [source])
    return [text for text in texts if text]


def fixed_parts(texts: Iterable[str]) -> list[str]:
    """The words around the placeholders of ``texts``, longest first."""
    parts = {part.strip() for text in texts for part in PLACEHOLDER.split(text)}
    return sorted((part for part in parts if WORD.search(part)), key=len, reverse=True)


def date_words(language: str) -> set[str]:
    """Month and day names as Babel writes dates in ``language`` (every width)."""
    locale = Locale.parse(language)
    found: set[str] = set()
    for table in (locale.months, locale.days):
        for context in table.values():
            for width in context.values():
                for name in width.values():
                    found.update(word.lower() for word in WORD.findall(name))
    for period in locale.day_periods.get("format", {}).values():
        for name in period.values():
            found.update(word.lower() for word in WORD.findall(name))
    return found


class VisibleText(HTMLParser):
    """Collects the texts of a page a person reads, with the element they are in."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._skipping: list[str] = []
        self._other_language: list[str] = []
        self._stack: list[tuple[str, bool, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        skipped = tag in SKIPPED_ELEMENTS
        # The language switch names each language in its own words, marked with lang="..".
        other = "lang" in attributes and tag != "html"
        if tag not in ("br", "img", "input", "meta", "link", "hr", "source", "wbr"):
            self._stack.append((tag, skipped, other))
        if self._hidden():
            return
        if other:
            return
        for name in READ_ATTRIBUTES:
            if attributes.get(name):
                self.texts.append(attributes[name])
        if (
            tag == "input"
            and attributes.get("type") in ("submit", "button")
            and attributes.get("value")
        ):
            self.texts.append(attributes["value"])

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                del self._stack[index:]
                break

    def _hidden(self) -> bool:
        return any(skipped or other for _tag, skipped, other in self._stack)

    def handle_data(self, data: str) -> None:
        if data.strip() and not self._hidden():
            self.texts.append(" ".join(data.split()))


def visible_texts(html: str) -> list[str]:
    """The texts of ``html`` a person reads."""
    parser = VisibleText()
    parser.feed(html)
    return parser.texts


class TranslationCheck:
    """Finds the words of a page that are neither ``language``'s catalogue nor data."""

    def __init__(self, language: str, data: Iterable[str] = ()) -> None:
        self.language = language
        self.parts = fixed_parts(catalogue_texts(language))
        self.known_words = SAME_EVERYWHERE | date_words(language)
        self.data = sorted({item for item in data if item}, key=len, reverse=True)
        self._pattern = re.compile(
            "|".join(_as_pattern(text) for text in [*self.data, *self.parts]), re.IGNORECASE
        )

    def unknown_words(self, text: str) -> list[str]:
        """The words of ``text`` left once the catalogue's texts and the data are taken out."""
        left = self._pattern.sub(" ", text)
        return [word for word in WORD.findall(left) if word.lower() not in self.known_words]

    def untranslated(self, html: str) -> list[str]:
        """Each visible text of ``html`` that holds an unknown word, with those words."""
        found = []
        for text in visible_texts(html):
            words = self.unknown_words(text)
            if words:
                found.append(f"{text!r}: {', '.join(words)}")
        return found


def _as_pattern(text: str) -> str:
    """``text`` as a regular expression that matches it as whole words."""
    escaped = re.escape(text)
    start = r"(?<!\w)" if text[:1].isalnum() else ""
    end = r"(?!\w)" if text[-1:].isalnum() else ""
    return f"{start}{escaped}{end}"
