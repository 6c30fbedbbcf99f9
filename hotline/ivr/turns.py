"""What goes into the engine (CallContext) and what comes out (a Turn of actions)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CallContext:
    """Facts from outside the flow, supplied on every call into the engine."""

    within_opening_hours: bool
    postcodes: dict[str, str]  # postcode -> municipality, e.g. {"3000": "Leuven"}
    register_url: str = ""  # volunteer registration address, read out in the volunteer branch
    operator_available: bool = True  # False e.g. when a Dial to operators was not answered
    caller_number_known: bool = True  # False when the caller withheld their number


@dataclass(frozen=True)
class Say:
    """Speak a text in a language (a BCP 47 code such as "nl-BE")."""

    text: str
    language: str


@dataclass(frozen=True)
class ReadNumber:
    """Read back, digit by digit, a phone number the app keeps under ``ref``.

    The engine never sees the number: the app fills it in when rendering.
    """

    ref: str
    language: str


@dataclass(frozen=True)
class Pause:
    """Stay silent for a while, so elderly callers can follow."""

    seconds: int


@dataclass(frozen=True)
class Gather:
    """Say the nested actions while listening for keys or speech."""

    actions: list[Say | Pause | ReadNumber]
    num_digits: int | None
    finish_on_key: str | None  # None: the renderer's default
    timeout: int
    speech_hints: list[str]
    language: str  # the recognition language, e.g. "nl-BE"
    speech_model: str | None = None  # the recogniser; None: the provider chooses
    speech_timeout: int = 3  # seconds of silence that end a spoken answer
    listens_for_speech: bool = True  # False: keys only
    # True: without a key the call goes on with the next action (e.g. the next sentence
    # of a wait in the queue) instead of answering the silence.
    falls_through: bool = False


@dataclass(frozen=True)
class Record:
    """Beep and record a voice message."""

    max_length: int
    finish_on_key: str
    timeout: int


@dataclass(frozen=True)
class Dial:
    """Connect the caller to a group of people, e.g. "operators"."""

    target: str  # "operators" waits in a queue (see wait_turn()); others are rung directly


@dataclass(frozen=True)
class Hangup:
    """End the call."""


Action = Say | Pause | ReadNumber | Gather | Record | Dial | Hangup


@dataclass(frozen=True)
class Effect:
    """Work the application must do before the call can continue (see resume())."""

    name: str
    data: dict


@dataclass
class Turn:
    """One answer of the engine: new state, what to play, work to do, whether the call ends."""

    state: dict
    actions: list[Action] = field(default_factory=list)
    effect: Effect | None = None
    ended: bool = False
