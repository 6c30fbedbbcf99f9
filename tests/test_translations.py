"""The call centre's Dutch and French: complete, faithful to the English placeholders, compiled.

The UI's message ids are English (callcenter_ui/translations/messages.pot); Dutch is
the default language, so a text missing from a catalogue shows up in English on an
operator's screen. README, Translations, says how to update the catalogues. Whether an
operator really reads only their language is checked page by page in
tests/test_every_word_translated.py.
"""

from __future__ import annotations

import re
from collections import Counter
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from hotline.vocabulary import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
UI = ROOT / "callcenter_ui"
TEMPLATE = UI / "translations" / "messages.pot"
# Every language but English (the message ids themselves) has a catalogue.
TRANSLATED = tuple(language for language in LANGUAGES if language != "en")


def catalogue_path(language: str, suffix: str = "po") -> Path:
    return UI / "translations" / language / "LC_MESSAGES" / f"messages.{suffix}"

# %(name)s, %(num)d, %(m)02d ... and str.format's {name}, {0}, {}.
PYTHON_FORMAT = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]")
BRACE_FORMAT = re.compile(r"\{[^{}]*\}")


def load_po(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as file:
        return read_po(file, locale=locale)


def entries(catalog: Catalog) -> dict[str | tuple[str, ...], Message]:
    """Every message but the header, by its id (a tuple for plural messages)."""
    return {message.id: message for message in catalog if message.id}


def texts_by_id(catalog: Catalog) -> dict:
    """A compiled catalogue's texts (read_mo gives plural ids and forms as lists)."""

    def hashable(value):
        return tuple(value) if isinstance(value, list | tuple) else value

    return {hashable(message.id): hashable(message.string) for message in catalog if message.id}


def placeholders(text: str) -> Counter[str]:
    return Counter(PYTHON_FORMAT.findall(text)) + Counter(BRACE_FORMAT.findall(text))


def english_and_dutch_pairs(message: Message) -> list[tuple[str, str]]:
    """(English, Dutch) pairs: the singular form against msgstr[0], the plural against [1]."""
    if isinstance(message.id, tuple):
        singular, plural = message.id[0], message.id[1]
        return [(singular, message.string[0]), (plural, message.string[1])]
    return [(message.id, message.string)]


@pytest.fixture(scope="module")
def template() -> Catalog:
    return load_po(TEMPLATE)


@pytest.fixture(scope="module", params=TRANSLATED)
def dutch(request) -> Catalog:
    """Each translated catalogue in turn (Dutch first, then French)."""
    return load_po(catalogue_path(request.param), locale=request.param)


def test_the_call_centre_speaks_exactly_the_languages_of_the_vocabulary():
    folders = {path.name for path in (UI / "translations").iterdir() if path.is_dir()}
    assert folders == set(LANGUAGES) - {"en"}


def test_the_template_holds_every_text_the_code_marks_for_translation(template):
    # Someone who adds _("...") to a page but forgets `pybabel extract` gets English
    # on the Dutch screens: extract again, as README (Translations) says, and compare.
    with (UI / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config, str(UI / "babel.cfg"))
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "N_": None}
    marked = set()
    for folder in (UI, ROOT / "hotline"):
        for _name, _line, message, _comments, _context in extract_from_dir(
            str(folder), method_map, options_map, keywords=keywords
        ):
            marked.add(message[0] if isinstance(message, tuple | list) else message)
    in_template = {key[0] if isinstance(key, tuple) else key for key in entries(template)}
    assert sorted(marked - in_template) == [], "run pybabel extract (README, Translations)"
    assert sorted(in_template - marked) == [], "run pybabel extract (README, Translations)"


def test_a_dutch_operator_finds_every_english_text_translated(template, dutch):
    expected, translated = entries(template), entries(dutch)
    assert len(expected) > 300  # the catalogue really was read
    assert sorted(map(str, expected.keys() - translated.keys())) == [], "run pybabel update"
    untranslated = [
        message.id
        for message in translated.values()
        if not all(dutch_text.strip() for _english, dutch_text in english_and_dutch_pairs(message))
    ]
    assert untranslated == []
    fuzzy = [message.id for message in translated.values() if message.fuzzy]
    assert fuzzy == [], "check these guesses of pybabel update, then drop the fuzzy flag"


def test_the_dutch_catalogue_keeps_no_text_the_ui_no_longer_shows(template, dutch):
    assert sorted(map(str, entries(dutch).keys() - entries(template).keys())) == []
    assert list(dutch.obsolete) == [], "remove the #~ entries left by pybabel update"


def test_plural_texts_have_both_dutch_forms(template, dutch):
    plurals = [message for message in entries(dutch).values() if isinstance(message.id, tuple)]
    assert plurals  # "%(num)d volunteer" and its like
    assert dutch.num_plurals == 2
    for message in plurals:
        assert isinstance(message.string, tuple | list) and len(message.string) == 2, message.id
        assert message.id == entries(template)[message.id].id


def test_dutch_texts_keep_every_placeholder_of_the_english(dutch):
    wrong = []
    for message in entries(dutch).values():
        for english, translation in english_and_dutch_pairs(message):
            if placeholders(english) != placeholders(translation):
                wrong.append((english, translation))
    assert wrong == []
    # Babel's own checks too: python-format placeholders and the number of plural forms.
    problems = [(message.id, [str(error) for error in errors]) for message, errors in dutch.check()]
    assert problems == []


def test_the_placeholder_check_would_catch_a_lost_or_renamed_placeholder():
    assert placeholders("%(name)s is not active.") != placeholders("naam is niet actief.")
    assert placeholders("%(num)d min") != placeholders("%(n)d min")
    assert placeholders("%(h)d h %(m)02d min") != placeholders("%(h)d u %(m)d min")
    assert placeholders("Uw nummer: {reference}") != placeholders("Uw nummer: {referentie}")
    assert placeholders("%(h)d h %(m)02d min") == placeholders("%(h)d u %(m)02d min")


def test_the_compiled_dutch_catalogue_is_up_to_date_with_its_source(dutch):
    # Flask-Babel reads only messages.mo: a .po changed but not compiled shows old texts.
    compiled_file = catalogue_path(str(dutch.locale), "mo")
    assert compiled_file.exists(), "run pybabel compile -d callcenter_ui/translations"
    fresh = BytesIO()
    write_mo(fresh, dutch)
    fresh.seek(0)
    with compiled_file.open("rb") as file:
        committed = read_mo(file)
    compiled = texts_by_id(read_mo(fresh))
    on_disk = texts_by_id(committed)
    assert len(compiled) == len(entries(dutch))
    assert on_disk == compiled, "run pybabel compile -d callcenter_ui/translations"
