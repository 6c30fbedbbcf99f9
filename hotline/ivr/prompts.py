"""Turn flow texts into Say and Pause actions, filling in {placeholders}."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from .turns import Pause, Say

PLACEHOLDER = re.compile(r"\{(\w+)\}")
DIGITS_SUFFIX = "_digits"

# Placeholders filled from the CallContext or the call itself, not from collected facts.
BUILTIN_PLACEHOLDERS = ("entered", "municipalities", "register_url")

# One second between digits and between sentences: elderly callers write numbers down.
PAUSE_SECONDS = 1


def placeholders(text: str) -> set[str]:
    """The placeholder names in a text: "Nummer {reference_digits}" -> {"reference_digits"}."""
    return set(PLACEHOLDER.findall(text))


def speak(texts: Iterable[str], code: str, values: Mapping[str, object]) -> list[Say | Pause]:
    """Say each text in turn with a pause between them; {x_digits} reads x digit by digit."""
    actions: list[Say | Pause] = []
    for text in texts:
        spoken = _expand(text, code, values)
        if spoken and actions:
            actions.append(Pause(PAUSE_SECONDS))
        actions.extend(spoken)
    return actions


def spoken_list(items: list[str], and_word: str) -> str:
    """ "Leuven, Heverlee en Wilsele" from a list of names and the language's "and"."""
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {and_word} {items[-1]}"


def spoken_url(url: str) -> str:
    """An address as a person would say it: without "https://" and the trailing slash."""
    return re.sub(r"^https?://", "", url.strip()).rstrip("/")


def _expand(text: str, code: str, values: Mapping[str, object]) -> list[Say | Pause]:
    actions: list[Say | Pause] = []
    pending = ""
    position = 0
    for match in PLACEHOLDER.finditer(text):
        pending += text[position : match.start()]
        position = match.end()
        name = match.group(1)
        if name.endswith(DIGITS_SUFFIX) and name not in values:
            # A separate Say per digit with real pauses: slower and clearer than commas.
            _flush(pending, code, actions)
            pending = ""
            for index, digit in enumerate(str(values.get(name[: -len(DIGITS_SUFFIX)], "") or "")):
                if index:
                    actions.append(Pause(PAUSE_SECONDS))
                actions.append(Say(digit, code))
        else:
            value = values.get(name, "")
            pending += "" if value is None else str(value)
    _flush(pending + text[position:], code, actions)
    return actions


def _flush(text: str, code: str, actions: list[Say | Pause]) -> None:
    # A lone "." left after a spelled number is not worth a Say.
    if re.search(r"\w", text):
        actions.append(Say(text.strip(), code))
