"""An operator's phone picks up a caller: the call appears on their page, and one form saves it.

Each test plays Twilio (signed webhooks: the call comes in, the caller walks the menu and
presses 0 and waits in the line's queue; the line rings the operators' phones through
the sandbox's Calls API, one picks up and is put through; the call ends) and an operator
in the call centre (the htmx poll of /calls/taken, the card's form). The line is open day
and night and rings Olga's own phone and Piet's, which are in the vault like every number.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlmodel import Session, select

from hotline.access.accounts import create_operator
from hotline.audit import record
from hotline.db import line_row
from hotline.models import AuditEvent, CallSession, HelpRequest, Operator
from tests.conftest import LEUVEN_NUMBER, ROOT, STAFF_PASSWORD, StaffClient, Twilio
from tests.operator_phones import OperatorPhones, legs
from tests.test_callbacks import OLGAS_PHONE, give_phone

pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

CALLER = "+32470123456"
PIETS_PHONE = "+32470111222"
NUMBER_DIGITS = ("470123456", "470999888", "0470 12", "0470 99", "+32")
HTMX = {"HX-Request": "true"}
SEEN = re.compile(r'id="live-calls-seen" name="seen" value="([^"]*)"')


def write_config(folder: Path) -> Path:
    """The repository's config.toml, open around the clock, ringing Olga's and Piet's phones."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    for key, value in {
        "flows_dir": json.dumps(str(ROOT / "ivr_flows")),
        "opening_hours": '"00:00-24:00"',
        "operator_numbers": json.dumps([OLGAS_PHONE, PIETS_PHONE]),
    }.items():
        text, found = re.subn(rf"^{key} = .*$", f"{key} = {value}", text, flags=re.MULTILINE)
        assert found == 1, key
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.toml").write_text(text, encoding="utf-8")
    return folder / "config.toml"


@pytest.fixture
def app_config(app_config, tmp_path, fake_twilio):
    return fake_twilio.configure({**app_config, "config_file": write_config(tmp_path / "open")})


@pytest.fixture(autouse=True)
def _operator_phones(monkeypatch, twilio, fake_twilio, work):
    """Callers of this module reach the line's operator phones through the sandbox."""
    monkeypatch.setattr(Caller, "phones", OperatorPhones(twilio, fake_twilio), raising=False)
    monkeypatch.setattr(Caller, "work", staticmethod(work), raising=False)


@pytest.fixture
def olgas_phone(app, staff):
    """Olga put her own phone number on her profile page."""
    give_phone(app, staff["olga"])


class Caller:
    """A resident on the phone, webhook by webhook, as Twilio reports the call."""

    def __init__(self, twilio: Twilio, digit: str = "1", number: str = CALLER):
        self.twilio = twilio
        self.sid = "CA" + digit * 32
        self.params = {"CallSid": self.sid, "From": number, "To": LEUVEN_NUMBER,
                       "AccountSid": "AC" + "0" * 32, "Direction": "inbound"}  # fmt: skip
        self.answer = ""

    def _post(self, path: str, **extra: str) -> str:
        response = self.twilio.post(path, {**self.params, **extra})
        assert response.status_code in (200, 204), response.get_data(as_text=True)
        return response.get_data(as_text=True)

    def dials(self) -> Caller:
        self.answer = self._post("/twilio/voice", CallStatus="ringing")
        return self

    def presses(self, *keys: str) -> Caller:
        for key in keys:
            action = re.findall(r'action="([^"]+)"', self.answer)[-1].replace("&amp;", "&")
            self.answer = self._post(action, **({"Digits": key} if key else {}))
        return self

    def is_answered_by(self, phone: str) -> str:
        """The line rings its operators' phones (the worker); ``phone`` picks up, hears the
        whisper, and Twilio puts it through to this caller, first in the queue."""
        assert "<Enqueue" in self.answer
        self.work()
        leg = [leg for leg in legs(self.phones.fake) if leg.phone == phone][-1]
        picked_up = self.phones.picks_up(leg)
        self.phones.puts_through(picked_up, leg, self.sid)
        return picked_up.body.decode()

    def hangs_up(self) -> None:
        self._post("/twilio/voice/status", CallStatus="completed", CallDuration="95")


def groceries_in_leuven_then_0(twilio) -> Caller:
    """Dutch, I need help, groceries, 3000, and at the urgency question: 0, a person please."""
    return Caller(twilio).dials().presses("1", "1", "1", "3000", "0")


def poll(client: StaffClient, seen: str = "-"):
    """What the page's poller asks every 2 seconds (``seen``: the cards the page shows)."""
    return client.get(f"/calls/taken?seen={seen}", headers=HTMX)


def seen_in(fragment: str) -> str:
    return SEEN.search(fragment).group(1)


def call_session(db_session, caller: Caller) -> CallSession:
    db_session.expire_all()
    return db_session.exec(select(CallSession).where(CallSession.call_sid == caller.sid)).one()


def words(page: str) -> str:
    """A page's text with its line breaks and indentation folded into single spaces."""
    return " ".join(page.split())


def shows_no_number(text: str) -> bool:
    return not any(digits in text for digits in (CALLER, OLGAS_PHONE, *NUMBER_DIGITS))


def test_the_operator_who_answers_sees_what_the_menu_collected_and_never_a_number(
    app, twilio, operator, olgas_phone
):
    assert 'id="live-calls"' in operator.get("/requests/").get_data(as_text=True)
    assert poll(operator).status_code == 200  # a fresh page learns there is nothing yet
    assert poll(operator, seen="").status_code == 204

    caller = groceries_in_leuven_then_0(twilio)
    caller.is_answered_by(OLGAS_PHONE)
    response = poll(operator, seen="")

    assert response.status_code == 200
    card = response.get_data(as_text=True)
    assert "Live call" in card
    assert "Leuven Helpt" in card
    assert "Dutch" in card and "groceries or pharmacy" in card and "3000 Leuven" in card
    assert "no, this is the first time" in card
    assert "possible: we have the caller's number" in card
    assert "Save request" in card
    assert 'name="csrf_token"' in card
    assert shows_no_number(card)
    # The form is filled in with what the caller pressed; the urgency is for Olga to ask.
    assert re.search(r'<option selected value="groceries">', card)
    assert re.search(r'<option selected value="3000">', card)
    assert re.search(r'<option selected value="nl">', card)
    # Screen readers hear that a call came in.
    assert "Live call: Dutch, groceries or pharmacy, 3000 Leuven." in card
    # Nothing changes while they talk: the page keeps its card and its form untouched.
    assert poll(operator, seen=seen_in(card)).status_code == 204


def test_saving_the_card_creates_the_request_with_the_callers_number_linked_not_typed(
    app, twilio, operator, staff, olgas_phone, db_session
):
    caller = groceries_in_leuven_then_0(twilio)
    caller.is_answered_by(OLGAS_PHONE)
    call_id = call_session(db_session, caller).id

    response = operator.post(
        f"/calls/{call_id}/log",
        {"language": "nl", "category": "groceries", "postcode": "3010", "urgency": "today",
         "notes": "Bread and milk. Her son's number is 0471 22 33 44."},
        headers=HTMX,
    )  # fmt: skip

    help_request = db_session.exec(select(HelpRequest)).one()
    assert response.headers["HX-Redirect"] == f"/requests/{help_request.id}"
    call = call_session(db_session, caller)
    assert help_request.contact_id == call.contact_id is not None
    assert call.help_request_id == help_request.id
    assert help_request.source == "live"
    assert (help_request.category, help_request.postcode, help_request.urgency) == (
        "groceries", "3010", "today",
    )  # fmt: skip
    assert help_request.notes == "Bread and milk. Her son's number is [number]."
    [logged] = db_session.exec(select(AuditEvent).where(AuditEvent.action == "call_taken")).all()
    assert logged.operator_id == staff["olga"] and logged.help_request_id == help_request.id
    page = words(operator.get(f"/requests/{help_request.id}").get_data(as_text=True))
    assert f"Request {help_request.reference} saved." in page
    assert "Olga Peeters · answered the call and saved this request" in page
    assert shows_no_number(page)

    # While the caller is still on the line, the card points at the request, without a form.
    card = poll(operator, seen="").get_data(as_text=True)
    assert "This call has a request:" in card and help_request.reference in card
    assert f'id="call-{call_id}-form"' not in card
    # When they hang up, the card goes: nothing is left to do.
    caller.hangs_up()
    gone = poll(operator, seen=seen_in(card)).get_data(as_text=True)
    assert f'<div id="call-{call_id}" hx-swap-oob="delete">' in gone
    assert seen_in(gone) == ""
    # Saving twice (a second tab) says so and leads to the request.
    again = operator.post(f"/calls/{call_id}/log", {"language": "nl"})
    assert again.headers["Location"] == f"/requests/{help_request.id}"
    assert len(db_session.exec(select(HelpRequest)).all()) == 1


def test_a_call_that_ends_unsaved_stays_as_taken_not_logged_without_disturbing_the_form(
    app, twilio, operator, olgas_phone, db_session
):
    caller = groceries_in_leuven_then_0(twilio)
    caller.is_answered_by(OLGAS_PHONE)
    call_id = call_session(db_session, caller).id
    seen = seen_in(poll(operator, seen="").get_data(as_text=True))

    caller.hangs_up()
    update = poll(operator, seen=seen).get_data(as_text=True)

    assert db_session.exec(select(HelpRequest)).all() == []  # Olga's to log, not a call-back
    # Only the card's header and its button's label change: the form Olga may be typing
    # in is not sent again, so she keeps her text and her place.
    assert f'id="call-{call_id}-state" class="call-state ended" hx-swap-oob="true"' in update
    assert "Call taken, not logged" in update
    assert f'<span id="call-{call_id}-save" hx-swap-oob="true">Complete</span>' in update
    assert "Dismiss" in update
    assert f'id="call-{call_id}-form"' not in update
    assert "The call has ended and is not logged yet." in update
    # A page opened now shows the whole card, with the form to complete.
    card = poll(operator).get_data(as_text=True)
    assert "Call taken, not logged" in card and f'id="call-{call_id}-form"' in card
    assert ">Complete</span>" in card


def test_a_call_taken_but_not_logged_can_be_completed_later(
    app, twilio, operator, olgas_phone, db_session
):
    caller = groceries_in_leuven_then_0(twilio)
    caller.is_answered_by(OLGAS_PHONE)
    caller.hangs_up()
    call_id = call_session(db_session, caller).id

    response = operator.post(
        f"/calls/{call_id}/log",
        {"language": "nl", "category": "meal", "postcode": "3000", "urgency": "coming_days"},
    )

    help_request = db_session.exec(select(HelpRequest)).one()
    assert response.status_code == 302
    assert response.headers["Location"] == f"/requests/{help_request.id}"
    assert help_request.category == "meal" and help_request.source == "live"
    assert help_request.contact_id == call_session(db_session, caller).contact_id
    assert poll(operator, seen="").status_code == 204  # nothing left on Olga's page


def test_dismissing_a_call_taken_but_not_logged_removes_its_card(
    app, twilio, operator, olgas_phone, db_session
):
    caller = groceries_in_leuven_then_0(twilio)
    caller.is_answered_by(OLGAS_PHONE)
    caller.hangs_up()
    call_id = call_session(db_session, caller).id
    seen = seen_in(poll(operator, seen="").get_data(as_text=True))

    response = operator.post(f"/calls/{call_id}/dismiss", {"seen": seen}, headers=HTMX)

    assert response.status_code == 200
    update = response.get_data(as_text=True)
    assert f'<div id="call-{call_id}" hx-swap-oob="delete">' in update
    assert "Call dismissed." in update
    assert seen_in(update) == ""
    assert call_session(db_session, caller).dismissed_at is not None
    assert poll(operator, seen="").status_code == 204
    assert db_session.exec(select(HelpRequest)).all() == []


def test_a_live_call_cannot_be_dismissed_while_the_caller_is_on_the_line(
    app, twilio, operator, olgas_phone, db_session
):
    caller = groceries_in_leuven_then_0(twilio)
    caller.is_answered_by(OLGAS_PHONE)
    card = poll(operator).get_data(as_text=True)

    assert "Dismiss" not in card
    # Even posted by hand: a dismissed live call would be neither logged nor called back.
    call_id = call_session(db_session, caller).id
    response = operator.post(f"/calls/{call_id}/dismiss")
    assert response.status_code == 302
    db_session.rollback()
    assert call_session(db_session, caller).dismissed_at is None
    caller.hangs_up()
    assert operator.post(f"/calls/{call_id}/dismiss").status_code == 302
    db_session.rollback()
    assert call_session(db_session, caller).dismissed_at is not None


def test_another_operator_does_not_see_or_touch_someone_elses_call(
    app, twilio, operator, coordinator, olgas_phone, db_session
):
    caller = groceries_in_leuven_then_0(twilio)
    caller.is_answered_by(OLGAS_PHONE)
    call_id = call_session(db_session, caller).id

    assert poll(coordinator, seen="").status_code == 204
    assert coordinator.post(f"/calls/{call_id}/log", {"language": "nl"}).status_code == 404
    caller.hangs_up()
    assert coordinator.post(f"/calls/{call_id}/dismiss").status_code == 404
    assert poll(coordinator, seen="").status_code == 204
    assert operator.post("/calls/999999/log", {"language": "nl"}).status_code == 404
    assert db_session.exec(select(HelpRequest)).all() == []
    assert call_session(db_session, caller).dismissed_at is None


def test_saving_or_dismissing_a_call_needs_the_csrf_token(
    app, twilio, operator, olgas_phone, db_session
):
    caller = groceries_in_leuven_then_0(twilio)
    caller.is_answered_by(OLGAS_PHONE)
    call_id = call_session(db_session, caller).id

    saved = operator.post(f"/calls/{call_id}/log", {"language": "nl", "csrf_token": None})
    caller.hangs_up()
    dismissed = operator.post(f"/calls/{call_id}/dismiss", {"csrf_token": None})

    assert saved.status_code == dismissed.status_code == 400
    assert db_session.exec(select(HelpRequest)).all() == []
    assert call_session(db_session, caller).dismissed_at is None


def test_a_mistake_in_the_form_comes_back_marked_in_place(
    app, twilio, operator, olgas_phone, db_session
):
    caller = groceries_in_leuven_then_0(twilio)
    caller.is_answered_by(OLGAS_PHONE)
    call_id = call_session(db_session, caller).id

    response = operator.post(
        f"/calls/{call_id}/log", {"language": "nl", "postcode": "1000"}, headers=HTMX
    )

    assert response.status_code == 422
    form = response.get_data(as_text=True)
    assert form.strip().startswith(f'<form id="call-{call_id}-form"')  # only the form, in place
    assert "Please correct the marked fields." in form
    assert db_session.exec(select(HelpRequest)).all() == []


def test_the_card_says_when_the_caller_has_called_before_and_links_their_requests(
    app, twilio, operator, olgas_phone, db_session
):
    # Last week: groceries today in 3000, no message (a request with a reference).
    Caller(twilio, digit="2").dials().presses("1", "1", "1", "3000", "1", "")
    earlier = db_session.exec(select(HelpRequest)).one()

    caller = groceries_in_leuven_then_0(twilio)
    caller.is_answered_by(OLGAS_PHONE)
    card = poll(operator).get_data(as_text=True)

    assert f'<a href="/requests/{earlier.id}">{earlier.reference}</a>' in card
    assert shows_no_number(card)


def test_a_caller_who_withheld_their_number_cannot_be_called_back_and_the_card_says_so(
    app, twilio, operator, olgas_phone, db_session
):
    caller = Caller(twilio, number="anonymous").dials().presses("1", "1", "1", "3000", "0")
    caller.is_answered_by(OLGAS_PHONE)
    card = poll(operator).get_data(as_text=True)

    assert "not possible: we have no number" in card
    assert "unknown (the caller withheld their number)" in card


def test_the_card_speaks_the_operators_language(app, twilio, operator, staff, olgas_phone):
    with Session(app.extensions["hotline.engine"]) as session:
        olga = session.get(Operator, staff["olga"])
        olga.locale = "nl"
        session.add(olga)
        session.commit()
    groceries_in_leuven_then_0(twilio).is_answered_by(OLGAS_PHONE)

    card = poll(operator).get_data(as_text=True)

    assert "Live oproep" in card and "Nederlands" in card and "Hulpvraag opslaan" in card


def test_the_call_is_on_the_page_of_the_operator_whose_phone_answered_it(
    app, twilio, staff, olgas_phone, db_session
):
    with Session(app.extensions["hotline.engine"]) as session:
        piet = create_operator(session, username="piet", display_name="Piet Maes",
                               password=STAFF_PASSWORD, locale="en")  # fmt: skip
        piet_id = piet.id
    give_phone(app, piet_id, PIETS_PHONE)
    piet = StaffClient(app, "piet")
    olga = StaffClient(app, "olga")
    caller = groceries_in_leuven_then_0(twilio)

    caller.is_answered_by(PIETS_PHONE)  # the line rang both; Piet's picked up first

    assert "Live call" in poll(piet).get_data(as_text=True)
    assert poll(olga, seen="").status_code == 204


def test_the_call_backs_list_shows_how_often_and_when_a_request_was_called_back(
    app, operator, staff, db_session
):
    settings = app.extensions["hotline.settings"]
    line = line_row(db_session, settings, "leuven")
    tried = HelpRequest(line_id=line.id, reference="482913", source="callback", category="meal")
    untried = HelpRequest(line_id=line.id, reference="517204", source="callback")
    db_session.add_all([tried, untried])
    db_session.commit()
    for outcome in ("connected", "not_answered"):
        record(db_session, "call_back", operator_id=staff["olga"], help_request_id=tried.id,
               call_sid="CA" + "0" * 32)  # fmt: skip
        record(db_session, "call_back_result", operator_id=staff["olga"],
               help_request_id=tried.id, outcome=outcome)  # fmt: skip
    db_session.commit()

    page = operator.get("/requests/call-backs").get_data(as_text=True)

    assert "Attempts" in page and "Last tried" in page
    row = re.search(r'data-reference="482913">.*?</tr>', page, re.DOTALL).group(0)
    assert '<td class="attempts">2</td>' in row
    assert "not answered" in row
    other = re.search(r'data-reference="517204">.*?</tr>', page, re.DOTALL).group(0)
    assert '<td class="attempts">0</td>' in other and "not yet" in other
    # The poll of the list keeps the columns; the main queue has none of them.
    rows = operator.get("/requests/call-backs", headers=HTMX).get_data(as_text=True)
    assert '<td class="attempts">2</td>' in rows
    assert "Attempts" not in operator.get("/requests/").get_data(as_text=True)


def test_call_backs_and_masked_calls_are_in_the_requests_history_in_words(
    app, operator, staff, db_session
):
    line = line_row(db_session, app.extensions["hotline.settings"], "leuven")
    help_request = HelpRequest(line_id=line.id, reference="482913", source="callback")
    db_session.add(help_request)
    db_session.commit()
    record(db_session, "call_back_result", operator_id=staff["olga"],
           help_request_id=help_request.id, outcome="not_confirmed")  # fmt: skip
    for direction, outcome in [("volunteer_to_resident", "connected"),
                               ("resident_to_volunteer", "not_answered")]:  # fmt: skip
        record(db_session, "masked_call", operator_id=None, help_request_id=help_request.id,
               direction=direction, outcome=outcome, call_sid="CA" + "0" * 32)  # fmt: skip
    db_session.commit()

    history = words(operator.get(f"/requests/{help_request.id}").get_data(as_text=True))

    assert "Olga Peeters · call-back: not confirmed by the operator" in history
    assert "The volunteer called the resident through the hotline: put through" in history
    assert "The resident called the volunteer through the hotline: not answered" in history
    assert "masked call" not in history and "call back result" not in history


def test_an_account_limited_to_another_line_whose_phone_answers_does_not_take_the_call(
    app, twilio, db_session
):
    with Session(app.extensions["hotline.engine"]) as session:
        tienen = create_operator(
            session, username="tine", display_name="Tine", password=STAFF_PASSWORD,
            locale="en", lines=["tienen"],
        ).id  # fmt: skip
    give_phone(app, tienen)
    tine = StaffClient(app, "tine")
    caller = groceries_in_leuven_then_0(twilio)
    caller.is_answered_by(OLGAS_PHONE)

    session_row = call_session(db_session, caller)
    assert session_row.answered_by_id is None  # a Leuven call: not Tine's
    assert poll(tine, seen="").status_code == 204  # and not on her page
    assert tine.post(f"/calls/{session_row.id}/log", {"language": "nl"}).status_code == 404
    assert db_session.exec(select(HelpRequest)).all() == []
