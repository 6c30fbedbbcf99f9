"""What a line's public page and its neighbour card say about the line, in one language.

The words come from the call centre's catalogue (``vocabulary.translate``), so the page
and the PDF say them the same way, and the PDF can be made in every language at once.
"""

from __future__ import annotations

from datetime import time

from babel.dates import get_day_names

from hotline import vocabulary
from hotline.config import LineSettings
from hotline.messaging.texts import national_number
from hotline.vocabulary import N_

# The kinds of help a resident can ask for: the vocabulary's categories but "something else".
KINDS_OF_HELP = tuple(code for code in vocabulary.CATEGORIES if code != "other")

EVERY_DAY = N_("Every day")
CLOSED = N_("closed")


def phone_number(line: LineSettings) -> str:
    """The line's number as people of its country write and dial it ("016 27 27 72")."""
    return national_number(line.phone_number, line.country)


def tel_uri(line: LineSettings) -> str:
    """The ``tel:`` link of the line's number (E.164, which every phone dials)."""
    return "tel:" + line.phone_number.replace(" ", "")


def _hours(hours: tuple[time, time] | None, language: str) -> str:
    if hours is None:
        return vocabulary.translate(CLOSED, language)
    return f"{hours[0]:%H:%M}–{hours[1]:%H:%M}"


def opening_hours(line: LineSettings, language: str) -> list[tuple[str, str]]:
    """The opening hours as (days, hours) rows: ("Every day", "08:00–20:00"), or runs of
    weekdays with the same hours ("maandag–vrijdag", "08:00–20:00"; "zondag", "gesloten")."""
    by_day = [line.opening_hours.get(day) for day in range(7)]
    if len(set(by_day)) == 1:
        return [(vocabulary.translate(EVERY_DAY, language), _hours(by_day[0], language))]
    names = get_day_names("wide", locale=language)
    rows: list[tuple[str, str]] = []
    start = 0
    for day in range(1, 8):
        if day == 7 or by_day[day] != by_day[start]:
            first, last = names[start], names[day - 1]
            days = first if start == day - 1 else f"{first}–{last}"
            rows.append((vocabulary.capitalised(days), _hours(by_day[start], language)))
            start = day
    return rows


def opening_hours_text(line: LineSettings, language: str) -> str:
    """The opening hours on one line: "Every day 08:00–20:00"."""
    return "; ".join(f"{days} {hours}" for days, hours in opening_hours(line, language))


def languages(line: LineSettings, language: str) -> list[str]:
    """The line's languages, named in ``language`` ("Nederlands, Frans, Engels")."""
    return [vocabulary.language_name(code, language) for code in line.languages]


def kinds_of_help(language: str) -> list[str]:
    """What residents can ask for, in ``language``, as list items ("Een maaltijd")."""
    return [
        vocabulary.capitalised(vocabulary.category_words(code, language)) for code in KINDS_OF_HELP
    ]
