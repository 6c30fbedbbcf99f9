"""An operator opens the queue and reads, top to bottom, what she has to do (issue #11).

What needs action comes first (a request stuck because no volunteer was found, an offer
that fell through, a volunteer who never reported done; then new and triaged requests),
what is in hand after it (offered, accepted). Every row says what it waits for and since
when, in her language; a request that came in since her page last looked is announced to
her screen reader and lit up on screen.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session

from hotline.db import line_row
from hotline.dispatch import new_assignment_code
from hotline.intake import create_help_request
from hotline.models import Assignment, HelpRequest, Operator, Volunteer, utcnow


def references(html: str) -> list[str]:
    return re.findall(r'<tr id="request-\d+"[^>]*data-reference="(\d{6})"', html)


def row_of(html: str, reference: str) -> str:
    return re.search(rf'data-reference="{reference}">(.*?)</tr>', html, re.S).group(1)


def waiting_of(html: str, reference: str) -> str:
    return re.search(r'<td class="waiting">(.*?)</td>', row_of(html, reference)).group(1)


@pytest.fixture
def a_morning(app, db_session):
    """Seven requests of one morning, each at another point of its life: {what: reference}."""
    settings = app.extensions["hotline.settings"]
    now = utcnow()  # when the test runs, not when the file was collected minutes before
    line = line_row(db_session, settings, "leuven")
    marie = Volunteer(line_id=line.id, name="Marie Claes", postcode="3000", languages=["nl"])
    db_session.add(marie)
    db_session.flush()

    def request(minutes_ago: int, *, status: str = "new", urgency: str = "today", **fields):
        help_request = create_help_request(
            db_session, line=line, contact=None, language="fr", category="meal",
            postcode="3000", urgency=urgency,
        )  # fmt: skip
        help_request.created_at = now - timedelta(minutes=minutes_ago)
        help_request.status = status
        for field, value in fields.items():
            setattr(help_request, field, value)
        db_session.add(help_request)
        db_session.flush()
        return help_request

    def offer(help_request: HelpRequest, status: str, minutes_ago: int) -> None:
        db_session.add(
            Assignment(
                help_request_id=help_request.id,
                volunteer_id=marie.id,
                code=new_assignment_code(db_session, volunteer_id=marie.id),
                status=status,
                created_at=now - timedelta(minutes=minutes_ago + 5),
                responded_at=now - timedelta(minutes=minutes_ago) if status != "offered" else None,
            )
        )

    morning = {
        "accepted": request(300, status="accepted", assigned_at=now),
        "offered": request(240, status="assigned", assigned_at=now),
        "new": request(12),
        "triaged, later": request(90, status="triaged", urgency="coming_days"),
        "offer fell through": request(200, status="triaged", assigned_at=now),
        "no volunteer found": request(60, status="triaged", no_volunteer_at=now),
        "not reported done": request(
            2000, status="accepted", assigned_at=now, follow_up_at=now, urgency="coming_days"
        ),
    }
    offer(morning["accepted"], "accepted", 120)
    offer(morning["not reported done"], "accepted", 1800)
    offer(morning["offered"], "offered", 10)
    offer(morning["offer fell through"], "declined", 30)
    db_session.commit()
    return {what: help_request.reference for what, help_request in morning.items()}


def in_dutch(app, staff) -> None:
    with Session(app.extensions["hotline.engine"]) as session:
        olga = session.get(Operator, staff["olga"])
        olga.locale = "nl"
        session.add(olga)
        session.commit()


def test_what_needs_action_comes_before_what_is_in_hand(operator, a_morning):
    html = operator.get("/requests/").get_data(as_text=True)

    assert references(html) == [
        a_morning[what]
        for what in (
            # stuck, urgent first, then the oldest
            "offer fell through", "no volunteer found", "not reported done",
            # to do: urgent first
            "new", "triaged, later",
            # in hand
            "accepted", "offered",
        )
    ]  # fmt: skip
    needs_action, in_hand = html.index("Needs action"), html.index("In hand")
    assert needs_action < html.index(a_morning["new"]) < in_hand < html.index(a_morning["offered"])
    assert "offer fell through" in row_of(html, a_morning["offer fell through"])
    assert "needs follow-up" in row_of(html, a_morning["not reported done"])
    assert "no volunteer found" in row_of(html, a_morning["no volunteer found"])


def test_each_request_says_what_it_waits_for_and_since_when(operator, a_morning):
    html = operator.get("/requests/").get_data(as_text=True)

    def waiting(what: str) -> str:
        return waiting_of(html, a_morning[what])

    assert waiting("new") == "waiting for triage for 12 min"
    assert waiting("triaged, later") == "waiting for a volunteer for 1 h 30 min"
    assert waiting("no volunteer found") == "waiting for a volunteer for 1 h 00 min"
    assert waiting("offer fell through") == "waiting for a volunteer for 3 h 20 min"
    # In hand: since the offer went out, since the volunteer said yes; not since the call.
    assert waiting("offered") == "offered 15 min ago, waiting for an answer"
    assert waiting("accepted") == "accepted 2 h 00 min ago"
    assert waiting("not reported done") == "accepted 1 d 6 h ago, not reported done"


def test_the_queue_names_languages_and_urgencies_in_words(operator, a_morning):
    html = operator.get("/requests/").get_data(as_text=True)
    later = row_of(html, a_morning["triaged, later"])

    assert "<td>French</td>" in later and "<td>fr</td>" not in later
    assert "<td>in the coming days</td>" in later


def test_a_dutch_operator_reads_the_waiting_times_in_dutch(app, staff, operator, a_morning):
    in_dutch(app, staff)
    html = operator.get("/requests/").get_data(as_text=True)

    assert (
        waiting_of(html, a_morning["triaged, later"])
        == "wacht op een vrijwilliger sinds 1 u 30 min"
    )
    assert waiting_of(html, a_morning["accepted"]) == "aanvaard 2 u 00 min geleden"
    assert "<td>Frans</td>" in row_of(html, a_morning["new"])
    assert "Te doen" in html and "In behandeling" in html


def test_a_request_that_came_in_since_the_last_refresh_is_announced_once(
    app, operator, db_session, a_morning
):
    first = operator.get("/requests/").get_data(as_text=True)
    seen = re.search(r'id="queue-seen" name="seen" value="([\d.]+)"', first).group(1)
    assert re.search(r'<p id="queue-news"[^>]*aria-live="polite">\s*</p>', first)

    line = line_row(db_session, app.extensions["hotline.settings"], "leuven")
    arrived = create_help_request(db_session, line=line, contact=None, urgency="today")
    db_session.commit()

    refresh = operator.get(f"/requests/?seen={seen}", headers={"HX-Request": "true"})
    html = refresh.get_data(as_text=True)
    assert re.search(r'aria-live="polite">1 new request</p>', html)
    assert re.search(rf'<tr id="request-{arrived.id}" class="[^"]*\barrived\b', html)
    assert html.count(" arrived") == 1  # only the new one is lit up
    # The next refresh asks with its own time: nothing new to say.
    again = re.search(r'name="seen" value="([\d.]+)"', html).group(1)
    quiet = operator.get(f"/requests/?seen={again}", headers={"HX-Request": "true"})
    assert re.search(r'aria-live="polite">\s*</p>', quiet.get_data(as_text=True))
    # The refresh's own address never carries an old time.
    assert 'hx-get="/requests/"' in html
