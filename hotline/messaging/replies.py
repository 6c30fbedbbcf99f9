"""What a volunteer's SMS means: accept, decline, done, help, stop, start, or nothing we know.

Read the way people text: any case, with or without accents and punctuation, the
4-digit code before, after or glued to the word ("Ja 4821", "4821 oké!", "ja4821",
"D'accord"), in Dutch, French or English whatever language the volunteer has.
A message that holds words of two different answers ("ja nee") means nothing we
can act on, and gets the how-to instead of a guess.

Twilio acts on some keywords itself, but only when they are the whole message
(README, "What Twilio does with STOP, START, YES and HELP"): ``Reply.whole_keyword``
tells the caller so.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Intent(StrEnum):
    """What a volunteer wants, whatever words they used."""

    ACCEPT = "accept"
    DECLINE = "decline"
    DONE = "done"
    HELP = "help"
    STOP = "stop"
    START = "start"
    UNKNOWN = "unknown"


WORDS: dict[Intent, frozenset[str]] = {
    Intent.ACCEPT: frozenset(
        {
            "ja",
            "jawel",
            "jep",
            "oui",
            "ouais",
            "yes",
            "yep",
            "ok",
            "oke",
            "okay",
            "okee",
            "akkoord",
            "daccord",
            "accord",
        }
    ),
    Intent.DECLINE: frozenset({"nee", "neen", "non", "no", "nope"}),
    Intent.DONE: frozenset(
        {"klaar", "gedaan", "fini", "finie", "termine", "terminee", "done", "finished"}
    ),
    Intent.HELP: frozenset({"hulp", "aide", "help", "info", "uitleg"}),
}
# Only as the whole message, as Twilio reads them; "stop" inside a sentence is no opt-out.
OPT_OUT = frozenset(
    {
        "stop",
        "stopall",
        "stop all",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "revoke",
        "optout",
        "arret",
        "arrete",
    }
)
OPT_IN = frozenset({"start", "unstop"})
# Words that turn an answer around ("nog niet klaar", "not ok", "pas d'accord", "no problem"):
# such a message gets the how-to rather than a guess.
NEGATIONS = frozenset(
    {
        "niet",
        "nog",
        "geen",
        "nooit",
        "not",
        "never",
        "pas",
        "jamais",
        "problem",
        "problems",
        "probleem",
        "worries",
        "worry",
        "zorgen",
        "stop",
    }
)
# Twilio's own keywords: when one is the whole message, Twilio answers it too.
TWILIO_KEYWORDS = OPT_OUT | OPT_IN | {"yes", "help", "info"}
# Twilio's OptOutType (Messaging Services with Advanced Opt-Out) -> our intent
OPT_OUT_TYPES = {"STOP": Intent.STOP, "START": Intent.START, "HELP": Intent.HELP}
CODE = re.compile(r"^\d{4}$")
APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4]")


@dataclass(frozen=True)
class Reply:
    """A volunteer's SMS, understood."""

    intent: Intent
    code: str | None  # the (first) 4-digit assignment code, if they gave one
    whole_keyword: bool  # the message is just one of Twilio's keywords (STOP, YES, HELP...)
    answered_by_twilio: bool = False  # Twilio sent OptOutType: it answered with its own text
    codes: tuple[str, ...] = ()  # every 4-digit number ("Ja 4821, 3000 Leuven")


def normalise(text: str) -> str:
    """Lower case, without accents and punctuation, digits apart: "Oké,4821!" -> "oke 4821"."""
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    plain = APOSTROPHES.sub("", plain.casefold())
    plain = re.sub(r"[^0-9a-z]+", " ", plain)
    plain = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", plain)
    return " ".join(plain.split())


def understand(body: str, *, opt_out_type: str | None = None) -> Reply:
    """What ``body`` means; ``opt_out_type`` is Twilio's OptOutType when it sent one."""
    text = normalise(body or "")
    words = text.split()
    codes = [word for word in words if CODE.fullmatch(word)]
    code = codes[0] if codes else None
    whole = text in TWILIO_KEYWORDS
    if opt_out_type and opt_out_type.upper() in OPT_OUT_TYPES:
        intent = OPT_OUT_TYPES[opt_out_type.upper()]
        if intent is not Intent.START or text != "yes":  # a bare YES is also an answer
            return Reply(intent, code, whole_keyword=True, answered_by_twilio=True)
    if text in OPT_OUT:
        return Reply(Intent.STOP, None, whole_keyword=True)
    if text in OPT_IN:
        return Reply(Intent.START, None, whole_keyword=True)
    intents = {
        intent
        for word in words
        if not word.isdigit()
        for intent, vocabulary in WORDS.items()
        if word in vocabulary
    }
    negated = any(word in NEGATIONS for word in words)
    intent = intents.pop() if len(intents) == 1 and not negated else Intent.UNKNOWN
    return Reply(intent, code, whole_keyword=whole, codes=tuple(codes))
