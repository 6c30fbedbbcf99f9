"""The promises the web layer builds on: state, steps, effects, retries, purity."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import pytest

from hotline.ivr import (
    Effect,
    Gather,
    Hangup,
    Say,
    handle_input,
    resume,
    run_effects,
    start_call,
)

from .phone import Caller

ENGINE_DIR = Path(__file__).resolve().parents[2] / "hotline" / "ivr"


def welcomed(flow, context, call_key="CA1"):
    """The first turn of an ordinary caller: not recognised as a volunteer or a resident."""
    return run_effects(flow, start_call(flow, context, call_key=call_key), context, lambda e: {})


def test_a_call_starts_by_asking_the_app_who_is_calling(leuven, open_line):
    turn = start_call(leuven, open_line, call_key="CA42")
    assert turn.state["node"] == "recognise"
    assert turn.effect == Effect("recognise_caller", {})
    assert turn.actions == []


def test_every_turn_carries_the_state_the_web_layer_stores(leuven, open_line):
    turn = welcomed(leuven, open_line, call_key="CA42")
    assert {"step", "node", "language", "collected", "misses"} <= set(turn.state)
    assert turn.state["step"] == 2
    assert turn.state["node"] == "welcome"
    assert turn.state["call_key"] == "CA42"
    assert json.loads(json.dumps(turn.state)) == turn.state


def test_the_step_grows_by_one_with_every_turn_including_effects(leuven, open_line):
    caller = Caller(leuven, open_line).dial().choose("nl").press("1").press("1").press("3000")
    caller.press("1").record()
    steps = [turn.state["step"] for turn in caller.turns]
    assert steps == list(range(1, len(steps) + 1))


def test_the_engine_never_changes_the_state_it_is_given(leuven, open_line):
    state = welcomed(leuven, open_line).state
    before = json.dumps(state, sort_keys=True)
    handle_input(leuven, state, open_line, digits="1")
    handle_input(leuven, state, open_line, digits="7")
    assert json.dumps(state, sort_keys=True) == before


def test_the_same_input_on_the_same_state_gives_the_same_answer(leuven, open_line):
    # What makes a retried webhook safe: the answer depends only on state and input.
    state = welcomed(leuven, open_line).state
    first = handle_input(leuven, state, open_line, digits="2")
    again = handle_input(leuven, state, open_line, digits="2")
    assert first == again


def test_an_effect_waits_for_resume_and_a_retried_webhook_asks_for_it_again(leuven, open_line):
    caller = Caller(leuven, open_line).dial().choose("nl").press("1").press("1").press("3000")
    caller.press("2")
    turn = handle_input(leuven, caller.state, open_line, recording_url_present=True)
    assert turn.effect == Effect(
        "create_request",
        {"language": "nl", "category": "groceries", "postcode": "3000", "urgency": "coming_days",
         "recording": True},  # and no caller_contact: the caller's own number is known
    )  # fmt: skip
    assert turn.state["node"] == "create_request"
    assert not turn.ended
    retried = handle_input(leuven, turn.state, open_line)
    assert retried.effect == turn.effect
    done = resume(leuven, turn.state, open_line, {"reference": 123456})
    assert done.state["collected"]["reference"] == "123456"
    assert isinstance(done.actions[-1], Hangup)


def test_resume_outside_an_effect_is_a_programming_error(leuven, open_line):
    state = welcomed(leuven, open_line).state
    with pytest.raises(ValueError, match="effect node"):
        resume(leuven, state, open_line, {"reference": "1"})


def test_run_effects_answers_effects_and_returns_everything_to_play_at_once(leuven, open_line):
    caller = Caller(leuven, open_line).dial().choose("nl").press("2")
    turn = handle_input(leuven, caller.state, open_line, recording_url_present=True)
    asked = []
    merged = run_effects(leuven, turn, open_line, lambda effect: asked.append(effect) or {})
    assert [effect.name for effect in asked] == ["create_volunteer_lead"]
    assert merged.effect is None
    assert merged.ended
    assert merged.actions[-1] == Hangup()


def test_the_flow_tells_the_renderer_voices_and_speaking_rate(leuven):
    assert leuven.voice_for("nl-BE") == "Google.nl-BE-Wavenet-A"
    assert leuven.voice_for("fr-BE") == "Polly.Isabelle-Neural"
    assert leuven.voice_for("en-GB") == "Polly.Amy-Neural"
    assert leuven.speaking_rate == "90%"
    assert leuven.language_code("fr") == "fr-BE"


def test_menus_are_gathers_with_their_prompt_inside_so_callers_can_press_early(leuven, open_line):
    turn = welcomed(leuven, open_line)
    assert len(turn.actions) == 1
    gather = turn.actions[0]
    assert isinstance(gather, Gather)
    assert gather.actions[0] == Say("Welkom bij Leuven Helpt.", "nl-BE")


def test_the_engine_imports_only_the_standard_library():
    allowed = set(sys.stdlib_module_names) | {"__future__"}
    for path in ENGINE_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
