"""Another town, another menu, the same engine: a line changes by editing its file."""

from __future__ import annotations

import pytest

from hotline.ivr import CallContext, Dial, Record, Say

from .phone import Caller


@pytest.fixture
def context() -> CallContext:
    return CallContext(within_opening_hours=True, postcodes={"9999": "Testdorp"})


def test_testdorp_greets_with_its_own_words_and_key_phrasing(testdorp, context):
    caller = Caller(testdorp, context).dial()
    assert caller.node == "begin"
    assert caller.says[0] == Say("Dag, dit is Testdorp Helpt.", "nl-BE")
    assert Say("English: press 2.", "en-GB") in caller.says
    assert caller.last.timeout == 10


def test_an_english_caller_asks_for_a_chat_and_hears_the_reference(testdorp, context):
    caller = Caller(testdorp, context, results={"create_request": {"reference": "700123"}})
    caller.dial().press("2")
    assert caller.node == "vraag"
    assert "A chat: press 2." in caller.heard
    caller.press("2")
    assert caller.node == "bericht"
    assert caller.last == Record(max_length=60, finish_on_key="#", timeout=8)
    caller.record()
    assert caller.effects[-1].data == {"language": "en", "category": "talk", "recording": True}
    assert [say.text for say in caller.says if say.text.isdigit()] == list("700123")
    assert caller.ended


def test_testdorp_allows_three_misses_before_a_person_takes_over(testdorp, context):
    caller = Caller(testdorp, context).dial().press("1").wait().wait()
    assert caller.node == "vraag"
    caller.wait()
    assert caller.last == Dial("operators")


def test_testdorp_at_night_takes_a_message(testdorp, context):
    from dataclasses import replace

    caller = Caller(testdorp, replace(context, within_opening_hours=False)).dial().press("0")
    assert caller.heard.startswith("Er is nu niemand.")
    caller.record()
    assert caller.effects[-1].name == "create_callback_request"
    assert caller.node == "dag"
    assert caller.ended
