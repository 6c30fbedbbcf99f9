"""Numbers that arrive over HTTP are bounded before any code sees them.

Every table's id is a 32-bit INTEGER on PostgreSQL (and a counter far below that on
SQLite); a path like ``/requests/99999999999999999999`` used to reach the database and
crash it with an ``OverflowError`` (a 500). The app's ``int`` URL converter is replaced
once, for every blueprint: it matches ASCII digits only, 0..MAX_ID, so a number outside
that range is simply a path that does not exist (404), before any view runs. A NUL
character in a query or form value is refused (400) before any view as well.
"""

from __future__ import annotations

import builtins
import re

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter

# PostgreSQL's INTEGER (and SQLAlchemy's Integer on every database) ends here.
MAX_ID = 2**31 - 1


def _pattern_up_to(limit: int) -> str:
    """A regular expression matching the ASCII numbers 0..limit (leading zeros allowed)."""
    digits = str(limit)
    width = len(digits)
    shorter = [f"[0-9]{{1,{width - 1}}}"] if width > 1 else []
    same_width = []
    for position, digit in enumerate(digits):
        lowest = 1 if position == 0 and width > 1 else 0
        if int(digit) > lowest:
            rest = width - position - 1
            same_width.append(f"{digits[:position]}[{lowest}-{int(digit) - 1}][0-9]{{{rest}}}")
    return "(?:" + "|".join([*shorter, *same_width, digits]) + ")"


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>``: a whole number 0..MAX_ID written in ASCII digits (no sign, no ``²``)."""

    # The range is in the pattern itself, not only in to_python: a number out of range then
    # matches no rule, so a catch-all (the API's JSON 404) answers it like any unknown path.
    regex = _pattern_up_to(MAX_ID)

    def __init__(self, url_map, fixed_digits=0, min=None, max=None, signed=False) -> None:
        # Werkzeug's own arguments stay usable (``<int(max=9):x>``), always within the bounds.
        if signed:
            raise ValueError("ids are never negative: the bounded int converter is unsigned")
        low = 0 if min is None else builtins.max(min, 0)
        high = MAX_ID if max is None else builtins.min(max, MAX_ID)
        super().__init__(url_map, fixed_digits, low, high, signed=False)


CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(value: str | None) -> str | None:
    """Free text from outside (a caller's speech, a transcript) with control characters made
    spaces: PostgreSQL cannot store a NUL in text, and none of them means anything here."""
    return CONTROL_CHARACTERS.sub(" ", value) if value else value


def _refuse_nul_characters() -> None:
    """400 for a NUL character in a query or form field: PostgreSQL cannot store one in
    text (a 500 there), and no form or filter ever holds one."""
    # Twilio's webhooks check the signature first (a forged request is a 403, whatever it
    # holds) and clean their free text with plain_text; the API checks the token first and
    # answers its parameters with problem details.
    if request.routing_exception is not None or request.blueprint in ("twilio", "api"):
        return  # (a path no rule matches stays a 404)
    fields = (*request.args.items(multi=True), *request.form.items(multi=True))
    if any("\x00" in name or "\x00" in value for name, value in fields):
        abort(400, "A field holds a NUL character.")


def init_app(app: Flask) -> None:
    """Install the bounded ``int`` converter (before any blueprint is registered: a rule
    keeps the converter it was built with) and refuse NUL characters in forms and queries."""
    app.url_map.converters["int"] = BoundedIntegerConverter
    app.before_request(_refuse_nul_characters)
