"""Volunteers through the operators' pages: register, find, edit, deactivate; no number shown."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from hotline.dispatch import assign_volunteer
from hotline.models import AuditEvent, Contact, Volunteer
from hotline.privacy import reveal_number
from hotline.volunteers import (
    VolunteerError,
    is_available,
    normalise_mobile_number,
    parse_availability,
    parse_time_ranges,
    search_volunteers,
)
from tests.volunteers_helpers import leuven, make_request, make_volunteer

MOBILE = "0470 12 34 56"
MOBILE_E164 = "+32470123456"
# Every way the number could leak into a page: as typed, in E.164, digits only.
MOBILE_TRACES = ("470 12 34 56", "470123456", "+32470", "0470")


def registration(**overrides) -> dict:
    """The registration form as an operator fills it in."""
    return {
        "line": "leuven",
        "name": "Jan Peeters",
        "mobile_number": MOBILE,
        "postcode": "3010",
        "languages": ["nl", "en"],
        "skills": ["groceries", "dog"],
        "availability-mon": "9-12, 14:00-18:00",
        "availability-sat": "10:00-16:00",
        "has_car": "y",
        "safety_accepted_on": "2020-03-20",
        "insurance_registered_on": "",
        **overrides,
    }


def page(response) -> str:
    return response.get_data(as_text=True)


def assert_no_number(html: str) -> None:
    for trace in MOBILE_TRACES:
        assert trace not in html, f"the page shows {trace!r}"


def test_an_operator_registers_a_volunteer_whose_number_goes_only_into_the_vault(
    app, operator, db_session
):
    response = operator.post("/volunteers/new", registration())

    assert response.status_code == 302, page(response)
    volunteer = db_session.exec(select(Volunteer)).one()
    assert volunteer.name == "Jan Peeters"
    assert volunteer.postcode == "3010"
    assert volunteer.languages == ["nl", "en"]
    assert volunteer.skills == ["groceries", "dog"]
    assert volunteer.availability == {"mon": ["09:00-12:00", "14:00-18:00"], "sat": ["10:00-16:00"]}
    assert volunteer.has_car is True
    assert volunteer.active is True
    # 20 March 2020 in Leuven began at 23:00 UTC the day before.
    assert volunteer.safety_accepted_at == datetime(2020, 3, 19, 23, 0, tzinfo=UTC)
    assert volunteer.insurance_registered_at is None
    contact = db_session.get(Contact, volunteer.contact_id)
    secrets = app.extensions["hotline.settings"].secrets
    assert reveal_number(db_session, contact, secrets, reason="sms_to_volunteer") == MOBILE_E164
    assert MOBILE_E164 not in contact.encrypted_number

    listing = page(operator.get("/volunteers/"))
    assert "Jan Peeters" in listing
    assert_no_number(listing)
    edit_page = page(operator.get(f"/volunteers/{volunteer.id}"))
    assert "A number is on file" in edit_page
    assert 'value="Jan Peeters"' in edit_page
    assert_no_number(edit_page)


def test_registering_writes_an_audit_event_without_the_number(operator, db_session, staff):
    operator.post("/volunteers/new", registration())

    volunteer = db_session.exec(select(Volunteer)).one()
    event = db_session.exec(select(AuditEvent)).one()
    assert event.action == "volunteer:created"
    assert event.volunteer_id == volunteer.id
    assert event.operator_id == staff["olga"]
    assert event.detail["postcode"] == "3010"
    assert_no_number(str(event.detail))


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("12345", "This is not a valid phone number."),
        ("016 27 27 72", "This is not a mobile number"),
        ("", "A mobile number is needed"),
    ],
)
def test_an_invalid_mobile_number_is_refused_with_a_message(operator, db_session, number, message):
    response = operator.post("/volunteers/new", registration(mobile_number=number))

    assert response.status_code == 400
    assert message in page(response)
    assert db_session.exec(select(Volunteer)).first() is None
    assert db_session.exec(select(Contact)).first() is None


def test_a_form_with_mistakes_names_each_one_and_never_echoes_the_number(operator, db_session):
    response = operator.post(
        "/volunteers/new",
        registration(
            postcode="30",
            languages=None,
            skills=None,
            **{"availability-mon": "14:00-12:00", "availability-tue": "morning"},
        ),
    )

    html = page(response)
    assert response.status_code == 400
    assert "A postcode has four digits." in html
    assert "Choose at least one language." in html
    assert "Choose at least one kind of help." in html
    assert "In &#34;14:00-12:00&#34; the end must be after the start." in html
    assert "&#34;morning&#34; is not a time range like 09:00-12:00." in html
    assert "please type it again" in html
    assert_no_number(html)
    assert db_session.exec(select(Volunteer)).first() is None


def test_two_volunteers_cannot_share_a_number(operator, db_session):
    operator.post("/volunteers/new", registration())

    response = operator.post("/volunteers/new", registration(name="Someone Else"))

    assert response.status_code == 400
    assert "This number is already on file for another volunteer." in page(response)
    assert len(db_session.exec(select(Volunteer)).all()) == 1


def test_a_number_another_volunteer_has_is_refused_on_edit_and_nothing_changes(
    operator, db_session
):
    operator.post("/volunteers/new", registration())
    operator.post("/volunteers/new", registration(name="Piet", mobile_number="0499 11 22 33"))
    piet = db_session.exec(select(Volunteer).where(Volunteer.name == "Piet")).one()
    contact_id = piet.contact_id

    response = operator.post(
        f"/volunteers/{piet.id}", registration(name="Piet Janssens", mobile_number=MOBILE)
    )

    assert response.status_code == 400
    assert "This number is already on file for another volunteer." in page(response)
    db_session.refresh(piet)
    assert (piet.name, piet.contact_id) == ("Piet", contact_id)
    assert_no_number(page(response))


def test_editing_saves_the_changes_and_the_audit_says_what_changed(operator, db_session):
    operator.post("/volunteers/new", registration())
    volunteer = db_session.exec(select(Volunteer)).one()

    response = operator.post(
        f"/volunteers/{volunteer.id}",
        registration(mobile_number="", postcode="3001", skills=["groceries", "talk"]),
    )

    assert response.status_code == 302, page(response)
    db_session.refresh(volunteer)
    assert (volunteer.postcode, volunteer.skills) == ("3001", ["groceries", "talk"])
    event = db_session.exec(
        select(AuditEvent).where(AuditEvent.action == "volunteer:updated")
    ).one()
    assert event.detail == {
        "postcode": ["3010", "3001"],
        "skills": [["groceries", "dog"], ["groceries", "talk"]],
    }
    history = page(operator.get(f"/volunteers/{volunteer.id}"))
    assert "Changed: postcode, kinds of help" in history
    assert "Olga Peeters" in history


def test_replacing_the_number_stores_the_new_one_in_the_vault_and_shows_neither(
    app, operator, db_session
):
    operator.post("/volunteers/new", registration())
    volunteer = db_session.exec(select(Volunteer)).one()
    old_contact_id = volunteer.contact_id

    response = operator.post(
        f"/volunteers/{volunteer.id}", registration(mobile_number="+32 499 11 22 33")
    )

    assert response.status_code == 302, page(response)
    db_session.refresh(volunteer)
    assert volunteer.contact_id != old_contact_id
    contact = db_session.get(Contact, volunteer.contact_id)
    secrets = app.extensions["hotline.settings"].secrets
    assert reveal_number(db_session, contact, secrets, reason="sms_to_volunteer") == "+32499112233"
    event = db_session.exec(
        select(AuditEvent).where(AuditEvent.action == "volunteer:updated")
    ).one()
    assert event.detail == {"mobile_number": "replaced"}
    html = page(operator.get(f"/volunteers/{volunteer.id}"))
    assert_no_number(html)
    # not even the prefix on its own (a time's microseconds, "…966499", may hold the digits)
    assert not re.search(r"(?<!\d)499(?!\d)", html)


def test_an_invalid_replacement_number_keeps_the_old_one(operator, db_session):
    operator.post("/volunteers/new", registration())
    volunteer = db_session.exec(select(Volunteer)).one()
    old_contact_id = volunteer.contact_id

    response = operator.post(f"/volunteers/{volunteer.id}", registration(mobile_number="0470"))

    assert response.status_code == 400
    assert "This is not a valid phone number." in page(response)
    db_session.refresh(volunteer)
    assert volunteer.contact_id == old_contact_id


def test_a_coordinator_deactivates_and_reactivates_a_volunteer(coordinator, db_session, staff):
    coordinator.post("/volunteers/new", registration())
    volunteer = db_session.exec(select(Volunteer)).one()

    response = coordinator.post(f"/volunteers/{volunteer.id}/deactivate", follow_redirects=True)

    assert "Jan Peeters is no longer active." in page(response)
    db_session.refresh(volunteer)
    assert volunteer.active is False
    assert "Jan Peeters" not in page(coordinator.get("/volunteers/"))
    assert "Jan Peeters" in page(coordinator.get("/volunteers/?status=inactive"))
    assert "Jan Peeters" in page(coordinator.get("/volunteers/?status=all"))

    coordinator.post(f"/volunteers/{volunteer.id}/reactivate")

    db_session.refresh(volunteer)
    assert volunteer.active is True
    actions = db_session.exec(
        select(AuditEvent.action, AuditEvent.operator_id)
        .where(AuditEvent.volunteer_id == volunteer.id)
        .order_by(AuditEvent.id)
    ).all()
    assert actions == [
        ("volunteer:created", staff["cor"]),
        ("volunteer:deactivated", staff["cor"]),
        ("volunteer:reactivated", staff["cor"]),
    ]


def test_operators_find_volunteers_by_name_postcode_or_skill(app, operator, db_session):
    make_volunteer(app, db_session, name="Anna Janssens", postcode="3000", skills=["dog"])
    make_volunteer(app, db_session, name="Bart Claes", postcode="3010", skills=["groceries"])
    make_volunteer(app, db_session, name="Chris Wouters", postcode="3012", skills=["talk", "dog"])

    def names(query: str) -> list[str]:
        html = page(operator.get(f"/volunteers/?{query}"))
        return re.findall(r'href="/volunteers/\d+">([^<]+)</a>', html)

    assert names("") == ["Anna Janssens", "Bart Claes", "Chris Wouters"]
    assert names("q=janss") == ["Anna Janssens"]
    assert names("q=301") == ["Bart Claes", "Chris Wouters"]
    assert names("skill=dog") == ["Anna Janssens", "Chris Wouters"]
    assert names("q=dog") == ["Anna Janssens", "Chris Wouters"]
    assert names("q=chris&skill=dog") == ["Chris Wouters"]
    assert names("q=nobody") == []


def test_the_search_treats_percent_and_underscore_as_plain_characters(app, db_session):
    make_volunteer(app, db_session, name="Anna")

    assert search_volunteers(db_session, text="%") == []
    assert search_volunteers(db_session, text="_") == []
    assert [v.name for v in search_volunteers(db_session, text="ANN")] == ["Anna"]


def test_the_volunteer_pages_need_a_login(app):
    client = app.test_client()

    response = client.get("/volunteers/")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_registration_without_csrf_token_is_refused(operator, db_session):
    response = operator.post("/volunteers/new", registration(csrf_token=None))

    assert response.status_code == 400
    assert db_session.exec(select(Volunteer)).first() is None


def test_an_unknown_volunteer_is_not_found(operator):
    assert operator.get("/volunteers/999").status_code == 404
    assert operator.post("/volunteers/999/deactivate").status_code == 404


@pytest.mark.parametrize(
    ("typed", "ranges"),
    [
        ("", []),
        ("9-12", ["09:00-12:00"]),
        ("14:00-18:00, 9-12", ["09:00-12:00", "14:00-18:00"]),
        ("9u30-12u; 13.15 – 17", ["09:30-12:00", "13:15-17:00"]),
        ("18:00-24:00", ["18:00-24:00"]),
    ],
)
def test_availability_is_read_the_way_people_type_it(typed, ranges):
    assert parse_time_ranges(typed) == ranges


@pytest.mark.parametrize("typed", ["12-9", "9-12, 11-13", "25-26", "9:75-10", "mornings"])
def test_impossible_availability_is_refused(typed):
    with pytest.raises(VolunteerError):
        parse_time_ranges(typed)


def test_an_availability_mistake_names_the_weekday():
    with pytest.raises(VolunteerError) as raised:
        parse_availability({"mon": "9-12", "wed": "12-9"})

    assert raised.value.field == "availability-wed"
    assert raised.value.params["day"] == "wed"


def test_availability_is_checked_against_the_local_clock():
    monday_morning = datetime(2026, 3, 2, 10, 30)
    availability = {"mon": ["09:00-12:00"]}

    assert is_available(availability, monday_morning)
    assert not is_available(availability, monday_morning.replace(hour=12))
    assert not is_available(availability, datetime(2026, 3, 3, 10, 30))  # a Tuesday
    assert is_available({}, monday_morning)  # nothing said: any time


def test_mobile_numbers_are_read_in_the_lines_country():
    assert normalise_mobile_number("0470 12 34 56", "BE") == MOBILE_E164
    assert normalise_mobile_number("+31 6 12345678", "BE") == "+31612345678"
    with pytest.raises(VolunteerError):
        normalise_mobile_number("016 27 27 72", "BE")


def test_a_safety_date_in_the_future_is_refused(operator, db_session):
    next_year = date.today().replace(year=date.today().year + 1).isoformat()

    response = operator.post("/volunteers/new", registration(safety_accepted_on=next_year))

    assert response.status_code == 400
    assert "This date lies in the future." in page(response)
    assert db_session.exec(select(Volunteer)).first() is None


def test_deactivating_a_volunteer_with_open_assignments_warns_the_operator(
    app, operator, db_session
):
    volunteer = make_volunteer(app, db_session, name="Busy Bea")
    assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=make_request(app, db_session),
        volunteer=volunteer,
        operator_id=None,
    )

    html = page(operator.post(f"/volunteers/{volunteer.id}/deactivate", follow_redirects=True))

    assert "Busy Bea still has 1 open assignment: assign that request to someone else." in html


def test_someone_who_offered_help_by_phone_is_a_lead_coordinators_follow_up(
    app, db_session, coordinator, operator
):
    from hotline.db import line_row
    from hotline.intake import create_volunteer_lead
    from hotline.models import VolunteerLead

    settings = app.extensions["hotline.settings"]
    lead = create_volunteer_lead(
        db_session,
        line=line_row(db_session, settings, "leuven"),
        contact=None,
        call_sid="CA" + "5" * 32,
        language="fr",
        recording_sid="RE" + "5" * 32,
    )
    db_session.commit()
    page = coordinator.get("/volunteers/leads").get_data(as_text=True)
    assert f'src="/volunteers/leads/{lead.id}/recording"' in page
    # Operators see the list; only coordinators change a lead.
    assert operator.post(f"/volunteers/leads/{lead.id}", {"status": "dropped"}).status_code == 403
    coordinator.post(f"/volunteers/leads/{lead.id}", {"status": "registered"})
    db_session.expire_all()
    assert db_session.get(VolunteerLead, lead.id).status == "registered"
    assert "registered as a volunteer" in coordinator.get("/volunteers/leads").get_data(
        as_text=True
    )


def test_an_account_of_another_line_neither_sees_nor_changes_leuvens_volunteers_and_leads(
    app, db_session
):
    from sqlmodel import Session

    from hotline.access.accounts import create_operator
    from hotline.db import line_row
    from hotline.models import VolunteerLead
    from tests.conftest import STAFF_PASSWORD, StaffClient

    vera = make_volunteer(app, db_session, name="Vera Leuven")
    settings = app.extensions["hotline.settings"]
    lead = VolunteerLead(
        line_id=line_row(db_session, settings, "leuven").id, recording_sid="RE" + "a" * 32
    )
    db_session.add(lead)
    db_session.commit()
    with Session(app.extensions["hotline.engine"]) as session:
        create_operator(session, username="tine", display_name="Tine", password=STAFF_PASSWORD,
                        locale="en", role="coordinator", lines=["tienen"])  # fmt: skip
    tine = StaffClient(app, "tine")

    assert "Vera Leuven" not in tine.get("/volunteers/?status=all").get_data(as_text=True)
    assert tine.get(f"/volunteers/{vera.id}").status_code == 404
    assert tine.post(f"/volunteers/{vera.id}/deactivate").status_code == 404
    assert tine.get(f"/volunteers/leads/{lead.id}/recording").status_code == 404
    assert tine.post(f"/volunteers/leads/{lead.id}", {"status": "dropped"}).status_code == 404
    assert f"/volunteers/leads/{lead.id}" not in tine.get("/volunteers/leads").get_data(
        as_text=True
    )
    db_session.refresh(vera)
    db_session.refresh(lead)
    assert (vera.active, lead.status) == (True, "new")
