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


def digits_from_speech(text: str) -> str:
    """The digits in a spoken number: "3000", "3 0 0 0" and "drie nul nul nul" all give "3000"."""
    words = normalize(text).split()
    numerals = [word for word in words if word.isdigit()]
    if numerals:
        # Numerals are unambiguous; digit words next to them ("een" = "a") are not.
        return "".join(numerals)
    return "".join(DIGIT_WORDS[word] for word in words if word in DIGIT_WORDS)


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
