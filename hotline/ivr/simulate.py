"""A telephone on the console: hear a flow and answer it by typing, through the real engine.

Type keys ("1", "0", "*", "3000"), or words for speech ("apotheek"); an empty
line is silence; "q" hangs up. After a recording prompt, any text means
"spoke a message" and an empty line means "said nothing".
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable

from .engine import handle_input, operator_fallback, run_effects, start_call
from .schema import Flow, MenuNode
from .timing import listening
from .turns import (
    CallContext,
    Dial,
    Effect,
    Gather,
    Hangup,
    Pause,
    ReadNumber,
    Record,
    Say,
    Turn,
)

KEYS = re.compile(r"^[0-9*#]+$")
HANG_UP = "q"


def fake_effects(effect: Effect) -> dict:
    """Made-up answers for a console call: a random reference, a request that was received."""
    if effect.name == "create_request":
        return {"reference": f"{random.randint(100000, 999999)}"}
    if effect.name == "lookup_request":
        return {"status": "received"}
    if effect.name == "check_number":  # a console number is taken as it is: "number 1"
        return {"number": "1"}
    return {}  # recognise_caller: an ordinary caller


def simulate(
    flow: Flow,
    *,
    language: str | None = None,
    context: CallContext | None = None,
    input_func: Callable[[str], str] = input,
    output: Callable[[str], None] = print,
    effects: Callable[[Effect], dict] = fake_effects,
    call_key: str = "simulated-call",
    timing: bool = False,
) -> list[Turn]:
    """Play one call on the console and return its turns.

    language: choose this language in the start menu automatically (None: the
    caller chooses). context: the line's facts; the default is open, with an
    operator available and no postcodes (every postcode is then unknown).
    effects: answers create_request, lookup_request, ... like the app would.
    timing: after each answer, how long the caller listened to it, and the total.
    """
    context = context or CallContext(within_opening_hours=True, postcodes={})
    clock = _Clock(flow, output if timing else None)
    turns = [run_effects(flow, start_call(flow, context, call_key=call_key), context, effects)]
    _show(turns[-1], output)
    clock.add(turns[-1])
    if language is not None:
        key = _language_key(flow, turns[-1].state["node"], language)
        if key is not None:
            output(f"(presses {key}: {language})")
            turns.append(
                run_effects(
                    flow, handle_input(flow, turns[-1].state, context, digits=key), context, effects
                )
            )
            _show(turns[-1], output)
            clock.add(turns[-1])
    while not turns[-1].ended:
        waiting = turns[-1].actions[-1] if turns[-1].actions else None
        try:
            answer = input_func(_question(waiting)).strip()
        except EOFError:
            answer = HANG_UP
        if answer.lower() == HANG_UP:
            output("(caller hung up)")
            break
        turn = _answer(flow, turns[-1].state, context, waiting, answer)
        turns.append(run_effects(flow, turn, context, effects))
        _show(turns[-1], output)
        clock.add(turns[-1])
    return turns


class _Clock:
    """Adds up how long the caller listened, turn by turn (see hotline.ivr.timing)."""

    def __init__(self, flow: Flow, output: Callable[[str], None] | None) -> None:
        self.flow = flow
        self.output = output
        self.total = 0.0

    def add(self, turn: Turn) -> None:
        if self.output is None:
            return
        seconds = listening(turn.actions).seconds(self.flow.speaking_rate)
        self.total += seconds
        self.output(f"(~{seconds:.1f} s to hear; {self.total:.1f} s since the call began)")


def _language_key(flow: Flow, node_id: str, language: str) -> str | None:
    start = flow.nodes[node_id]
    if isinstance(start, MenuNode):
        for option in start.options.values():
            if option.language == language:
                return option.key
    return None


def _answer(flow: Flow, state: dict, context: CallContext, waiting: object, answer: str) -> Turn:
    if isinstance(waiting, Record):
        return handle_input(flow, state, context, recording_url_present=bool(answer))
    if isinstance(waiting, Dial):
        if answer.lower() == "n":
            return operator_fallback(flow, state, context)
        return handle_input(flow, state, context)
    if not answer:
        return handle_input(flow, state, context)
    if KEYS.match(answer):
        return handle_input(flow, state, context, digits=answer)
    return handle_input(flow, state, context, speech=answer)


def _question(waiting: object) -> str:
    if isinstance(waiting, Record):
        return "(beep) your message (empty = say nothing) > "
    if isinstance(waiting, Dial):
        return "(waiting for a person) n = nobody answers or *, Enter = conversation over > "
    return "keys or words (empty = silence, q = hang up) > "


def _show(turn: Turn, output: Callable[[str], None]) -> None:
    for action in turn.actions:
        _show_action(action, output)
    if turn.ended:
        output("(call ended)")


def _show_action(action: object, output: Callable[[str], None], indent: str = "") -> None:
    if isinstance(action, Say):
        output(f"{indent}[{action.language}] {action.text}")
    elif isinstance(action, Pause):
        output(f"{indent}...")
    elif isinstance(action, ReadNumber):
        output(f"{indent}[{action.language}] (the number keyed in, digit by digit)")
    elif isinstance(action, Gather):
        for inner in action.actions:
            _show_action(inner, output, indent)
        size = f"{action.num_digits} key(s)" if action.num_digits else "keys"
        output(f"(listening for {size} or speech, {action.timeout} s)")
    elif isinstance(action, Record):
        output(f"(beep, recording up to {action.max_length} s; {action.finish_on_key} ends it)")
    elif isinstance(action, Dial):
        output(f"(connecting to {action.target})")
    elif isinstance(action, Hangup):
        output("(hangs up)")
