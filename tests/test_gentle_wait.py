"""A gentle wait (#16): while the operators' phones ring, the caller hears something every 8 s.

The caller who presses 0 waits in the line's Twilio queue (<Enqueue>). Twilio asks the
waitUrl, again and again, what they hear next: a calm sentence, their place in the queue
(Twilio's QueuePosition) or how to leave a message, said while * is listened for. The
operators' phones are rung by REST, once, for as long as the caller may wait; the first
operator to pick up hears the whisper and is put through (<Dial><Queue>), and the other
phones stop ringing. Every webhook is signed; "Twilio's" REST API is the sandbox.
"""

from __future__ import annotations

import re
import time

import pytest
from sqlmodel import Session, select

from hotline.models import (
    CallSession,
    HelpRequest,
    Operator,
    OperatorRing,
    OperatorWait,
    OutboxMessage,
)
from hotline.voice import texts as voice_texts
from tests.conftest import LEUVEN_NUMBER, PUBLIC_BASE_URL
from tests.operator_phones import OperatorPhones
from tests.test_callbacks import give_phone
from tests.test_ivr_webhooks import (  # noqa: F401 (fixtures: the open Leuven line)
    ALWAYS_OPEN,
    CALLER,
    FLOW,
    LANGUAGES,
    OPERATORS,
    OPERATORS_E164,
    WAIT_KEY_URL,
    WAIT_URL,
    at_main,
    at_urgency,
    leuven,
    new_sid,
    texts,
    write_config,
)

pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

NODE = FLOW["nodes"]["operator_connect"]
ANNA, BART = OPERATORS_E164  # the line's two operator phones
SECONDS_A_WORD = 60 / 150 / 0.9  # 150 words a minute, 10 % slower (hotline.ivr.timing)


@pytest.fixture
def app_config(app_config, tmp_path, fake_twilio):
    """The Leuven line, open day and night, two operator phones; Twilio is the sandbox."""
    config = write_config(
        tmp_path / "open", hours=ALWAYS_OPEN, operators=OPERATORS, transcribe=False
    )
    return fake_twilio.configure({**app_config, "config_file": config})


@pytest.fixture
def phones(leuven, fake_twilio) -> OperatorPhones:  # noqa: F811
    return OperatorPhones(leuven.twilio, fake_twilio)


@pytest.fixture
def anna_is_olga(app, staff):
    """Anna's phone is the one Olga (an operator account, Dutch) put on her profile."""
    give_phone(app, staff["olga"], ANNA)
    with Session(app.extensions["hotline.engine"]) as session:
        olga = session.get(Operator, staff["olga"])
        olga.locale = "nl"
        session.add(olga)
        session.commit()
    return staff["olga"]


def wait_text(index: int, language: str) -> str:
    return NODE["wait"][index][language]


def place(language: str, position: int) -> str:
    if position == 1:
        return NODE["place_first"][language]
    return NODE["place"][language].replace("{position}", str(position))


def seconds_of(answer) -> float:
    """How long one wait turn lasts: its sentence, then the Gather's silence."""
    words = sum(len(said.split()) for said in answer.says)
    return words * SECONDS_A_WORD + int(answer.gather.get("timeout"))


def in_the_queue(leuven, language: str = "nl"):  # noqa: F811
    call = leuven.call()
    at_urgency(call, language)  # groceries in 3000; then 0: a person, please
    call.press("0").assert_waits_for_an_operator()
    return call


# -- what the caller hears ------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_waiting_for_an_operator_hears_her_place_every_8_seconds(leuven, language):  # noqa: F811
    call = leuven.call()
    at_main(call, language)
    first = call.press("0")
    assert first.says == texts("operator_connect", language)  # "... press star"
    first.assert_waits_for_an_operator()

    heard = []
    # Twilio asks the waitUrl again as soon as the last answer is played out.
    for waited, position in [(0, 3), (8, 3), (16, 2), (24, 2), (32, 1), (40, 1), (48, 1)]:
        turn = call.waits(position=position, queue_time=waited, size=3)
        turn.assert_language(language)
        assert turn.verbs == ["Gather"]  # said while listening for a key, then the next turn
        gather = turn.gather
        assert (gather.get("input"), gather.get("numDigits")) == ("dtmf", "1")
        assert gather.get("action") == WAIT_KEY_URL
        assert gather.get("actionOnEmptyResult") is None  # silence: simply the next turn
        assert 7 <= seconds_of(turn) <= 10, (turn.says, gather.get("timeout"))
        heard.append(turn.says)

    assert heard == [
        [],  # the prompt before the queue has just said how to leave a message
        [wait_text(0, language)],
        [place(language, 2)],
        [wait_text(1, language)],
        [place(language, 1)],
        [wait_text(2, language)],
        [place(language, 1)],
    ]
    star = FLOW["languages"][language]["key_names"]["*"]
    assert star in wait_text(1, language)
    assert "2" in place(language, 2)


def test_the_wait_texts_come_round_again_with_the_place_between_them(leuven):  # noqa: F811
    call = in_the_queue(leuven, "en")
    said = [call.waits(position=4, queue_time=5 * turn).says for turn in range(9)]
    assert said[7] == [wait_text(0, "en")]  # after the third wait text, the first again
    assert said[8] == [place("en", 4)] == ["You are number 4 in the queue."]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_who_presses_star_while_waiting_leaves_a_message(leuven, phones, work, language):  # noqa: F811
    call = in_the_queue(leuven, language)
    assert work()  # the operators' phones ring
    call.waits(queue_time=0)
    call.waits(queue_time=8)
    told = call.waits(queue_time=16, position=2)
    assert told.says == [place(language, 2)]
    left = call.presses_while_waiting("*")
    assert left.verbs == ["Leave"]  # out of the queue: Twilio posts the Enqueue's action
    answer = call.queue_ends("leave")
    answer.assert_language(language)
    assert answer.says == texts("operator_unavailable", language) + texts(
        "callback_message", language
    )
    recording = new_sid("RE")
    call.record(recording).assert_hangs_up()
    request = leuven.one(HelpRequest)
    assert (request.source, request.recording_sid, request.category) == (
        "callback",
        recording,
        "groceries",
    )
    assert work()  # and both phones stop ringing
    assert sorted(phones.fake.canceled_calls) == sorted(leg.sid for leg in _legs(phones))


def test_another_key_while_waiting_keeps_the_caller_in_the_queue(leuven):  # noqa: F811
    call = in_the_queue(leuven)
    call.waits(queue_time=0)
    answer = call.presses_while_waiting("5")
    assert answer.verbs == ["Redirect"] and answer.redirect == WAIT_URL
    assert call.waits(queue_time=8).says == [wait_text(0, "nl")]
    assert leuven.one(OperatorWait).status == "waiting"


def test_after_the_longest_wait_the_caller_leaves_a_message_kindly(leuven, phones, work):  # noqa: F811
    call = in_the_queue(leuven, "fr")
    work()
    assert call.waits(queue_time=NODE["max_wait"] - 1).verbs == ["Gather"]
    assert call.waits(queue_time=NODE["max_wait"]).verbs == ["Leave"]
    answer = call.queue_ends("leave", queue_time=NODE["max_wait"])
    assert answer.says == texts("operator_unavailable", "fr") + texts("callback_message", "fr")
    assert leuven.one(OperatorWait).status == "left"
    work()
    assert len(phones.fake.canceled_calls) == 2


# -- the operators' phones ------------------------------------------------------------------------


def _legs(phones: OperatorPhones):
    from tests.operator_phones import legs

    return legs(phones.fake)


def test_every_operator_phone_rings_once_for_as_long_as_the_caller_may_wait(
    leuven,  # noqa: F811
    phones,
    work,
    fake_twilio,
):
    in_the_queue(leuven)
    started = time.monotonic()
    assert work()
    rung = _legs(phones)
    assert [leg.phone for leg in rung] == [ANNA, BART]
    for request in fake_twilio.calls:
        assert request.authenticated
        assert request.form["From"] == LEUVEN_NUMBER  # operators see the line's number
        assert "Twiml" not in request.form and request.form["Method"] == "POST"
    # One long ring each, not rounds: as long as the caller may wait, and a little more.
    assert {leg.timeout for leg in rung} == {NODE["max_wait"] + 5}
    assert all(leg.url.startswith("/twilio/voice/operator/answered?ring=") for leg in rung)
    # Twilio starts one call a second per account: the second phone waited its turn.
    first, second = fake_twilio.calls
    assert second.at - first.at >= 0.9
    assert time.monotonic() - started >= 0.9
    # Ringing again (a retried job) rings nobody twice.
    assert not work()
    assert len(fake_twilio.calls) == 2
    # The work that rang them holds ids only.
    for row in leuven.rows(OutboxMessage):
        assert set(row.payload) <= {"ring_id", "wait_id", "help_request_id"}


@pytest.mark.parametrize("language", ["fr", "en"])
def test_when_anna_answers_barts_phone_stops_ringing(
    leuven,  # noqa: F811
    phones,
    work,
    anna_is_olga,
    language,
):
    call = in_the_queue(leuven, language)
    work()
    anna, bart = phones.leg_for(ANNA), phones.leg_for(BART)
    picked_up = phones.picks_up(anna)
    # Anna (Olga, who works in Dutch) alone hears what the menus collected, then the caller.
    assert picked_up.says == [
        "Leuven Helpt, oproep in het "
        + {"fr": "Frans", "en": "Engels"}[language]
        + ", voor boodschappen of apotheek."
    ]
    assert picked_up.verbs == ["Say", "Dial"]
    assert phones.picks_up(anna).body == picked_up.body  # Twilio retried: the same answer
    phones.puts_through(picked_up, anna, call.sid)
    phones.puts_through(picked_up, anna, call.sid)  # retried: nothing twice
    assert phones.picks_up(anna).body == picked_up.body  # even after: the same caller
    assert call.waits(queue_time=16).verbs == ["Pause"]  # a late waitUrl never undoes it
    session = leuven.call_session(call)
    assert session.answered_by_id == anna_is_olga  # Olga's page shows the live call card
    work()
    assert phones.fake.canceled_calls == [bart.sid]
    assert phones.fake.call_status(anna.sid) == "in-progress"
    # They talk; Anna hangs up first: the caller may still leave a message.
    after = call.queue_ends("bridged", queue_time=95)
    assert after.says == texts("after_operator", language)
    assert phones.dial_over(picked_up, anna, bridged=True).verbs == ["Hangup"]
    call.record_nothing().assert_hangs_up()
    assert leuven.rows(HelpRequest) == []  # a call Olga took is hers to log


def test_a_colleague_who_picks_up_a_moment_later_hears_that_the_call_is_taken(
    leuven,  # noqa: F811
    phones,
    work,
):
    call = in_the_queue(leuven)
    work()
    picked_up = phones.picks_up(phones.leg_for(ANNA))
    phones.puts_through(picked_up, phones.leg_for(ANNA), call.sid)
    too_late = phones.picks_up(phones.leg_for(BART))  # before the cancel reached Twilio
    assert too_late.says == [voice_texts.CALLER_TAKEN["nl"]]
    too_late.assert_hangs_up()


def test_a_colleague_who_picks_up_while_anna_hears_the_whisper_is_told_the_call_is_taken(
    leuven,  # noqa: F811
    phones,
    work,
):
    call = in_the_queue(leuven)
    work()
    anna_hears = phones.picks_up(phones.leg_for(ANNA))  # the whisper: not put through yet
    assert anna_hears.verbs == ["Say", "Dial"]
    bart_hears = phones.picks_up(phones.leg_for(BART))
    assert bart_hears.says == [voice_texts.CALLER_TAKEN["nl"]]
    phones.puts_through(anna_hears, phones.leg_for(ANNA), call.sid)
    assert leuven.one(OperatorWait).bridged_ring_id == leuven.session.exec(
        select(OperatorRing.id).where(OperatorRing.operator_index == 0)
    ).one()


def test_an_operator_who_answers_after_the_caller_hung_up_hears_that_the_caller_left(
    leuven,  # noqa: F811
    phones,
    work,
):
    call = in_the_queue(leuven, "en")
    work()
    call.waits()
    response = leuven.twilio.post(
        "/twilio/voice/status", {**call.params, "CallStatus": "completed", "CallDuration": "14"}
    )
    assert response.status_code == 204
    assert leuven.one(HelpRequest).source == "callback"  # no call is lost
    assert leuven.one(OperatorWait).status == "left"
    late = phones.picks_up(phones.leg_for(BART))  # picked up just before the cancel
    assert late.says == [voice_texts.CALLER_LEFT["nl"]]  # the line's language: no account
    late.assert_hangs_up()
    work()
    # Both legs are cancelled at Twilio (Bart's was answered: Twilio leaves it to hang up).
    assert phones.fake.canceled_calls == [phones.leg_for(ANNA).sid]
    assert phones.fake.call_status(phones.leg_for(BART).sid) == "in-progress"


def test_an_operator_put_through_to_an_empty_queue_hears_that_the_caller_left(
    leuven,  # noqa: F811
    phones,
    work,
):
    in_the_queue(leuven)
    work()
    anna = phones.leg_for(ANNA)
    picked_up = phones.picks_up(anna)
    # The caller hung up between Anna's whisper and her <Dial><Queue>: nobody to connect.
    ended = phones.dial_over(picked_up, anna, bridged=False)
    assert ended.says == [voice_texts.CALLER_LEFT["nl"]]
    ended.assert_hangs_up()


def test_two_callers_are_put_through_in_the_order_they_called(leuven, phones, work):  # noqa: F811
    first = in_the_queue(leuven, "fr")
    second = in_the_queue(leuven, "en")
    work()
    assert len(phones.fake.calls) == 4  # each phone rings for each caller
    # Anna picks up the leg rung for the second caller: Twilio's queue is first in, first
    # out, so she is told about (and put through to) the first one.
    anna = phones.leg_for(ANNA, nth=1)
    picked_up = phones.picks_up(anna)
    assert picked_up.says == ["Leuven Helpt, oproep in het Frans, voor boodschappen of apotheek."]
    phones.puts_through(picked_up, anna, first.sid)
    bart = phones.leg_for(BART, nth=1)
    assert phones.picks_up(bart).says == [
        "Leuven Helpt, oproep in het Engels, voor boodschappen of apotheek."
    ]
    waits = {w.call_session_id: w for w in leuven.rows(OperatorWait)}
    sessions = {s.call_sid: s.id for s in leuven.rows(CallSession)}
    assert waits[sessions[first.sid]].status == "bridged"
    assert waits[sessions[second.sid]].status == "waiting"


def test_a_retried_enqueue_step_puts_the_caller_in_the_queue_once(leuven, work):  # noqa: F811
    call = in_the_queue(leuven)
    before = leuven.counts()
    again = call.retry()
    assert again.body == call.answer.body
    assert leuven.counts() == before
    assert len(leuven.rows(OperatorWait)) == 1
    assert len(leuven.rows(OperatorRing)) == 2


def test_the_queue_webhooks_need_twilios_signature(leuven):  # noqa: F811
    call = in_the_queue(leuven)
    params = {**call.params, "QueuePosition": "1", "QueueTime": "0"}
    for path in (WAIT_URL, WAIT_KEY_URL, "/twilio/voice/queue/bridged?ring=1",
                 "/twilio/voice/operator/answered?ring=1"):  # fmt: skip
        forged = leuven.twilio.post(path, params, signature="bm90IGEgc2lnbmF0dXJl")
        assert forged.status_code == 403, path
    assert leuven.one(OperatorWait).turns == 0


def test_no_number_is_stored_with_the_wait_or_the_rings(leuven, phones, work, anna_is_olga):  # noqa: F811
    call = in_the_queue(leuven)
    work()
    picked_up = phones.picks_up(phones.leg_for(ANNA))
    phones.puts_through(picked_up, phones.leg_for(ANNA), call.sid)
    numbers = re.compile("|".join(re.escape(n) for n in [CALLER, *OPERATORS_E164]))
    for row in [*leuven.rows(OperatorWait), *leuven.rows(OperatorRing)]:
        assert not numbers.search(repr(row.model_dump())), row
    # The only place the operators' numbers went is Twilio's Calls API (To).
    assert not numbers.search(PUBLIC_BASE_URL + phones.leg_for(ANNA).url)
    assert leuven.session.exec(select(OperatorRing).where(OperatorRing.status == "answered")).one()
