"""Understand what a caller said: keywords and spoken digits, case- and accent-insensitive."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# Digit words in the languages Belgian lines speak. Speech recognisers usually
# write numbers as numerals, but not always, and not for every accent.
DIGIT_WORDS = {
    # nl
    "nul": "0", "een": "1", "twee": "2", "drie": "3", "vier": "4",
    "vijf": "5", "zes": "6", "zeven": "7", "acht": "8", "negen": "9",
    # fr
    "zero": "0", "un": "1", "une": "1", "deux": "2", "trois": "3", "quatre": "4",
    "cinq": "5", "six": "6", "sept": "7", "huit": "8", "neuf": "9",
    # en
    "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip


def normalize(text: str) -> str:
    """Lower-case words without accents or punctuation: "Épicerie!" -> "epicerie"."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return " ".join(re.findall(r"[a-z0-9]+", bare.casefold()))


def keyword_position(utterance: str, keywords: Iterable[str]) -> int | None:
    """Where the earliest keyword occurs as whole words in a normalized utterance, or None."""
    padded = f" {utterance} "
    found = [padded.find(f" {normalize(keyword)} ") for keyword in keywords if normalize(keyword)]
    found = [position for position in found if position >= 0]
    return min(found) if found else None


# Number words beyond single digits, as recognisers write them for numbers said in groups
# ("drieduizend", "dertig nul nul", "trois mille", "three thousand"). Dutch writes them
# as one word ("drieduizendtwaalf", "drieëntwintig"): those are split with this table too.
NUMBER_WORDS = {
    **{word: int(digit) for word, digit in DIGIT_WORDS.items()},
    # nl
    "tien": 10, "elf": 11, "twaalf": 12, "dertien": 13, "veertien": 14, "vijftien": 15,
    "zestien": 16, "zeventien": 17, "achttien": 18, "negentien": 19, "twintig": 20,
    "dertig": 30, "veertig": 40, "vijftig": 50, "zestig": 60, "zeventig": 70,
    "tachtig": 80, "negentig": 90, "honderd": 100, "duizend": 1000,
    # fr (with the Belgian septante, huitante, nonante)
    "dix": 10, "onze": 11, "douze": 12, "treize": 13, "quatorze": 14, "quinze": 15,
    "seize": 16, "vingt": 20, "vingts": 20, "trente": 30, "quarante": 40, "cinquante": 50,
    "soixante": 60, "septante": 70, "huitante": 80, "octante": 80, "nonante": 90,
    "cent": 100, "cents": 100, "mille": 1000,
    # en
    "oh": 0, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70,
    "eighty": 80, "ninety": 90, "hundred": 100, "thousand": 1000,
}  # fmt: skip
# "drieduizend en tien", "vingt et un", "one hundred and twelve": joining words, not numbers.
JOINING_WORDS = {"en", "et", "and"}
MULTIPLIERS = (100, 1000)


def digits_from_speech(text: str) -> str:
    """The digits in a spoken number: "3000", "3 0 0 0", "drie nul nul nul", "drieduizend",
    "dertig nul nul" and "trois mille" all give "3000"."""
    words = normalize(text).split()
    numerals = [word for word in words if word.isdigit()]
    if numerals:
        # Numerals are unambiguous; digit words next to them ("een" = "a") are not.
        return "".join(numerals)
    values: list[int | None] = []
    for word in words:
        if word in JOINING_WORDS:
            values.append(None)
        else:
            values += _number_parts(word) or []
    return "".join(str(group) for group in _groups(values))


def _number_parts(word: str) -> list[int | None] | None:
    """A word as number words: "drieduizendtwaalf" -> [3, 1000, 12]; None if it is none."""
    if word in NUMBER_WORDS:
        return [NUMBER_WORDS[word]]
    if word in JOINING_WORDS:
        return [None]
    # Longest known word first, so that "achttien" is 18, not "acht" and a stray "tien".
    for end in range(len(word) - 1, 1, -1):
        head = word[:end]
        if head in NUMBER_WORDS or head in JOINING_WORDS:
            rest = _number_parts(word[end:])
            if rest is not None:
                return [NUMBER_WORDS.get(head), *rest]
    return None


def _groups(values: list[int | None]) -> list[int]:
    """Numbers said in groups, in order: [30, 0, 0] stays three groups ("3000"),
    [3, 1000, 12] is one (3012), and Dutch "drie en twintig" ([3, None, 20]) is 23."""
    groups: list[int] = []
    current: int | None = None
    for index, value in enumerate(values):
        if value is None:
            continue
        joined = index > 0 and values[index - 1] is None
        if current is None:
            current = value
        elif value in MULTIPLIERS and current < value:
            current *= value  # "drie duizend", "trois cents", "quatre mille"
        elif value == 20 and current % 100 == 4:
            current += 76  # French "quatre-vingt(s)": 4 x 20
        elif joined and current < 10 and value % 10 == 0 and 20 <= value < 100:
            current += value  # Dutch: the unit first, "drie-en-twintig"
        elif current and value and _fits(current, value):
            current += value
        else:
            groups.append(current)
            current = value
    if current is not None:
        groups.append(current)
    return groups


def _fits(current: int, value: int) -> bool:
    """Whether ``value`` continues the number ``current`` ("dertig" + "drie", "mille" + "douze")."""
    if current >= 1000 and current % 1000 == 0:
        return value < 1000
    if current >= 100 and current % 100 == 0:
        return value < 100
    tens = current % 100
    if tens in (60, 80) and 10 <= value < 20:
        return True  # French "soixante-dix", "quatre-vingt-douze"
    if current % 10 == 0 and tens >= 20 and value < 10:
        return True  # "thirty three", "trente trois"
    return tens == 10 and 7 <= value <= 9  # French "dix-sept"


def single_digit_from_speech(text: str) -> str | None:
    """A menu choice spoken as a lone number ("twee", "2"), else None."""
    words = normalize(text).split()
    if len(words) != 1:
        # "ik heb een vraag" must not count as pressing 1.
        return None
    word = words[0]
    if len(word) == 1 and word.isdigit():
        return word
    return DIGIT_WORDS.get(word)
