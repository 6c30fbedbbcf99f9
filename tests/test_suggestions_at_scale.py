"""Suggestions when a crisis brings thousands of volunteers: the same best volunteers as a
full ranking would find, a page that stays small, and a search for anyone else.

Volunteers are written in one bulk insert (valid rows as registration leaves them; no
phone numbers: they have no vault entry, which suggestions do not need).
"""

from __future__ import annotations

import random
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from hotline.db import line_row
from hotline.dispatch import assign_volunteer, record_assignment_reply
from hotline.models import Assignment, Volunteer
from hotline.suggestions import score_volunteers, suggest_volunteers
from tests.volunteers_helpers import leuven, make_request, make_volunteer

# Monday 2 March 2026, 09:30 in Leuven (CET, UTC+1).
MONDAY_MORNING = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
ACCEPTED = datetime(2026, 1, 5, tzinfo=UTC)  # the safety instructions
POSTCODES = ["3000", "3001", "3010", "3012", "3018", "3020", "2000"]
SKILLS = ["groceries", "meal", "errand", "dog", "talk", "other"]
SPANS = ["08:00-09:00", "09:00-12:00", "14:00-18:00", "09:15-09:45"]


def register_many(app, count: int, *, seed: int = 15, **fixed) -> list[int]:
    """``count`` volunteers of Leuven with mixed areas, skills, languages and hours (a few
    inactive or without the safety instructions), in one bulk insert; returns their ids."""
    rnd = random.Random(seed)
    with Session(app.extensions["hotline.engine"]) as session:
        line_id = line_row(session, app.extensions["hotline.settings"], "leuven").id
        session.commit()
    accepted = ACCEPTED
    rows = []
    for number in range(count):
        hours = {} if rnd.random() < 0.3 else {"mon": [rnd.choice(SPANS)]}
        rows.append(
            {
                "line_id": line_id,
                # One spelling of names, so that every database sorts them alike.
                "name": f"Vol{number:05d}",
                "postcode": rnd.choice(POSTCODES),
                "languages": rnd.sample(["nl", "fr", "en"], rnd.randint(1, 2)),
                "skills": rnd.sample(SKILLS, rnd.randint(1, 3)),
                "availability": hours,
                "has_car": False,
                # The first ten may always be suggested (tests ask them for a request).
                "safety_accepted_at": accepted if number < 10 or rnd.random() < 0.9 else None,
                "active": number < 10 or rnd.random() < 0.95,
                "created_at": accepted,
                "updated_at": accepted,
                **fixed,
            }
        )
    with app.extensions["hotline.engine"].begin() as connection:
        result = connection.execute(
            sa.insert(Volunteer.__table__).returning(Volunteer.__table__.c.id), rows
        )
        return [request_id for (request_id,) in result.all()]


def give_open_assignments(app, session, volunteer_ids, *, seed: int = 15) -> None:
    """Some volunteers are busy with other requests (one or two open offers each)."""
    rnd = random.Random(seed)
    for volunteer_id in rnd.sample(volunteer_ids, len(volunteer_ids) // 6):
        for _ in range(rnd.randint(1, 2)):
            other = make_request(app, session, postcode="3000")
            session.add(
                Assignment(
                    help_request_id=other.id,
                    volunteer_id=volunteer_id,
                    code=f"{rnd.randrange(10000):04d}",
                    status=rnd.choice(["offered", "accepted"]),
                )
            )
    session.commit()


def full_ranking(session, help_request, line):
    """Every volunteer who may be suggested, scored one by one: the reference."""
    busy = set(
        session.exec(
            select(Assignment.volunteer_id).where(
                Assignment.help_request_id == help_request.id,
                Assignment.status.in_(["offered", "accepted"]),
            )
        )
    )
    volunteers = [
        volunteer
        for volunteer in session.exec(
            select(Volunteer).where(
                Volunteer.line_id == help_request.line_id,
                Volunteer.active.is_(True),
                Volunteer.safety_accepted_at.is_not(None),
            )
        )
        if volunteer.id not in busy
    ]
    return score_volunteers(
        session, help_request=help_request, volunteers=volunteers, now=MONDAY_MORNING, line=line
    )


REQUESTS = [
    {"postcode": "3000", "category": "groceries", "language": "nl"},
    {"postcode": "3012", "category": "dog", "language": "fr"},
    {"postcode": "2000", "category": "talk", "language": "en"},
    {"postcode": None, "category": "meal", "language": "nl"},
    {"postcode": "3001", "category": None, "language": None},
    {"postcode": None, "category": None, "language": None},
]


@pytest.mark.parametrize("fields", REQUESTS, ids=lambda f: "-".join(map(str, f.values())))
@pytest.mark.parametrize("limit", [1, 5, 15])
def test_the_best_few_of_600_volunteers_are_those_a_full_ranking_puts_first(
    app, db_session, staff, fields, limit
):
    ids = register_many(app, 600)
    give_open_assignments(app, db_session, ids)
    help_request = make_request(app, db_session, **fields)
    line = leuven(app)
    # Some already declined this request, one holds an open offer for it.
    for volunteer_id in ids[:3]:
        offer = assign_volunteer(
            db_session,
            line=line,
            help_request=help_request,
            volunteer=db_session.get(Volunteer, volunteer_id),
            operator_id=staff["olga"],
        )
        record_assignment_reply(db_session, assignment=offer, reply="declined")
    assign_volunteer(
        db_session,
        line=line,
        help_request=help_request,
        volunteer=db_session.get(Volunteer, ids[3]),
        operator_id=staff["olga"],
    )

    found = suggest_volunteers(
        db_session, help_request=help_request, now=MONDAY_MORNING, line=line, limit=limit
    )
    expected = full_ranking(db_session, help_request, line)[:limit]

    assert [(s.volunteer.name, s.score, s.open_assignments) for s in found] == [
        (s.volunteer.name, s.score, s.open_assignments) for s in expected
    ]
    assert [s.reason_texts for s in found] == [s.reason_texts for s in expected]


def test_when_most_are_busy_the_least_busy_still_come_first(app, db_session):
    ids = register_many(app, 60, postcode="3000", skills=["groceries"], languages=["nl"],
                        availability={}, active=True, safety_accepted_at=ACCEPTED)  # fmt: skip
    help_request = make_request(app, db_session, postcode="3000")
    for volunteer_id in ids[:55]:  # all but five hold an open offer elsewhere
        other = make_request(app, db_session)
        db_session.add(Assignment(help_request_id=other.id, volunteer_id=volunteer_id,
                                  code="1234", status="accepted"))  # fmt: skip
    db_session.commit()

    found = suggest_volunteers(
        db_session, help_request=help_request, now=MONDAY_MORNING, line=leuven(app), limit=8
    )
    expected = full_ranking(db_session, help_request, leuven(app))[:8]

    assert [s.volunteer.id for s in found] == [s.volunteer.id for s in expected]
    assert [s.open_assignments for s in found] == [0] * 5 + [1] * 3


def test_the_exclusions_of_automatic_offers_are_applied_before_ranking(app, db_session):
    ids = register_many(app, 50, postcode="3000", availability={}, active=True)
    help_request = make_request(app, db_session, postcode="3000")
    everyone = full_ranking(db_session, help_request, leuven(app))
    asked = {s.volunteer.id for s in everyone[:4]}

    found = suggest_volunteers(db_session, help_request=help_request, now=MONDAY_MORNING,
                               line=leuven(app), limit=3, exclude=asked)  # fmt: skip

    assert [s.volunteer.id for s in found] == [
        s.volunteer.id for s in everyone if s.volunteer.id not in asked
    ][:3]
    assert set(ids) >= {s.volunteer.id for s in found}


def test_a_requests_page_lists_at_most_15_volunteers_whatever_the_number_of_volunteers(
    app, operator, db_session
):
    register_many(app, 2000)
    help_request = make_request(app, db_session, postcode="3000")

    html = operator.get(f"/requests/{help_request.id}").get_data(as_text=True)

    assert html.count('class="suggestion"') == 5
    assert len(re.findall(r"<option value=\"\d+\">Vol\d{5}", html)) == 10
    assert len(set(re.findall(r"Vol\d{5}", html))) == 15  # of 2000
    assert len(html.encode()) < 100_000
    assert 'id="volunteer-search"' in html


def test_an_operator_finds_a_volunteer_outside_the_suggestions_by_name_and_assigns_them(
    app, operator, db_session
):
    register_many(app, 500, postcode="3000", skills=["groceries"], languages=["nl"],
                  availability={})  # fmt: skip
    far = make_volunteer(app, db_session, name="Zeno Vandenberghe", postcode="2000",
                         skills=["dog"], languages=["fr"])  # fmt: skip
    help_request = make_request(app, db_session, postcode="3000", category="groceries")
    page = operator.get(f"/requests/{help_request.id}").get_data(as_text=True)
    assert "Zeno Vandenberghe" not in page  # far down the ranking: neither suggested nor listed

    found = operator.get(
        f"/requests/{help_request.id}/volunteers",
        query_string={"q": "zeno vanden"},
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)

    assert "Zeno Vandenberghe" in found
    assert "lives elsewhere (2000)" in found and "no skill: Groceries or pharmacy" in found
    assert f'name="volunteer_id" value="{far.id}"' in found
    response = operator.post(f"/requests/{help_request.id}/assign", {"volunteer_id": far.id})
    assert response.status_code == 302
    db_session.refresh(help_request)
    assert help_request.status == "assigned"
    assert (
        db_session.exec(select(Assignment).where(Assignment.help_request_id == help_request.id))
        .one()
        .volunteer_id
        == far.id
    )


def test_a_search_by_volunteer_number_or_postcode_and_without_javascript(app, operator, db_session):
    vera = make_volunteer(app, db_session, name="Vera Peeters", postcode="3012")
    make_volunteer(app, db_session, name="Inactive Ingrid", postcode="3012", active=False)
    help_request = make_request(app, db_session, postcode="3000")
    url = f"/requests/{help_request.id}/volunteers"

    by_number = operator.get(url, query_string={"q": f"#{vera.id}"}, headers={"HX-Request": "true"})
    by_postcode = operator.get(url, query_string={"q": "301"}).get_data(as_text=True)
    nobody = operator.get(url, query_string={"q": "ingrid"}).get_data(as_text=True)

    assert "Vera Peeters" in by_number.get_data(as_text=True)
    assert "<html" not in by_number.get_data(as_text=True)  # htmx gets the bare list
    assert "Vera Peeters" in by_postcode and "<html" in by_postcode  # a whole page without JS
    assert "Inactive Ingrid" not in by_postcode
    assert "Nobody found." in nobody


def test_a_search_of_another_lines_request_is_not_found(app, operator, db_session):
    assert operator.get("/requests/999999/volunteers?q=vera").status_code == 404


def test_automatic_offers_rank_only_what_they_need(app, db_session, monkeypatch):
    """An automatic offer round asks for the few it sends, never the whole ranking."""
    import hotline.messaging.offers as offers

    asked_for = []
    real = offers.suggest_volunteers

    def spy(*args, **kwargs):
        asked_for.append(kwargs["limit"])
        return real(*args, **kwargs)

    monkeypatch.setattr(offers, "suggest_volunteers", spy)
    register_many(app, 30, contact_id=None)
    make_volunteer(app, db_session, name="Mia Claes", postcode="3000")
    help_request = make_request(app, db_session, postcode="3000")

    [offer] = offers.offer_next(
        db_session, help_request=help_request, line=leuven(app), operator_id=None
    )

    assert asked_for == [leuven(app).offers_at_once]
    # The bulk volunteers have no number in the vault: only Mia can get an SMS.
    assert db_session.get(Volunteer, offer.volunteer_id).name == "Mia Claes"
    assert offer.created_at > datetime.now(UTC) - timedelta(minutes=1)
