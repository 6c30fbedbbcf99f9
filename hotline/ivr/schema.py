"""The shape of a loaded IVR flow: plain frozen dataclasses, built by the loader.

A flow is a graph of named nodes. Menu, digits and record nodes wait for the
caller; say, branch and effect nodes pass straight through; hangup ends the
call and dial hands the caller to people. Texts are dicts keyed by the flow's
language keys ("nl", "fr", "en").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

Text = Mapping[str, str]
"""One sentence in every language the flow offers: {"nl": "...", "en": "..."}."""

# The same three keys work in every menu, so callers can learn them once.
OPERATOR_KEY = "0"
REPEAT_KEY = "9"
BACK_KEY = "*"
COMMON_KEYS = {"operator": OPERATOR_KEY, "repeat": REPEAT_KEY, "back": BACK_KEY}

# Facts a branch node may test: the boolean fields of CallContext.
CONDITIONS = ("within_opening_hours", "operator_available", "caller_number_known")

# Values a digits node may check against the CallContext.
CHECKS = ("postcode",)

# When a menu explains 9 (repeat) and * (back); 0 (a person) is said in every menu.
#   every_menu  in every menu where the key works
#   once        the first time the key works outside the language menu, and after a miss
#   after_miss  only after a silence or a wrong key
REMINDERS = ("every_menu", "once", "after_miss")

# A dial to the operators puts the caller in a queue (the other targets are masked calls).
QUEUE_TARGET = "operators"
# Seconds a caller waits in the queue for an operator before the message path, by default.
DEFAULT_MAX_WAIT = 60


@dataclass(frozen=True, kw_only=True)
class Language:
    """A language the line speaks, and how to speak it."""

    key: str  # short key used in the flow file and in state: "nl"
    code: str  # BCP 47 code for speech and recognition: "nl-BE"
    voice: str  # text-to-speech voice name, e.g. "Google.nl-BE-Wavenet-A"
    press: str  # how an option is read out: "{label}, druk {key}."
    key_names: Mapping[str, str]  # spoken names of "*" and "#": {"*": "sterretje"}
    and_word: str  # joins the last item of a spoken list: "en"
    speech_model: str | None = None  # the recogniser, e.g. Twilio's "googlev2_long"
    speech_language: str | None = None  # recognition language when not ``code``


@dataclass(frozen=True, kw_only=True)
class CommonKey:
    """One of the keys every menu offers (0 operator, 9 repeat, * back)."""

    key: str
    label: Text
    speech: Mapping[str, tuple[str, ...]]


@dataclass(frozen=True, kw_only=True)
class Exit:
    """An arrow out of a node: where it goes, and under which key in the file."""

    key_path: str  # e.g. "options.1.goto", named in validation errors
    label: str  # short label for pictures, e.g. "1" or "unavailable"
    target: str


@dataclass(frozen=True, kw_only=True)
class Option:
    """A choice in a menu."""

    key: str  # "1".."8"
    label: Text  # "Boodschappen of apotheek" (the flow adds ", druk 1.")
    goto: str
    set: Mapping[str, str]  # facts recorded when chosen, e.g. {"category": "groceries"}
    speech: Mapping[str, tuple[str, ...]]  # spoken keywords per language
    language: str | None = None  # choosing this option switches the call to this language


@dataclass(frozen=True, kw_only=True)
class Node:
    """Base of all node types: an id and what is said on entering it."""

    type: ClassVar[str] = ""
    waits_for_caller: ClassVar[bool] = False
    id: str
    say: tuple[Text, ...]

    def exits(self) -> list[Exit]:
        """The arrows out of this node (the implicit 0/9/* keys not included)."""
        return []


@dataclass(frozen=True, kw_only=True)
class MenuNode(Node):
    """Say a prompt and the options, wait for one key (or a spoken keyword)."""

    type: ClassVar[str] = "menu"
    waits_for_caller: ClassVar[bool] = True
    options: Mapping[str, Option]
    no_input: str | None = None  # key to assume on silence; None = silence is a miss
    timeout: int | None = None  # seconds; None = the flow's timeout
    back: bool = True  # whether * goes back from here
    hints: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def exits(self) -> list[Exit]:
        return [
            Exit(key_path=f"options.{key}.goto", label=key, target=option.goto)
            for key, option in self.options.items()
        ]


@dataclass(frozen=True, kw_only=True)
class DigitsNode(Node):
    """Ask for a number of fixed length (postcode, reference) ended by # or the last digit."""

    type: ClassVar[str] = "digits"
    waits_for_caller: ClassVar[bool] = True
    length: int
    store: str  # name under which the number is collected
    goto: str
    check: str | None = None  # one of CHECKS
    invalid: str | None = None  # where a number that fails the check goes
    timeout: int | None = None
    back: bool = True
    hints: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    def exits(self) -> list[Exit]:
        found = [Exit(key_path="goto", label="ok", target=self.goto)]
        if self.invalid:
            found.append(Exit(key_path="invalid", label="rejected", target=self.invalid))
        return found


@dataclass(frozen=True, kw_only=True)
class RecordNode(Node):
    """Say a prompt, beep, record a voice message; an empty recording is fine."""

    type: ClassVar[str] = "record"
    waits_for_caller: ClassVar[bool] = True
    store: str  # collected as True/False: was something recorded
    goto: str
    max_length: int = 120
    timeout: int = 8  # seconds of silence that end the recording
    finish_on_key: str = "#"

    def exits(self) -> list[Exit]:
        return [Exit(key_path="goto", label="", target=self.goto)]


@dataclass(frozen=True, kw_only=True)
class SayNode(Node):
    """Say something and go on."""

    type: ClassVar[str] = "say"
    goto: str

    def exits(self) -> list[Exit]:
        return [Exit(key_path="goto", label="", target=self.goto)]


@dataclass(frozen=True, kw_only=True)
class BranchNode(Node):
    """Go one way or another depending on a fact of the CallContext."""

    type: ClassVar[str] = "branch"
    condition: str  # one of CONDITIONS ("if" in the file)
    then: str
    otherwise: str  # ("else" in the file)

    def exits(self) -> list[Exit]:
        return [
            Exit(key_path="then", label="yes", target=self.then),
            Exit(key_path="else", label="no", target=self.otherwise),
        ]


@dataclass(frozen=True, kw_only=True)
class EffectNode(Node):
    """Ask the application to do something (store a request, look one up), then go on."""

    type: ClassVar[str] = "effect"
    effect: str  # e.g. "create_request"
    data: tuple[str, ...]  # collected facts to hand over ("language" is always known)
    goto: str  # where to continue after resume(); also the default branch
    returns: tuple[str, ...] = ()  # result keys kept as collected facts, e.g. ("reference",)
    branch_on: str | None = None  # result key whose value picks a branch
    branches: Mapping[str, str] | None = None  # result value -> node

    def exits(self) -> list[Exit]:
        found = [
            Exit(key_path=f"branches.{value}", label=value, target=target)
            for value, target in (self.branches or {}).items()
        ]
        found.append(Exit(key_path="goto", label="other" if found else "", target=self.goto))
        return found


@dataclass(frozen=True, kw_only=True)
class DialNode(Node):
    """Connect the caller to people (the renderer knows who); unavailable if nobody answers.

    A dial to the operators is a wait in a queue: the operators' phones ring (once, for
    as long as the caller may wait) while the caller hears, one every ``wait_every``
    seconds, the ``wait`` texts in turn with their place in the queue (``place``, or
    ``place_first`` when they are next) between two of them, and may press * to leave a
    message. After ``max_wait`` seconds without an operator the call goes to
    ``unavailable``, as it does after *.
    """

    type: ClassVar[str] = "dial"
    target: str  # e.g. "operators"
    goto: str  # after a conversation that took place
    unavailable: str  # when nobody answered or the caller chose to leave a message
    wait: tuple[Text, ...] = ()  # said in turn while the caller waits for an operator
    place: Text | None = None  # "You are number {position} in the queue."
    place_first: Text | None = None  # "You are next."
    wait_every: int = 8  # seconds from the start of one wait sentence to the next
    max_wait: int = DEFAULT_MAX_WAIT  # seconds in the queue before the message path

    @property
    def queues(self) -> bool:
        """Whether the caller waits in a queue (a dial to the operators) rather than a Dial."""
        return self.target == QUEUE_TARGET

    def exits(self) -> list[Exit]:
        return [
            Exit(key_path="goto", label="answered", target=self.goto),
            Exit(key_path="unavailable", label="unavailable", target=self.unavailable),
        ]


@dataclass(frozen=True, kw_only=True)
class PhoneNode(Node):
    """Ask a caller whose number we cannot see for one to call them back on (keys, then #).

    Passes straight on to ``goto`` when the caller's number is known. The app checks the
    number (effect "check_number"), keeps it in its vault and hands back only a reference,
    stored as ``store``; the number is read back and confirmed with 1 (2: key it again).
    Pressing * (or giving up after too many misses) goes to ``declined``. What is said
    comes from the flow's messages "number_ask", "number_confirm" and "number_invalid".
    """

    type: ClassVar[str] = "phone"
    waits_for_caller: ClassVar[bool] = True
    store: str  # collected: the app's reference to the number (never the number itself)
    goto: str
    declined: str
    timeout: int | None = None

    def exits(self) -> list[Exit]:
        return [
            Exit(key_path="goto", label="number", target=self.goto),
            Exit(key_path="declined", label="declined", target=self.declined),
        ]


@dataclass(frozen=True, kw_only=True)
class HangupNode(Node):
    """Say goodbye and end the call."""

    type: ClassVar[str] = "hangup"


@dataclass(frozen=True, kw_only=True)
class Flow:
    """A whole telephone line: languages, shared messages and the node graph."""

    name: str
    source: str  # the file it was loaded from, for messages
    start: str
    operator: str  # where 0 and "too many misses" lead, in every menu
    default_language: str
    languages: Mapping[str, Language]
    speaking_rate: str  # e.g. "90%", for the renderer's prosody
    timeout: int  # default seconds to wait for a key
    max_misses: int  # silent or wrong answers in one menu before going to the operator
    messages: Mapping[str, Text]  # "no_input", "invalid", "give_up"
    keys: Mapping[str, CommonKey]  # "operator", "repeat", "back"
    nodes: Mapping[str, Node]
    reminders: str = "every_menu"  # one of REMINDERS: when 9 and * are explained
    speech_timeout: int = 3  # seconds of silence that end a spoken answer
    menu_budget: float = 25  # seconds one menu's prompts may take (flow check warns)
    path_budget: float = 90  # seconds until the reference on the key-only path

    def language_code(self, language: str) -> str:
        """The BCP 47 code ("nl-BE") of a language key ("nl")."""
        return self.languages[language].code

    def voice_for(self, code: str) -> str:
        """The configured voice for a language code as found in Say.language."""
        for language in self.languages.values():
            if language.code == code:
                return language.voice
        return ""
