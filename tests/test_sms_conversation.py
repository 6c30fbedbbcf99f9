"""Volunteers answer by SMS: JA / NEE / KLAAR, STOP, delivery reports, offers that move on.

Every inbound message is a webhook signed like Twilio's; SMS go out through a real rq
worker (with rq's scheduler for the timers) and the real twilio client, to the local
Twilio sandbox.
"""

from __future__ import annotations

import re
import threading
import time
import xml.etree.ElementTree as ET
from itertools import count
from pathlib import Path

import pytest
from sqlmodel import Session, select

from hotline.audit import history
from hotline.dispatch import assign_volunteer
from hotline.models import Assignment, AuditEvent, Contact, HelpRequest, SmsMessage, Volunteer
from hotline.outbox import relay_pending
from tests.conftest import ROOT, Twilio
from tests.volunteers_helpers import leuven, make_request, make_volunteer

pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

LINE_SMS = "+32470272772"  # sms_from of the Leuven line (config.toml)
MIA, JAN, ELS = "+32470111001", "+32470111002", "+32470111003"
RESIDENT = "+32470999888"
_sids = count(1)


def line_config(tmp_path: Path, **keys: str) -> Path:
    """config.toml with some keys of the Leuven line replaced (values in TOML syntax)."""
    text = (ROOT / "config.toml").read_text()
    for key, value in keys.items():
        text, replaced = re.subn(rf"(?m)^{key} = .*$", f"{key} = {value}", text)
        if not replaced:
            text = text.replace("[lines.leuven]\n", f"[lines.leuven]\n{key} = {value}\n", 1)
    path = tmp_path / "config.toml"
    path.write_text(text.replace('flows_dir = "ivr_flows"', f'flows_dir = "{ROOT / "ivr_flows"}"'))
    return path


@pytest.fixture
def line_keys() -> dict[str, str]:
    """Line settings a test changes (override this fixture, or parametrize it)."""
    return {}


@pytest.fixture
def app_config(app_config, fake_twilio, tmp_path, line_keys):
    config = fake_twilio.configure(app_config)
    if line_keys:
        config["config_file"] = line_config(tmp_path, **line_keys)
    return config


def sms_sid() -> str:
    return f"SM{next(_sids):032x}"


def text(twilio: Twilio, sender: str, body: str, *, sid: str | None = None, **extra: str):
    """The volunteer at ``sender`` texts ``body`` to the line; returns Twilio's response."""
    params = {
        "MessageSid": sid or sms_sid(),
        "AccountSid": "AC" + "a1" * 16,
        "From": sender,
        "To": LINE_SMS,
        "Body": body,
        "NumMedia": "0",
        **extra,
    }
    return twilio.post("/twilio/sms", params)


def answers(response) -> list[str]:
    """The texts the TwiML sends back."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data(as_text=True))
    return [message.text or "" for message in root.iter("Message")]


def report(twilio: Twilio, message_sid: str, status: str, error_code: str = "", query: str = ""):
    """Twilio's delivery report for one of our messages."""
    params = {"MessageSid": message_sid, "MessageStatus": status, "AccountSid": "AC" + "a1" * 16}
    if error_code:
        params["ErrorCode"] = error_code
    return twilio.post("/twilio/sms/status" + query, params)


class Line:
    """The Leuven line in a test: volunteers, requests, offers, and the worker."""

    def __init__(self, app, engine, redis_conn, work, fake_twilio):
        self.app, self.engine, self.redis, self.work, self.fake = (
            app,
            engine,
            redis_conn,
            work,
            fake_twilio,
        )

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def volunteer(self, name: str, number: str, **fields) -> int:
        with self.session() as session:
            return make_volunteer(self.app, session, name=name, mobile_number=number, **fields).id

    def request(self, **fields) -> int:
        with self.session() as session:
            return make_request(self.app, session, **fields).id

    def offer(self, request_id: int, volunteer_id: int) -> Assignment:
        with self.app.app_context(), self.session() as session:
            return assign_volunteer(
                session,
                help_request=session.get(HelpRequest, request_id),
                volunteer=session.get(Volunteer, volunteer_id),
                operator_id=None,
                line=leuven(self.app),
            )

    def run(self) -> None:
        """Relay what the outbox holds and let a real worker (and rq's scheduler) run it."""
        with self.session() as session:
            relay_pending(session, self.redis)
        self.work()

    def sent_to(self, number: str) -> list[str]:
        return [m.form["Body"] for m in self.fake.messages if m.form["To"] == number]

    def get(self, model, row_id):
        with self.session() as session:
            return session.get(model, row_id)

    def assignments(self, request_id: int) -> dict[int, str]:
        with self.session() as session:
            rows = session.exec(select(Assignment).where(Assignment.help_request_id == request_id))
            return {row.volunteer_id: row.status for row in rows}

    def actions(self, request_id: int) -> list[str]:
        with self.session() as session:
            return [event.action for event in history(session, help_request_id=request_id)]


@pytest.fixture
def line(app, redis_conn, work, fake_twilio) -> Line:
    return Line(app, app.extensions["hotline.engine"], redis_conn, work, fake_twilio)


# --- answering an offer ------------------------------------------------------------------


def test_a_volunteer_who_texts_ja_with_the_code_accepts_and_gets_what_she_needs(line, twilio):
    mia = line.volunteer("Mia Claes", MIA)
    request_id = line.request(message=f"Graag melk en brood. Bel me op {RESIDENT}.")
    offer = line.offer(request_id, mia)
    line.run()
    assert len(line.sent_to(MIA)) == 1  # the offer

    [details] = answers(text(twilio, MIA, f"JA {offer.code}"))

    assert line.get(Assignment, offer.id).status == "accepted"
    assert line.get(HelpRequest, request_id).status == "accepted"
    assert details.startswith("Leuven Helpt: dank u! Hulpvraag")
    assert "boodschappen of apotheek in 3000 Leuven, vandaag" in details
    assert "Graag melk en brood. Bel me op [number]." in details
    assert "016 27 27 72" in details  # how to reach the resident: through the line
    assert f"KLAAR {offer.code}" in details
    assert RESIDENT not in details and "0470 99" not in details
    assert "assignment:accepted" in line.actions(request_id)


@pytest.mark.parametrize(
    ("languages", "reply", "starts"),
    [
        (["nl"], "ja {code}", "Leuven Helpt: dank u!"),
        (["nl"], "Oké!", "Leuven Helpt: dank u!"),
        (["nl"], "{code}ja", "Leuven Helpt: dank u!"),
        (["fr"], "Oui, {code} !", "Leuven Helpt: merci!"),
        (["fr"], "D'accord", "Leuven Helpt: merci!"),
        (["fr"], "d’accord {code}", "Leuven Helpt: merci!"),
        (["en"], "Yes {code}", "Leuven Helpt: thank you!"),
        (["en"], "ok.", "Leuven Helpt: thank you!"),
    ],
)
def test_ja_is_understood_in_every_language_with_or_without_the_code(
    line, twilio, languages, reply, starts
):
    volunteer = line.volunteer("Mia", MIA, languages=languages)
    offer = line.offer(line.request(), volunteer)

    [answer] = answers(text(twilio, MIA, reply.format(code=offer.code)))

    assert answer.startswith(starts)
    assert line.get(Assignment, offer.id).status == "accepted"


def test_a_volunteer_who_texts_nee_is_replaced_by_the_next(line, twilio):
    mia = line.volunteer("Mia", MIA)
    jan = line.volunteer("Jan", JAN)
    request_id = line.request()
    offer = line.offer(request_id, mia)
    line.run()

    [answer] = answers(text(twilio, MIA, f"Nee {offer.code}, sorry"))
    line.run()

    assert answer == "Leuven Helpt: bedankt om het te laten weten. We vragen iemand anders."
    assert line.assignments(request_id) == {mia: "declined", jan: "offered"}
    assert line.get(HelpRequest, request_id).status == "assigned"
    [offer_to_jan] = line.sent_to(JAN)
    assert "nieuwe hulpvraag" in offer_to_jan


def test_non_and_no_decline_in_french_and_english(line, twilio):
    els = line.volunteer("Els", ELS, languages=["fr"])
    offer = line.offer(line.request(), els)

    [answer] = answers(text(twilio, ELS, f"NON {offer.code}"))

    assert answer.startswith("Leuven Helpt: merci de nous avoir prévenus")
    assert line.get(Assignment, offer.id).status == "declined"


def test_klaar_closes_the_request_with_a_thank_you(line, twilio):
    mia = line.volunteer("Mia", MIA)
    request_id = line.request()
    offer = line.offer(request_id, mia)
    answers(text(twilio, MIA, f"JA {offer.code}"))

    [answer] = answers(text(twilio, MIA, "klaar"))

    reference = line.get(HelpRequest, request_id).reference
    assert answer == f"Leuven Helpt: hartelijk dank voor uw hulp bij hulpvraag {reference}!"
    assert line.get(HelpRequest, request_id).status == "done"
    assert line.get(Assignment, offer.id).status == "done"


def test_nee_after_ja_gives_the_request_back_and_it_goes_to_the_next(line, twilio):
    mia = line.volunteer("Mia", MIA)
    jan = line.volunteer("Jan", JAN)
    request_id = line.request()
    offer = line.offer(request_id, mia)
    answers(text(twilio, MIA, "ja"))

    [answer] = answers(text(twilio, MIA, f"NEE {offer.code}"))

    assert "We zoeken iemand anders" in answer
    assert line.assignments(request_id) == {mia: "given_back", jan: "offered"}


def test_with_several_open_offers_and_no_code_the_volunteer_hears_the_codes(line, twilio):
    mia = line.volunteer("Mia", MIA)
    first = line.offer(line.request(category="groceries"), mia)
    second = line.offer(line.request(category="dog", postcode="3001"), mia)

    [answer] = answers(text(twilio, MIA, "ja"))

    assert f"{first.code} (boodschappen of apotheek, 3000)" in answer
    assert f"{second.code} (de hond uitlaten, 3001)" in answer
    assert f"bv. JA {first.code}" in answer
    assert line.get(Assignment, first.id).status == "offered"
    assert line.get(Assignment, second.id).status == "offered"


def test_a_wrong_code_lists_the_open_ones_and_an_old_code_says_it_is_closed(line, twilio):
    mia = line.volunteer("Mia", MIA)
    request_id = line.request()
    offer = line.offer(request_id, mia)
    wrong = "9999" if offer.code != "9999" else "9998"

    [unknown] = answers(text(twilio, MIA, f"ja {wrong}"))
    answers(text(twilio, MIA, f"klaar {offer.code}"))
    [closed] = answers(text(twilio, MIA, f"ja {offer.code}"))

    assert unknown == (
        f"Leuven Helpt: er is geen open hulpvraag met code {wrong} voor u. "
        f"Uw open codes: {offer.code}."
    )
    reference = line.get(HelpRequest, request_id).reference
    assert closed == f"Leuven Helpt: hulpvraag {reference} is niet meer open voor u. Bedankt!"


def test_anything_else_gets_a_kind_how_to_and_hulp_explains(line, twilio):
    mia = line.volunteer("Mia", MIA)
    offer = line.offer(line.request(), mia)

    [puzzled] = answers(text(twilio, MIA, "Wie is dit?"))
    [how_to] = answers(text(twilio, MIA, "hulp"))

    assert puzzled.startswith("Leuven Helpt: sorry, dat begreep ik niet.")
    assert f"bv. JA {offer.code}" in puzzled
    assert "STOP: geen sms meer" in how_to
    assert line.get(Assignment, offer.id).status == "offered"


def test_no_open_request_is_said_plainly(line, twilio):
    line.volunteer("Mia", MIA)

    assert answers(text(twilio, MIA, "JA")) == [
        "Leuven Helpt: u hebt op dit moment geen open hulpvraag. Bedankt!"
    ]


def test_an_unknown_number_gets_one_neutral_sentence_and_nothing_is_kept_of_it(
    line, twilio, db_session
):
    contacts_before = len(db_session.exec(select(Contact)).all())

    assert answers(text(twilio, "+32470123123", "JA 4821")) == [
        "Dit nummer ontvangt alleen antwoorden van geregistreerde vrijwilligers."
    ]
    assert len(db_session.exec(select(Contact)).all()) == contacts_before
    [stored] = db_session.exec(select(SmsMessage).where(SmsMessage.direction == "in")).all()
    assert stored.volunteer_id is None


def test_a_number_in_a_volunteers_text_is_stored_redacted(line, twilio, db_session):
    line.volunteer("Mia", MIA)

    text(twilio, MIA, "Bel mij op 0470 12 34 56 aub")

    [stored] = db_session.exec(select(SmsMessage).where(SmsMessage.direction == "in")).all()
    assert stored.body == "Bel mij op [number] aub"


def test_a_message_twilio_retries_is_handled_once_and_answered_the_same(line, twilio, db_session):
    mia = line.volunteer("Mia", MIA)
    request_id = line.request()
    offer = line.offer(request_id, mia)
    sid = sms_sid()

    first = text(twilio, MIA, f"JA {offer.code}", sid=sid)
    again = text(twilio, MIA, f"JA {offer.code}", sid=sid)

    assert again.get_data() == first.get_data()
    inbound = db_session.exec(select(SmsMessage).where(SmsMessage.message_sid == sid)).all()
    assert len(inbound) == 1
    assert line.actions(request_id).count("assignment:accepted") == 1


def test_the_answer_reports_its_delivery_to_the_status_url(line, twilio, db_session):
    mia = line.volunteer("Mia", MIA)
    line.offer(line.request(), mia)

    response = text(twilio, MIA, "ja")
    [message] = ET.fromstring(response.get_data(as_text=True)).iter("Message")
    action = message.get("action")
    assert action.startswith("https://hotline.example.org/twilio/sms/status?sms=")
    sid = sms_sid()
    assert (
        report(twilio, sid, "delivered", query=action.split("/twilio/sms/status")[1]).status_code
        == 204
    )

    details = db_session.exec(select(SmsMessage).where(SmsMessage.kind == "details")).one()
    assert (details.message_sid, details.status) == (sid, "delivered")


# --- STOP and START ----------------------------------------------------------------------


def test_after_stop_nothing_is_texted_until_start(line, twilio, db_session):
    mia = line.volunteer("Mia", MIA)

    assert answers(text(twilio, MIA, "STOP")) == []  # Twilio confirms it itself
    assert line.get(Volunteer, mia).sms_opted_out_at is not None
    offer = line.offer(line.request(), mia)
    line.run()
    assert line.sent_to(MIA) == []
    assert "sms_not_sent" in line.actions(offer.help_request_id)

    assert answers(text(twilio, MIA, "start")) == []
    assert line.get(Volunteer, mia).sms_opted_out_at is None
    line.offer(line.request(), mia)
    line.run()
    assert len(line.sent_to(MIA)) == 1


def test_advanced_opt_out_keywords_are_honoured_by_their_opt_out_type(line, twilio):
    mia = line.volunteer("Mia", MIA, languages=["fr"])

    assert answers(text(twilio, MIA, "ARRÊT", OptOutType="STOP")) == []
    assert line.get(Volunteer, mia).sms_opted_out_at is not None
    assert answers(text(twilio, MIA, "help", OptOutType="HELP")) == []  # the town's own text


def test_stop_inside_a_sentence_is_no_opt_out(line, twilio):
    mia = line.volunteer("Mia", MIA)

    answers(text(twilio, MIA, "stop met die berichten niet, ik help graag"))

    assert line.get(Volunteer, mia).sms_opted_out_at is None


def test_a_bare_yes_accepts_and_resubscribes_like_twilio_does(line, twilio):
    mia = line.volunteer("Mia", MIA, languages=["en"])
    answers(text(twilio, MIA, "STOP"))
    offer = line.offer(line.request(), mia)  # an operator asks her anyway (she may phone)

    [answer] = answers(text(twilio, MIA, "YES", OptOutType="START"))

    assert answer.startswith("Leuven Helpt: thank you!")
    assert line.get(Volunteer, mia).sms_opted_out_at is None
    assert line.get(Assignment, offer.id).status == "accepted"


def test_twilio_reporting_an_unsubscribed_volunteer_stops_the_sms_and_moves_on(line, twilio):
    mia = line.volunteer("Mia", MIA)
    jan = line.volunteer("Jan", JAN)
    request_id = line.request()
    line.offer(request_id, mia)
    line.fake.fail_next("Messages.json", status=400, code=21610, message="unsubscribed recipient")

    line.run()

    assert line.get(Volunteer, mia).sms_opted_out_at is not None
    assert line.assignments(request_id) == {mia: "undelivered", jan: "offered"}


# --- delivery reports --------------------------------------------------------------------


@pytest.mark.parametrize(
    "status", ["queued", "sending", "sent", "delivered", "undelivered", "failed"]
)
def test_every_delivery_status_is_recorded_on_the_message(line, twilio, db_session, status):
    mia = line.volunteer("Mia", MIA)
    line.offer(line.request(), mia)
    line.run()
    offer_sms = db_session.exec(select(SmsMessage).where(SmsMessage.kind == "offer")).one()

    response = report(
        twilio,
        offer_sms.message_sid,
        status,
        "30008" if status in ("undelivered", "failed") else "",
    )

    assert response.status_code == 204
    db_session.refresh(offer_sms)
    assert offer_sms.status == status


def test_a_late_sent_report_does_not_undo_delivered(line, twilio, db_session):
    mia = line.volunteer("Mia", MIA)
    line.offer(line.request(), mia)
    line.run()
    offer_sms = db_session.exec(select(SmsMessage).where(SmsMessage.kind == "offer")).one()

    report(twilio, offer_sms.message_sid, "delivered")
    report(twilio, offer_sms.message_sid, "sent")

    db_session.refresh(offer_sms)
    assert offer_sms.status == "delivered"


@pytest.mark.parametrize("code", ["30003", "30005", "30006", "21614"])
def test_an_offer_that_cannot_be_delivered_moves_on_and_shows_in_the_history(
    line, twilio, db_session, code
):
    mia = line.volunteer("Mia", MIA)
    jan = line.volunteer("Jan", JAN)
    request_id = line.request()
    offer = line.offer(request_id, mia)
    line.run()
    offer_sms = db_session.exec(
        select(SmsMessage).where(SmsMessage.assignment_id == offer.id)
    ).one()

    report(twilio, offer_sms.message_sid, "undelivered", code)
    line.run()

    assert line.assignments(request_id) == {mia: "undelivered", jan: "offered"}
    [event] = db_session.exec(
        select(AuditEvent).where(AuditEvent.action == "assignment:undelivered")
    ).all()
    assert event.detail["code"] == int(code)
    assert len(line.sent_to(JAN)) == 1


def test_malformed_sms_webhooks_get_a_4xx_and_change_nothing(line, twilio, db_session):
    line.volunteer("Mia", MIA)

    assert twilio.post("/twilio/sms", {"From": MIA, "Body": "JA"}).status_code == 400
    assert twilio.post("/twilio/sms", {"MessageSid": "SM../x", "From": MIA}).status_code == 400
    assert report(twilio, "SM" + "0" * 32, "exploded").status_code == 400
    forged = twilio.post(
        "/twilio/sms", {"MessageSid": sms_sid(), "From": MIA, "Body": "JA"}, signature="forged"
    )
    assert forged.status_code == 403
    assert db_session.exec(select(SmsMessage)).all() == []


# --- offers that move on by themselves ---------------------------------------------------


# Timers of a few seconds: long enough that a busy machine does not run the next one early.
TIMER = 3


@pytest.mark.parametrize("line_keys", [{"offer_expiry": f'"{TIMER}s"'}])
def test_an_offer_nobody_answers_expires_and_goes_to_the_next(line, twilio, line_keys):
    mia = line.volunteer("Mia", MIA)
    jan = line.volunteer("Jan", JAN)
    request_id = line.request()
    line.offer(request_id, mia)
    line.run()

    time.sleep(TIMER + 0.5)
    line.run()  # rq's scheduler queues the expiry that is due; the worker runs it

    assert line.assignments(request_id) == {mia: "expired", jan: "offered"}
    assert len(line.sent_to(JAN)) == 1


@pytest.mark.parametrize("line_keys", [{"max_offers": "2"}])
def test_after_the_last_offer_the_request_goes_back_to_the_queue_flagged(line, twilio, line_keys):
    volunteers = [line.volunteer("Mia", MIA), line.volunteer("Jan", JAN)]
    volunteers.append(line.volunteer("Els", ELS, postcode="3001"))  # ranks after Jan
    request_id = line.request()
    line.offer(request_id, volunteers[0])
    answers(text(twilio, MIA, "nee"))

    answers(text(twilio, JAN, "nee"))

    help_request = line.get(HelpRequest, request_id)
    assert (help_request.status, help_request.no_volunteer_at is not None) == ("triaged", True)
    assert volunteers[2] not in line.assignments(request_id)  # max_offers = 2
    assert "no_volunteer_found" in line.actions(request_id)


@pytest.mark.parametrize("line_keys", [{"auto_offer": "false"}])
def test_without_auto_offer_a_decline_just_goes_back_to_triage(line, twilio, line_keys):
    mia = line.volunteer("Mia", MIA)
    line.volunteer("Jan", JAN)
    request_id = line.request()
    line.offer(request_id, mia)

    answers(text(twilio, MIA, "nee"))

    assert line.assignments(request_id) == {mia: "declined"}
    assert line.get(HelpRequest, request_id).status == "triaged"


@pytest.mark.parametrize("line_keys", [{"offers_at_once": "2"}])
def test_two_ja_in_the_same_second_end_with_exactly_one_accepted_offer(
    app, line, line_keys, redis_conn
):
    mia = line.volunteer("Mia", MIA)
    line.volunteer("Jan", JAN)
    request_id = line.request()
    with app.app_context(), line.session() as session:
        from hotline.messaging.offers import offer_next

        offer_next(
            session,
            help_request=session.get(HelpRequest, request_id),
            line=leuven(app),
            operator_id=None,
        )
        session.commit()
    line.run()  # both offers go out
    assert set(line.assignments(request_id).values()) == {"offered"}

    start, results = threading.Barrier(2), {}

    def say_ja(number: str) -> None:
        phone = Twilio(app)
        start.wait()
        results[number] = answers(text(phone, number, "JA"))

    threads = [threading.Thread(target=say_ja, args=(number,)) for number in (MIA, JAN)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = line.assignments(request_id)
    assert sorted(statuses.values()) == ["accepted", "cancelled"]
    winner = MIA if statuses[mia] == "accepted" else JAN
    loser = JAN if winner == MIA else MIA
    assert results[winner][0].startswith("Leuven Helpt: dank u!")
    assert "al opgenomen door een andere vrijwilliger" in results[loser][0]
    assert line.actions(request_id).count("assignment:accepted") == 1
    assert line.get(HelpRequest, request_id).status == "accepted"


@pytest.mark.parametrize("line_keys", [{"offers_at_once": "2"}])
def test_the_others_asked_at_once_hear_it_is_taken(app, line, twilio, line_keys):
    mia = line.volunteer("Mia", MIA)
    jan = line.volunteer("Jan", JAN)
    request_id = line.request()
    first = line.offer(request_id, mia)
    line.offer(request_id, jan)
    line.run()

    answers(text(twilio, MIA, f"ja {first.code}"))
    line.run()

    assert line.assignments(request_id) == {mia: "accepted", jan: "cancelled"}
    assert "al opgenomen door een andere vrijwilliger" in line.sent_to(JAN)[-1]


@pytest.mark.parametrize(
    "line_keys", [{"reminder_after": f'"{TIMER}s"', "follow_up_after": f'"{TIMER}s"'}]
)
def test_a_volunteer_without_klaar_is_reminded_and_then_operators_follow_up(line, twilio):
    mia = line.volunteer("Mia", MIA)
    request_id = line.request()
    offer = line.offer(request_id, mia)
    line.run()
    answers(text(twilio, MIA, "ja"))
    line.run()

    time.sleep(TIMER + 0.5)
    line.run()  # the reminder
    [reminder] = [body for body in line.sent_to(MIA) if "lukt het" in body]
    assert f"KLAAR {offer.code}" in reminder
    assert line.get(HelpRequest, request_id).follow_up_at is None

    time.sleep(TIMER + 0.5)
    line.run()  # still nothing: operators follow up
    assert line.get(HelpRequest, request_id).follow_up_at is not None
    assert "needs_follow_up" in line.actions(request_id)

    answers(text(twilio, MIA, "klaar"))
    assert line.get(HelpRequest, request_id).follow_up_at is None


def test_no_text_to_a_volunteer_ever_holds_the_residents_number(line, twilio, db_session):
    mia = line.volunteer("Mia", MIA)
    request_id = line.request(message="Mijn nummer is 0470 99 98 88, bel maar")
    line.offer(request_id, mia)
    line.run()
    answers(text(twilio, MIA, "ja"))
    answers(text(twilio, MIA, "klaar"))

    bodies = [m.body for m in db_session.exec(select(SmsMessage)).all()] + line.sent_to(MIA)
    assert bodies
    for body in bodies:
        assert "0470 99 98 88" not in body and RESIDENT not in body


MESSAGING_SERVICE = "MG" + "5e" * 16


@pytest.mark.parametrize(
    "line_keys", [{"sms_from": '""', "messaging_service_sid": f'"{MESSAGING_SERVICE}"'}]
)
def test_a_line_with_a_messaging_service_sends_through_it(line, twilio, line_keys):
    mia = line.volunteer("Mia", MIA)
    offer = line.offer(line.request(), mia)
    line.run()

    [sms] = line.fake.messages
    assert sms.form["MessagingServiceSid"] == MESSAGING_SERVICE
    assert "From" not in sms.form
    reply = text(twilio, MIA, "ja", To="+32470000001", MessagingServiceSid=MESSAGING_SERVICE)
    assert answers(reply)[0].startswith("Leuven Helpt: dank u!")
    assert line.get(Assignment, offer.id).status == "accepted"


def test_stop_passes_her_open_offers_to_the_next_volunteer(line, twilio):
    mia = line.volunteer("Mia", MIA)
    jan = line.volunteer("Jan", JAN)
    request_id = line.request()
    line.offer(request_id, mia)

    answers(text(twilio, MIA, "stop"))

    assert line.assignments(request_id) == {mia: "undelivered", jan: "offered"}


def test_klaar_without_a_code_never_finishes_an_offer_not_yet_accepted(line, twilio):
    mia = line.volunteer("Mia", MIA)
    request_id = line.request()
    offer = line.offer(request_id, mia)

    [answer] = answers(text(twilio, MIA, "Klaar hoor!"))

    assert answer == "Leuven Helpt: u hebt op dit moment geen open hulpvraag. Bedankt!"
    assert line.get(Assignment, offer.id).status == "offered"


def test_a_reply_that_turns_itself_around_gets_the_how_to(line, twilio):
    mia = line.volunteer("Mia", MIA)
    request_id = line.request()
    line.offer(request_id, mia)
    answers(text(twilio, MIA, "ja"))

    [answer] = answers(text(twilio, MIA, "nog niet klaar, morgen"))

    assert answer.startswith("Leuven Helpt: sorry, dat begreep ik niet.")
    assert line.get(HelpRequest, request_id).status == "accepted"


def test_a_postcode_in_the_answer_is_not_taken_for_the_code(line, twilio):
    mia = line.volunteer("Mia", MIA)
    offer = line.offer(line.request(), mia)

    answers(text(twilio, MIA, f"Ja, voor 3000 Leuven: {offer.code}"))

    assert line.get(Assignment, offer.id).status == "accepted"


def test_a_delivery_report_before_the_send_job_committed_is_kept(line, twilio, db_session):
    mia = line.volunteer("Mia", MIA)
    line.offer(line.request(), mia)
    line.run()
    offer_sms = db_session.exec(select(SmsMessage).where(SmsMessage.kind == "offer")).one()
    [sent] = line.fake.messages
    assert sent.form["StatusCallback"].endswith(f"?sms={offer_sms.id}")

    report(twilio, offer_sms.message_sid, "delivered")
    report(twilio, offer_sms.message_sid, "failed", "30008")  # a final status stays

    db_session.refresh(offer_sms)
    assert offer_sms.status == "delivered"


@pytest.mark.parametrize("error_code", ["²", "١٢", "9" * 40])
def test_odd_numbers_in_a_delivery_report_are_no_500(line, twilio, error_code):
    response = twilio.post(
        "/twilio/sms/status?sms=" + error_code,
        {"MessageSid": "SM" + "1" * 32, "MessageStatus": "failed", "ErrorCode": error_code},
    )
    assert response.status_code == 204


def test_a_nul_character_in_a_text_is_no_500(line, twilio):
    line.volunteer("Mia", MIA)

    assert answers(text(twilio, MIA, "ja\x00\x07 4821"))


def test_operators_read_undelivered_texts_and_stop_in_plain_words(
    line, twilio, db_session, operator
):
    mia = line.volunteer("Mia", MIA)
    line.volunteer("Jan", JAN)
    request_id = line.request()
    offer = line.offer(request_id, mia)
    line.run()
    offer_sms = db_session.exec(
        select(SmsMessage).where(SmsMessage.assignment_id == offer.id)
    ).one()
    report(twilio, offer_sms.message_sid, "undelivered", "30003")
    answers(text(twilio, MIA, "STOP"))

    page = operator.get(f"/requests/{request_id}").get_data(as_text=True)
    volunteer_page = operator.get(f"/volunteers/{mia}").get_data(as_text=True)

    assert "could not be delivered: the phone is off or out of reach" in page
    assert "sms_undelivered" not in page
    assert "Does not want SMS any more (texted STOP)" in volunteer_page
    assert "sms_opted_out" not in volunteer_page
    assert MIA not in page + volunteer_page and "0470 11 10 01" not in page + volunteer_page
