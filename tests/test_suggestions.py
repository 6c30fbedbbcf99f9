"""Suggested volunteers: who comes first for a request, and the reasons the operator reads."""

from __future__ import annotations

from datetime import UTC, datetime

from hotline.dispatch import assign_volunteer, record_assignment_reply
from hotline.suggestions import are_neighbours, suggest_volunteers
from tests.volunteers_helpers import leuven, make_request, make_volunteer

# Monday 2 March 2026, 09:30 in Leuven (CET, UTC+1) is 08:30 UTC.
MONDAY_MORNING = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)


def ranked(app, session, help_request, **kwargs) -> list[str]:
    suggestions = suggest_volunteers(
        session, help_request=help_request, now=MONDAY_MORNING, line=leuven(app), **kwargs
    )
    return [s.volunteer.name for s in suggestions]


def test_the_same_postcode_comes_before_a_neighbour_and_a_neighbour_before_the_rest(
    app, db_session
):
    make_volunteer(app, db_session, name="Far", postcode="2000")
    make_volunteer(app, db_session, name="Neighbour", postcode="3001")
    make_volunteer(app, db_session, name="Same", postcode="3000")
    help_request = make_request(app, db_session, postcode="3000")

    suggestions = suggest_volunteers(
        db_session, help_request=help_request, now=MONDAY_MORNING, line=leuven(app)
    )

    assert [s.volunteer.name for s in suggestions] == ["Same", "Neighbour", "Far"]
    assert suggestions[0].reason_texts == [
        "same postcode",
        "has skill: groceries",
        "speaks nl",
        "available now",
        "no open assignments",
    ]
    assert suggestions[0].score == 30 + 25 + 20 + 10
    assert suggestions[1].reason_texts[0] == "neighbouring postcode"
    assert suggestions[2].reason_texts[0] == "lives elsewhere (2000)"
    assert [s.score for s in suggestions] == [85, 70, 55]


def test_the_right_skill_counts_more_than_living_next_door(app, db_session):
    make_volunteer(app, db_session, name="Next door, dogs only", postcode="3000", skills=["dog"])
    make_volunteer(app, db_session, name="Neighbour who shops", postcode="3010")
    help_request = make_request(app, db_session, postcode="3000", category="groceries")

    suggestions = suggest_volunteers(
        db_session, help_request=help_request, now=MONDAY_MORNING, line=leuven(app)
    )

    assert [s.volunteer.name for s in suggestions] == [
        "Neighbour who shops",
        "Next door, dogs only",
    ]
    assert "has skill: groceries" in suggestions[0].reason_texts
    assert "no skill: groceries" in suggestions[1].reason_texts


def test_a_volunteer_who_speaks_the_callers_language_comes_first(app, db_session):
    make_volunteer(app, db_session, name="Dutch only", languages=["nl"])
    make_volunteer(app, db_session, name="Speaks French", languages=["nl", "fr"])
    help_request = make_request(app, db_session, language="fr")

    suggestions = suggest_volunteers(
        db_session, help_request=help_request, now=MONDAY_MORNING, line=leuven(app)
    )

    assert [s.volunteer.name for s in suggestions] == ["Speaks French", "Dutch only"]
    assert "speaks fr" in suggestions[0].reason_texts
    assert "does not speak fr" in suggestions[1].reason_texts


def test_availability_is_read_on_the_lines_clock(app, db_session):
    # 08:30 UTC is 09:30 in Leuven: read in UTC, the morning volunteer would not be free yet.
    make_volunteer(app, db_session, name="Afternoons", availability={"mon": ["14:00-18:00"]})
    make_volunteer(app, db_session, name="Mornings", availability={"mon": ["09:00-12:00"]})
    help_request = make_request(app, db_session)

    suggestions = suggest_volunteers(
        db_session, help_request=help_request, now=MONDAY_MORNING, line=leuven(app)
    )

    assert [s.volunteer.name for s in suggestions] == ["Mornings", "Afternoons"]
    assert "available now" in suggestions[0].reason_texts
    assert "not available now" in suggestions[1].reason_texts


def test_among_equals_the_volunteer_with_fewer_open_assignments_comes_first(app, db_session, staff):
    busy = make_volunteer(app, db_session, name="Anna Busy")
    make_volunteer(app, db_session, name="Zoe Free")
    for _ in range(2):
        other = make_request(app, db_session)
        assign_volunteer(
            db_session,
            line=leuven(app),
            help_request=other,
            volunteer=busy,
            operator_id=staff["olga"],
        )
    help_request = make_request(app, db_session)

    suggestions = suggest_volunteers(
        db_session, help_request=help_request, now=MONDAY_MORNING, line=leuven(app)
    )

    assert [s.volunteer.name for s in suggestions] == ["Zoe Free", "Anna Busy"]
    assert suggestions[1].reason_texts[-1] == "2 open assignments"
    assert suggestions[1].open_assignments == 2
    assert suggestions[0].score - suggestions[1].score == 10


def test_finished_assignments_do_not_count_as_open(app, db_session, staff):
    volunteer = make_volunteer(app, db_session, name="Anna")
    other = make_request(app, db_session)
    assignment = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=other,
        volunteer=volunteer,
        operator_id=staff["olga"],
    )
    record_assignment_reply(db_session, assignment=assignment, reply="done")
    help_request = make_request(app, db_session)

    (suggestion,) = suggest_volunteers(
        db_session, help_request=help_request, now=MONDAY_MORNING, line=leuven(app)
    )

    assert suggestion.open_assignments == 0
    assert "no open assignments" in suggestion.reason_texts


def test_only_active_volunteers_with_the_safety_instructions_accepted_are_suggested(
    app, db_session
):
    make_volunteer(app, db_session, name="Ready")
    make_volunteer(app, db_session, name="Inactive", active=False)
    make_volunteer(app, db_session, name="No safety instructions yet", safety_accepted_on=None)
    help_request = make_request(app, db_session)

    assert ranked(app, db_session, help_request) == ["Ready"]


def test_a_volunteer_already_asked_is_left_out_and_one_who_declined_comes_last(
    app, db_session, staff
):
    asked = make_volunteer(app, db_session, name="Asked", postcode="3000")
    declined = make_volunteer(app, db_session, name="Declined", postcode="3000")
    make_volunteer(app, db_session, name="Far", postcode="2000")
    help_request = make_request(app, db_session, postcode="3000")
    offer = assign_volunteer(
        db_session,
        line=leuven(app),
        help_request=help_request,
        volunteer=declined,
        operator_id=staff["olga"],
    )
    record_assignment_reply(db_session, assignment=offer, reply="declined")
    assign_volunteer(
        db_session, line=leuven(app), help_request=help_request, volunteer=asked, operator_id=None
    )

    suggestions = suggest_volunteers(
        db_session, help_request=help_request, now=MONDAY_MORNING, line=leuven(app)
    )

    assert [s.volunteer.name for s in suggestions] == ["Far", "Declined"]
    assert suggestions[1].reason_texts[-1] == "declined this request before"
    assert asked.id not in {s.volunteer.id for s in suggestions}


def test_at_most_limit_suggestions_the_best_first(app, db_session):
    for postcode, name in [
        ("2000", "E"),
        ("3001", "B"),
        ("3000", "A"),
        ("3010", "C"),
        ("9000", "F"),
    ]:
        make_volunteer(app, db_session, name=name, postcode=postcode)
    help_request = make_request(app, db_session, postcode="3000")

    assert ranked(app, db_session, help_request, limit=3) == ["A", "B", "C"]
    assert ranked(app, db_session, help_request, limit=None) == ["A", "B", "C", "E", "F"]


def test_a_request_without_category_language_or_postcode_still_gets_suggestions(app, db_session):
    make_volunteer(app, db_session, name="Anyone")
    help_request = make_request(app, db_session, category=None, language=None, postcode=None)

    (suggestion,) = suggest_volunteers(
        db_session, help_request=help_request, now=MONDAY_MORNING, line=leuven(app)
    )

    assert suggestion.reason_texts == ["available now", "no open assignments"]


def test_the_line_comes_from_the_apps_settings_when_not_given(app, db_session):
    make_volunteer(app, db_session, name="Mornings", availability={"mon": ["09:00-12:00"]})
    help_request = make_request(app, db_session)

    with app.app_context():
        (suggestion,) = suggest_volunteers(
            db_session, help_request=help_request, now=MONDAY_MORNING
        )

    assert "available now" in suggestion.reason_texts


def test_postcodes_are_neighbours_within_their_municipality_group():
    assert are_neighbours("3000", "3001")
    assert are_neighbours("3018", "3010")
    assert not are_neighbours("3000", "3000")  # the same postcode is better than a neighbour
    assert not are_neighbours("3000", "2000")
