"""A gentle wait: while the operators' phones ring, the caller hears something every 8 s.

Twilio plays only a ringing tone during a <Dial>. So the Leuven flow rings the
operators in rounds of 8 seconds (``ring_seconds``); when a round runs out (Twilio
posts DialCallStatus "no-answer") the caller hears the next calm sentence, one of
which says how to leave a message (*), and the phones ring again; after the last
round the caller records a message for a call-back, as before. Signed webhooks only.
"""

from __future__ import annotations

import pytest

from hotline.models import HelpRequest
from tests.test_ivr_webhooks import (  # noqa: F401 (fixtures: the open Leuven line)
    FLOW,
    LANGUAGES,
    OPERATORS_E164,
    app_config,
    at_category,
    at_main,
    leuven,
    new_sid,
    texts,
)

NODE = FLOW["nodes"]["operator_connect"]


def wait_text(index: int, language: str) -> str:
    return NODE["wait"][index][language]


def assert_rings_the_operators_for_a_round(answer) -> None:
    dial = answer.only("Dial")
    assert [number.text for number in dial.iter("Number")] == OPERATORS_E164
    # No more than 8 s of ringing tone before the caller hears a word again.
    assert dial.get("timeout") == str(NODE["ring_seconds"]) == "8"
    assert dial.get("hangupOnStar") == "true"  # * while it rings: leave a message instead
    assert answer.verbs[-1] == "Dial"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_caller_hears_a_calm_sentence_between_rounds_of_ringing(leuven, language):  # noqa: F811
    call = leuven.call()
    at_main(call, language)
    first = call.press("0")
    assert first.says == texts("operator_connect", language)
    assert_rings_the_operators_for_a_round(first)
    heard = []
    actions = {first.action}
    for index in range(NODE["rounds"] - 1):
        answer = call.dial_ends("no-answer")
        answer.assert_language(language)
        # A sentence, listening for a key (not for speech: the caller is waiting), then the
        # phones ring again; silence simply goes on to the ringing.
        assert answer.verbs == ["Gather", "Dial"]
        gather = answer.gather
        assert (gather.get("input"), gather.get("numDigits")) == ("dtmf", "1")
        assert gather.get("actionOnEmptyResult") is None
        assert gather.get("action") == answer.only("Dial").get("action")
        heard += answer.says
        assert answer.says == [wait_text(index % len(NODE["wait"]), language)]
        assert_rings_the_operators_for_a_round(answer)
        actions.add(answer.action)
    assert len(actions) == NODE["rounds"]  # each round its own step: retries are told apart
    # One of them tells how to stop waiting.
    assert any(FLOW["languages"][language]["key_names"]["*"] in line for line in heard)
    assert leuven.call_session(call).last_node == "operator_connect"

    # After the last round: nobody is free, the caller leaves a message for a call-back.
    answer = call.dial_ends("no-answer")
    assert answer.says == texts("operator_unavailable", language) + texts(
        "callback_message", language
    )
    assert answer.verbs[-2:] == ["Record", "Redirect"]
    sid = new_sid("RE")
    call.record(sid).assert_hangs_up()
    assert leuven.one(HelpRequest).recording_sid == sid


def test_an_operator_who_picks_up_in_a_later_round_talks_with_the_caller(leuven):  # noqa: F811
    call = leuven.call()
    at_category(call, "nl")
    call.press("0")
    call.dial_ends("no-answer")
    call.dial_ends("no-answer")
    after = call.post(
        call.answer.only("Dial").get("action"),
        DialCallStatus="completed",
        DialBridged="true",
        DialCallSid=new_sid("CA"),
        DialCallDuration="95",
    )
    # The conversation took place: the caller may still add a message, no call-back is due.
    assert after.says == texts("after_operator", "nl")
    assert leuven.call_session(call).last_node == "after_operator"


@pytest.mark.parametrize("status", ["canceled", "completed"])
def test_star_while_it_rings_leaves_a_message_at_once(leuven, status):  # noqa: F811
    call = leuven.call()
    at_main(call, "fr")
    call.press("0")
    call.dial_ends("no-answer")  # a first round without an answer, then the caller presses *
    answer = call.post(
        call.answer.only("Dial").get("action"),
        DialCallStatus=status,
        DialBridged="false",
        DialCallSid=new_sid("CA"),
        DialCallDuration="0",
    )
    assert answer.says == texts("operator_unavailable", "fr") + texts("callback_message", "fr")
    assert "Dial" not in answer.verbs


def test_a_retried_round_gets_the_same_answer_and_does_not_skip_a_sentence(leuven):  # noqa: F811
    call = leuven.call()
    at_main(call, "en")
    call.press("0")
    first = call.dial_ends("no-answer")
    again = call.retry()  # Twilio did not get our answer in time and asks once more
    assert again.body == first.body
    following = call.dial_ends("no-answer")
    assert following.says == [wait_text(1, "en")]


def test_a_caller_who_hangs_up_while_it_rings_is_called_back(leuven):  # noqa: F811
    call = leuven.call()
    at_category(call, "nl")
    call.press("0")
    call.dial_ends("no-answer")
    params = {**call.params, "CallStatus": "completed", "CallDuration": "40"}
    assert leuven.twilio.post("/twilio/voice/status", params).status_code == 204
    request = leuven.one(HelpRequest)
    assert request.source == "callback"


@pytest.mark.parametrize("language", LANGUAGES)
def test_star_after_hearing_how_to_leave_a_message_leaves_one(leuven, language):  # noqa: F811
    call = leuven.call()
    at_main(call, language)
    call.press("0")
    call.dial_ends("no-answer")
    told = call.dial_ends("no-answer")
    assert told.says == [wait_text(1, language)]  # "Would you rather leave a message? ..."
    answer = call.press("*")  # during the sentence or just after it
    assert answer.says == texts("operator_unavailable", language) + texts(
        "callback_message", language
    )
    assert answer.verbs[-2:] == ["Record", "Redirect"]


def test_another_key_between_two_rounds_keeps_the_caller_waiting_for_a_person(leuven):  # noqa: F811
    call = leuven.call()
    at_main(call, "nl")
    call.press("0")
    call.dial_ends("no-answer")
    answer = call.press("0")
    assert answer.verbs == ["Dial"]
    assert_rings_the_operators_for_a_round(answer)
    assert leuven.call_session(call).last_node == "operator_connect"
