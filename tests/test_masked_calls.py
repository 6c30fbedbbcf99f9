"""People reach each other through the line: operators who answer, volunteer <-> resident
calls that show neither number, callers without caller ID, * and hang-ups kept honest.

Every webhook is signed and posted the way Twilio posts it (tests/test_ivr_webhooks.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlmodel import select

from hotline.dispatch import AssignmentStatus
from hotline.models import (
    Assignment,
    AuditEvent,
    CallSession,
    Contact,
    HelpRequest,
    RequestStatus,
    Volunteer,
    utcnow,
)
from hotline.privacy import reveal_number, store_contact
from hotline.voice import texts as voice_texts
from tests.conftest import LEUVEN_NUMBER
from tests.test_ivr_webhooks import (  # noqa: F401  (fixtures used by name)
    CALLER,
    REFERENCE_IS,
    Answer,
    Call,
    Hotline,
    app_config,
    at_main,
    at_message,
    leuven,
    message,
    new_sid,
    texts,
)

RESIDENT = CALLER  # +32470123456, the resident who asked for help
VOLUNTEER_PHONE = "+32478111222"
NUMBER_FORMS = ("470123456", "478111222", "0470 12", "0478 11", "4, 7, 8, 1", "4, 7, 0, 1, 2")


def settings_of(line: Hotline):
    return line.app.extensions["hotline.settings"]


def helped_request(
    line: Hotline,
    *,
    volunteer_languages=("nl",),
    request_language="nl",
    extra_requests: int = 0,
) -> tuple[HelpRequest, Volunteer, Assignment]:
    """Request 482913 (groceries in 3001 Heverlee), accepted by volunteer Vera (code 4821)."""
    session, settings = line.session, settings_of(line)
    from hotline.db import line_row

    leuven_line = line_row(session, settings, "leuven")
    resident = store_contact(session, settings.secrets, RESIDENT)
    vera = Volunteer(
        line_id=leuven_line.id,
        name="Vera",
        postcode="3001",
        languages=list(volunteer_languages),
        contact_id=store_contact(session, settings.secrets, VOLUNTEER_PHONE).id,
    )
    session.add(vera)
    session.flush()
    made = []
    for index in range(1 + extra_requests):
        help_request = HelpRequest(
            line_id=leuven_line.id,
            reference=str(482913 + index),
            status=RequestStatus.ACCEPTED,
            language=request_language,
            category="groceries",
            postcode="3001",
            caller_hash=resident.caller_hash,
            contact_id=resident.id,
        )
        session.add(help_request)
        session.flush()
        assignment = Assignment(
            help_request_id=help_request.id,
            volunteer_id=vera.id,
            code=str(4821 + index),
            status=AssignmentStatus.ACCEPTED,
            responded_at=utcnow() - timedelta(minutes=index),
        )
        session.add(assignment)
        made.append((help_request, assignment))
    session.commit()
    return made[0][0], vera, made[0][1]


def masked_events(line: Hotline) -> list[AuditEvent]:
    line.session.rollback()
    return list(line.session.exec(select(AuditEvent).where(AuditEvent.action == "masked_call")))


def stored_answers(line: Hotline) -> str:
    """Everything the database keeps of the calls: states and the TwiML to replay."""
    return " ".join(f"{c.state} {c.last_response}" for c in line.rows(CallSession))


def screen(line: Hotline, call: Call, *, answer: str | None = None) -> Answer:
    """The person rung picked up: Twilio runs the <Number url> on their leg (a child call)."""
    number = call.answer.only("Number")
    params = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": new_sid("CA"),
        "ParentCallSid": call.sid,
        "From": LEUVEN_NUMBER,
        "To": number.text,
        "Direction": "outbound-dial",
        "CallStatus": "in-progress",
    }
    url = number.get("url")
    screened = Answer(line.twilio.post(url, params))
    if answer is None:
        return screened
    return Answer(line.twilio.post(screened.gather.get("action"), {**params, "Digits": answer}))


def dial_over(call: Call, *, bridged: bool, status: str = "completed") -> Answer:
    """The Dial's action: Twilio says with DialBridged whether the two were put through."""
    return call.post(
        call.answer.only("Dial").get("action"),
        DialCallStatus=status,
        DialCallSid=new_sid("CA"),
        DialCallDuration="60" if bridged else "0",
        DialBridged="true" if bridged else "false",
    )


# -- a volunteer calls the resident ---------------------------------------------------------------


def test_a_volunteer_who_calls_the_line_is_put_through_to_the_resident_without_numbers(
    leuven, caplog
):
    caplog.set_level(logging.DEBUG)
    help_request, vera, _ = helped_request(leuven, volunteer_languages=("fr", "nl"))
    call = leuven.call(VOLUNTEER_PHONE)

    greeting = call.dial()
    greeting.assert_language("fr")  # Vera's language, before any language menu
    assert greeting.gather_says[0] == "Bonjour. Vous aidez pour la demande"
    assert greeting.gather_says[1:7] == list("482913")
    assert "à Heverlee." in greeting.gather_says

    dialling = call.press("1")
    dial = dialling.only("Dial")
    assert dial.get("callerId") == LEUVEN_NUMBER  # the resident sees the line
    assert [n.text for n in dial.iter("Number")] == [RESIDENT]  # only in what Twilio gets
    assert RESIDENT not in stored_answers(leuven)
    assert "contact:" in stored_answers(leuven)

    # The resident hears who is calling, in their own language, and accepts with 1.
    screened = screen(leuven, call)
    assert screened.gather.get("numDigits") == "1"
    prompt = " ".join(screened.gather_says)
    assert "vrijwilliger voor boodschappen of apotheek" in prompt and "Druk 1" in prompt
    assert screened.verbs == ["Gather", "Say", "Hangup"]  # no 1: this leg hangs up
    accepted = screen(leuven, call, answer="1")
    assert accepted.verbs == []  # an empty answer: the two are connected

    goodbye = dial_over(call, bridged=True)
    goodbye.assert_hangs_up()
    [event] = masked_events(leuven)
    assert event.help_request_id == help_request.id and event.volunteer_id == vera.id
    assert event.detail["direction"] == "volunteer_to_resident"
    assert event.detail["outcome"] == "connected"
    # Every log record is redacted on creation: a number logged anywhere shows as [number].
    assert "[number]" not in caplog.text
    assert not any(form in caplog.text for form in (RESIDENT, VOLUNTEER_PHONE))
    assert not any(form in str(event.detail) for form in NUMBER_FORMS)


def test_a_retried_dial_webhook_dials_the_same_resident_from_the_vault(leuven):
    helped_request(leuven)
    call = leuven.call(VOLUNTEER_PHONE)
    call.dial()
    first = call.press("1")
    again = call.retry()
    assert again.body == first.body


def test_a_resident_who_does_not_answer_is_tried_again_later_and_the_operators_see_it(leuven):
    help_request, _, _ = helped_request(leuven)
    call = leuven.call(VOLUNTEER_PHONE)
    call.dial()
    call.press("1")

    answer = dial_over(call, bridged=False, status="no-answer")

    assert answer.says == texts("resident_not_reached", "nl")
    answer.assert_hangs_up()
    [event] = masked_events(leuven)
    assert event.detail["outcome"] == "not_answered"
    assert event.help_request_id == help_request.id


def test_a_resident_who_picks_up_but_does_not_press_1_is_not_put_through(leuven):
    helped_request(leuven)
    call = leuven.call(VOLUNTEER_PHONE)
    call.dial()
    call.press("1")
    declined = screen(leuven, call, answer="")
    assert declined.verbs == ["Say", "Hangup"]
    # Twilio may still say "completed": the screening's hang-up is what counts.
    answer = dial_over(call, bridged=False)
    assert answer.says == texts("resident_not_reached", "nl")
    [event] = masked_events(leuven)
    assert event.detail["outcome"] == "not_answered"


def test_a_volunteer_with_several_requests_picks_one_by_its_code(leuven):
    helped_request(leuven, extra_requests=1)  # 482913 (code 4821) and 482914 (code 4822)
    call = leuven.call(VOLUNTEER_PHONE)

    asked = call.dial()
    assert "2 hulpvragen" in asked.gather_says[0]
    wrong = call.press("9999")
    assert wrong.gather_says[0] == texts("volunteer_code_unknown", "nl")[0]
    call.press("1")  # key the code in again
    chosen = call.press("4822")
    assert chosen.gather_says[1:7] == list("482914")
    dialling = call.press("1")
    assert [n.text for n in dialling.only("Dial").iter("Number")] == [RESIDENT]


def test_a_volunteer_may_still_choose_the_usual_menu(leuven):
    helped_request(leuven)
    call = leuven.call(VOLUNTEER_PHONE)
    call.dial()
    welcome = call.press("2")
    assert welcome.gather_says[0] == texts("welcome", "nl")[0]


def test_a_volunteer_whose_request_was_closed_meanwhile_is_not_put_through(leuven):
    help_request, _, _ = helped_request(leuven)
    call = leuven.call(VOLUNTEER_PHONE)
    call.dial()
    leuven.set_status(help_request.reference, RequestStatus.DONE)
    answer = call.press("1")
    assert "Dial" not in answer.verbs
    assert answer.says[-1] == texts("resident_not_reached", "nl")[0]


# -- the resident calls their volunteer -----------------------------------------------------------


def test_a_resident_calling_from_the_same_number_is_put_through_to_their_volunteer(leuven):
    help_request, vera, _ = helped_request(leuven, request_language="nl")
    call = leuven.call(RESIDENT)

    greeting = call.dial()
    assert (
        greeting.gather_says[0] == "Goeiedag. Er is een vrijwilliger die u helpt met uw hulpvraag"
    )
    dialling = call.press("1")
    assert [n.text for n in dialling.only("Dial").iter("Number")] == [VOLUNTEER_PHONE]
    assert VOLUNTEER_PHONE not in stored_answers(leuven)
    screened = screen(leuven, call)
    assert "De bewoner van hulpvraag" in screened.gather_says[0]
    screen(leuven, call, answer="1")
    dial_over(call, bridged=True).assert_hangs_up()
    [event] = masked_events(leuven)
    assert event.detail["direction"] == "resident_to_volunteer"
    assert (event.volunteer_id, event.detail["outcome"]) == (vera.id, "connected")


def test_a_resident_asking_about_their_request_can_be_put_through_to_their_volunteer(leuven):
    help_request, _, _ = helped_request(leuven)
    call = leuven.call(RESIDENT)
    call.dial()
    call.press("2")  # the usual menu
    call.press("1")  # Dutch
    call.press("3")  # a request made before
    status = call.press(help_request.reference)
    assert status.gather_says[0] == texts("status_volunteer_accepted", "nl")[0]
    dialling = call.press("1")
    assert [n.text for n in dialling.only("Dial").iter("Number")] == [VOLUNTEER_PHONE]


def test_someone_else_with_the_reference_hears_nothing_about_it(leuven):
    help_request, _, _ = helped_request(leuven)
    call = leuven.call("+32470555000")
    call.dial()
    call.press("1")
    call.press("3")
    status = call.press(help_request.reference)
    assert status.says[0] == texts("status_unknown", "nl")[0]


# -- an operator answers --------------------------------------------------------------------------
# The whisper, the call card and * while waiting: the operators' phones ring by REST while
# the caller waits in the line's queue (tests/test_gentle_wait.py).


# -- * while waiting, and hanging up in the middle of a message -----------------------------------


def test_after_the_conversation_the_caller_may_still_leave_a_message(leuven):
    call = leuven.call()
    at_main(call, "nl")
    call.press("0")
    # The operator hung up first; the caller, still on the line, hears the offer.
    answer = call.queue_ends("bridged", queue_time=60)
    assert answer.says == texts("after_operator", "nl")
    recording = new_sid("RE")
    call.record(recording).assert_hangs_up()
    request = leuven.one(HelpRequest)
    assert (request.source, request.recording_sid) == ("callback", recording)


def hang_up_mid_message(call: Call, recording: str) -> Answer:
    """Twilio's Record action after a hang-up: Digits=hangup, RecordingUrl, no RecordingSid."""
    return call.post(
        call.answer.only("Record").get("action"),
        Digits="hangup",
        RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}"
        f"/Recordings/{recording}",
        RecordingDuration="12",
        CallStatus="completed",
    )


def test_a_caller_who_hangs_up_mid_message_still_gets_a_request_with_the_message(leuven):
    call = leuven.call()
    at_message(call, "nl")
    recording = new_sid("RE")
    hang_up_mid_message(call, recording)
    leuven.twilio.post("/twilio/voice/status", {**call.params, "CallStatus": "completed"})
    request = leuven.one(HelpRequest)
    assert (request.category, request.postcode, request.recording_sid) == (
        "groceries",
        "3000",
        recording,
    )


def test_the_end_of_the_call_may_be_reported_before_the_message(leuven):
    call = leuven.call()
    at_message(call, "nl")
    leuven.twilio.post("/twilio/voice/status", {**call.params, "CallStatus": "completed"})
    assert leuven.one(HelpRequest).recording_sid is None  # nobody is lost meanwhile
    recording = new_sid("RE")
    hang_up_mid_message(call, recording)
    request = leuven.one(HelpRequest)
    assert request.recording_sid == recording and request.source == "ivr"


# -- callers without caller ID ---------------------------------------------------------------------


@pytest.mark.parametrize("withheld", ["anonymous", "+266696687", "+7378742833", ""])
def test_a_caller_without_caller_id_keys_in_a_number_that_goes_straight_into_the_vault(
    leuven, withheld, caplog
):
    caplog.set_level(logging.DEBUG)
    call = leuven.call(withheld)
    at_message(call, "nl")
    asked = call.record_nothing()
    assert asked.gather_says == [message("number_ask", "nl")]
    assert asked.gather.get("finishOnKey") == "#"

    read_back = call.press("0476123456")

    said = read_back.gather_says
    assert said[0] == "U toetste:"
    assert said[1] == "0, 4, 7, 6, 1, 2, 3, 4, 5, 6"  # digit by digit
    assert said[2].startswith("Klopt dit nummer? Druk 1.")
    assert "0476123456" not in stored_answers(leuven)
    assert "0, 4, 7, 6" not in stored_answers(leuven)
    assert call.retry().body == read_back.body  # a retry reads it back again

    done = call.press("1")
    request = leuven.one(HelpRequest)
    contact = leuven.session.get(Contact, request.contact_id)
    assert (
        reveal_number(leuven.session, contact, settings_of(leuven).secrets, reason="masked_call")
        == "+32476123456"
    )
    assert request.caller_hash == contact.caller_hash
    assert texts("confirmation", "nl", reference_digits="")[3] in done.says  # we call back
    assert "476123456" not in caplog.text and "[number]" not in caplog.text


def test_a_number_that_cannot_be_called_is_refused_and_asked_again(leuven):
    call = leuven.call("anonymous")
    at_message(call, "nl")
    call.record_nothing()
    answer = call.press("12345")
    assert answer.says[0] == message("number_invalid", "nl")
    assert answer.gather_says == [message("number_ask", "nl")]
    retyped = call.press("0476123456")
    assert retyped.gather_says[1] == "0, 4, 7, 6, 1, 2, 3, 4, 5, 6"
    again = call.press("2")  # wrong: key it in again
    assert again.gather_says == [message("number_ask", "nl")]
    assert leuven.rows(HelpRequest) == []


def test_a_caller_without_caller_id_who_leaves_a_call_back_message_is_told_the_truth(leuven):
    call = leuven.call("anonymous")
    at_main(call, "en")
    call.press("0")
    unavailable = call.rings_out()
    assert unavailable.says[-1] == texts("callback_message", "en")[0]
    asked = call.record(new_sid("RE"))
    assert asked.gather_says == [message("number_ask", "en")]
    done = call.press("*")
    assert done.says[0] == texts("callback_no_number", "en", reference_digits="")[0]
    assert texts("callback_thanks", "en")[0] not in done.says
    request = leuven.one(HelpRequest)
    assert request.contact_id is None and request.source == "callback"


def test_a_known_caller_is_never_asked_for_their_number(leuven):
    call = leuven.call()
    at_message(call, "fr")
    done = call.record_nothing()
    assert message("number_ask", "fr") not in done.says
    assert REFERENCE_IS["fr"][0] in done.says


# -- what the first menu says ------------------------------------------------------------------


def test_the_first_menu_says_how_to_reach_a_person_in_every_language(leuven):
    welcome = leuven.call().dial()
    said = welcome.gather_says
    for sentence in (
        "Een medewerker, druk 0.",
        "Un collaborateur, tapez 0.",
        "A person, press 0.",
    ):
        assert sentence in said
    french = [say for say in welcome.gather.iter("Say") if "tapez 0" in say.findtext("prosody")]
    assert french[0].get("language") == "fr-BE"  # in a French voice


def test_whispers_exist_in_every_language():
    for table in (
        voice_texts.CALL_BACK_GUARD,
        voice_texts.RESIDENT_SCREEN,
        voice_texts.VOLUNTEER_SCREEN,
        voice_texts.OPERATOR_WHISPER,
        voice_texts.CALL_BACK_WHISPER,
        voice_texts.CALLER_LEFT,
        voice_texts.CALLER_TAKEN,
    ):
        assert set(table) == set(voice_texts.LANGUAGES)
        assert all(sentence.strip() for sentence in table.values())


def test_a_caller_without_caller_id_who_offers_to_volunteer_is_asked_for_a_number(leuven):
    from hotline.models import VolunteerLead

    call = leuven.call("anonymous")
    at_main(call, "nl")
    call.press("2")  # I want to volunteer
    asked = call.record(new_sid("RE"))
    assert asked.gather_says == [message("number_ask", "nl")]
    call.press("0476123456")
    done = call.press("1")
    assert done.says == texts("volunteer_thanks", "nl")
    lead = leuven.one(VolunteerLead)
    contact = leuven.session.get(Contact, lead.contact_id)
    assert (
        reveal_number(leuven.session, contact, settings_of(leuven).secrets, reason="masked_call")
        == "+32476123456"
    )


def test_a_would_be_volunteer_without_a_number_is_sent_to_the_register_page(leuven):
    call = leuven.call("anonymous")
    at_main(call, "en")
    call.press("2")
    call.record(new_sid("RE"))
    done = call.press("*")
    [said] = done.says
    expected = texts("volunteer_thanks_no_number", "en", register_url="@")[0]
    assert said.startswith(expected.split("@")[0]) and said.endswith("Goodbye.")
    done.assert_hangs_up()
