"""The dashboard: its figures (counts, medians, days in the line's timezone) and its page."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from callcenter_ui.dashboard import bar_chart, duration
from hotline.access.api_tokens import create_token
from hotline.models import ApiToken, AuditEvent
from hotline.overview import (
    dashboard,
    open_requests_by_category,
    open_requests_by_postcode,
    open_requests_by_status,
    waiting_requests_by_language,
)
from hotline.statistics import DayCount, median_time_to_assign, period_starts, requests_per_day
from tests.stats_api_data import CALLER_NUMBERS, leuven, make_request

BRUSSELS = "Europe/Brussels"
# Wednesday 18 March 2026, 15:00 in Leuven (CET, UTC+1).
NOW = datetime(2026, 3, 18, 14, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in March 2026, in UTC."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_open_requests_are_counted_by_status_need_and_area(app, db_session):
    for status, category, postcode in [
        ("new", "groceries", "3000"),
        ("new", "groceries", "3010"),
        ("triaged", "dog", "3000"),
        ("assigned", "meal", "3000"),
        ("accepted", None, None),
        ("done", "groceries", "3000"),
        ("cancelled", "talk", "3001"),
    ]:
        make_request(app, db_session, status=status, category=category, postcode=postcode)

    assert open_requests_by_status(db_session) == {
        "new": 2,
        "triaged": 1,
        "assigned": 1,
        "accepted": 1,
    }
    # Largest first; the uncategorised last; done and cancelled requests are not open.
    assert list(open_requests_by_category(db_session).items()) == [
        ("groceries", 2),
        ("dog", 1),
        ("meal", 1),
        ("", 1),
    ]
    assert open_requests_by_postcode(db_session) == {"3000": 3, "3010": 1, "": 1}


def test_statuses_without_requests_are_counted_as_zero(app, db_session):
    make_request(app, db_session, status="triaged")

    assert open_requests_by_status(db_session) == {
        "new": 0,
        "triaged": 1,
        "assigned": 0,
        "accepted": 0,
    }


def test_only_requests_still_without_a_volunteer_wait_per_language(app, db_session):
    for status, language in [
        ("new", "nl"),
        ("new", "nl"),
        ("triaged", "fr"),
        ("new", None),
        ("assigned", "en"),  # has a volunteer: not waiting
        ("done", "en"),
    ]:
        make_request(app, db_session, status=status, language=language)

    assert waiting_requests_by_language(db_session) == {"nl": 2, "fr": 1, "": 1}


def test_figures_can_be_limited_to_one_line(app, db_session):
    make_request(app, db_session, status="new", category="meal")
    other_line_id = leuven(app, db_session).id + 1000

    assert open_requests_by_category(db_session, line_id=leuven(app, db_session).id) == {"meal": 1}
    assert open_requests_by_category(db_session, line_id=other_line_id) == {}


def test_today_and_this_week_start_at_local_midnight_and_on_monday():
    today, week = period_starts(NOW, BRUSSELS)

    assert today == datetime(2026, 3, 17, 23, 0, tzinfo=UTC)  # Wednesday 00:00 in Leuven
    assert week == datetime(2026, 3, 15, 23, 0, tzinfo=UTC)  # Monday 00:00 in Leuven


def test_median_time_to_assign_counts_requests_by_the_day_they_were_assigned(app, db_session):
    waits_today = [
        # Assigned at 00:30 Wednesday in Leuven, which is still Tuesday in UTC.
        (at(17, 23, 20), at(17, 23, 30)),  # 10 min
        (at(18, 9, 0), at(18, 9, 20)),  # 20 min
        (at(18, 12, 0), at(18, 13, 0)),  # 60 min
    ]
    earlier_this_week = [(at(16, 8, 0), at(16, 10, 0))]  # Monday: 120 min
    last_week = [(at(15, 20, 0), at(15, 22, 30))]  # Sunday 23:30 in Leuven: 150 min
    for created, assigned in waits_today + earlier_this_week + last_week:
        make_request(app, db_session, status="assigned", created_at=created, assigned_at=assigned)
    make_request(app, db_session, status="new", created_at=at(18, 8, 0))  # not assigned yet
    today, week = period_starts(NOW, BRUSSELS)

    today_speed = median_time_to_assign(db_session, since=today, until=NOW)
    week_speed = median_time_to_assign(db_session, since=week, until=NOW)

    assert (today_speed.median, today_speed.count) == (timedelta(minutes=20), 3)
    # An even number of waits: the median is the mean of the middle two (20 and 60 min).
    assert (week_speed.median, week_speed.count) == (timedelta(minutes=40), 4)


def test_without_assignments_there_is_no_median(app, db_session):
    make_request(app, db_session, status="new", created_at=at(18, 8, 0))
    today, _week = period_starts(NOW, BRUSSELS)

    speed = median_time_to_assign(db_session, since=today, until=NOW)

    assert speed.median is None
    assert speed.count == 0


def test_requests_per_day_covers_fourteen_local_days_and_quiet_days_show_zero(app, db_session):
    for created in [
        at(18, 8, 0),
        at(18, 13, 0),
        at(17, 23, 30),  # 00:30 on Wednesday in Leuven: today, not yesterday
        at(16, 10, 0),
        at(5, 9, 0),  # the first of the fourteen days
        at(4, 9, 0),  # fifteen days ago: outside the chart
    ]:
        make_request(app, db_session, created_at=created)

    days = requests_per_day(db_session, now=NOW, timezone=BRUSSELS, days=14)

    assert len(days) == 14
    assert days[0] == DayCount(date(2026, 3, 5), 1)
    assert days[-1] == DayCount(date(2026, 3, 18), 3)
    by_day = {day.day: day.count for day in days}
    assert by_day[date(2026, 3, 17)] == 0
    assert by_day[date(2026, 3, 16)] == 1
    assert sum(by_day.values()) == 5
    assert sum(1 for day in days if day.count == 0) == 11


def test_the_dashboard_brings_the_figures_together(app, db_session):
    make_request(app, db_session, status="new", language="nl", created_at=at(18, 11, 0))
    make_request(
        app,
        db_session,
        status="assigned",
        language="fr",
        created_at=at(18, 9, 0),
        assigned_at=at(18, 9, 30),
    )

    figures = dashboard(db_session, now=NOW, timezone=BRUSSELS)

    assert figures.open_total == 2
    assert figures.waiting_by_language == {"nl": 1}
    assert figures.longest_wait == timedelta(hours=3)  # the waiting one came in at 11:00 UTC
    assert figures.assign_today.median == timedelta(minutes=30)
    assert figures.per_day[-1].count == 2


def test_the_chart_scales_to_the_busiest_day_and_keeps_empty_days(app):
    days = [
        DayCount(date(2026, 3, 5) + timedelta(days=n), count) for n, count in enumerate([0, 5, 10])
    ]

    with app.test_request_context(headers={"Accept-Language": "en"}):
        chart = bar_chart(days)

    assert [bar.count for bar in chart.bars] == [0, 5, 10]
    assert chart.bars[0].height == 0
    assert chart.bars[2].height == 2 * chart.bars[1].height
    assert chart.bars[2].y + chart.bars[2].height == chart.baseline
    assert chart.bars[2].today and not chart.bars[0].today


def test_a_chart_of_quiet_days_only_is_drawn_without_dividing_by_zero(app):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        chart = bar_chart([DayCount(date(2026, 3, 18), 0)])

    assert chart.bars[0].height == 0


@pytest.mark.parametrize(
    ("wait", "said"),
    [
        (None, "–"),
        (timedelta(seconds=45), "45 s"),
        (timedelta(minutes=12, seconds=30), "12 min"),
        (timedelta(hours=2, minutes=5), "2 h 05 min"),
        (timedelta(days=3, hours=4, minutes=10), "3 d 4 h"),
    ],
)
def test_waiting_times_are_said_the_way_operators_say_them(app, wait, said):
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert duration(wait) == said


def test_the_dashboard_needs_a_login(app):
    response = app.test_client().get("/dashboard/")

    assert response.status_code in (302, 401)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]


def test_an_operator_sees_the_dashboard_with_counts_and_an_accessible_chart(
    app, db_session, operator
):
    make_request(
        app,
        db_session,
        status="new",
        category="dog",
        postcode="3010",
        language="fr",
        message="Bel me terug op 0470 11 22 33 a.u.b.",
    )
    hidden = make_request(app, db_session, number=CALLER_NUMBERS[1], status="triaged")

    response = operator.get("/dashboard/")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert re.search(r'data-figure="open">\s*2\s*<', page)
    assert re.search(r'data-figure="waiting">\s*2\s*<', page)
    assert "3010" in page and "Kessel-Lo" in page
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert 'role="img"' in svg and "aria-label=" in svg
    assert re.search(r'<title id="chart-title">[^<]+</title>', svg)
    assert len(re.findall(r"<rect ", svg)) == 14
    assert svg.count('<g class="bar') == 14
    # Counts only: no message, no reference, no number of anyone.
    assert "Bel me terug" not in page
    assert hidden.reference not in page
    for number in CALLER_NUMBERS:
        assert number[3:] not in page.replace(" ", "")


def test_the_dashboard_refreshes_its_figures_alone(app, db_session, operator):
    make_request(app, db_session, status="new")

    response = operator.get("/dashboard/", headers={"HX-Request": "true"})

    fragment = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in fragment
    assert 'data-figure="open"' in fragment
    full_page = operator.get("/dashboard/").get_data(as_text=True)
    assert 'hx-trigger="every 60s"' in full_page


def test_an_unknown_line_on_the_dashboard_is_not_found(operator):
    assert operator.get("/dashboard/?line=atlantis").status_code == 404


# --- API access: tokens made and revoked in the UI ----------------------------------------


def _token_on(page: str) -> str:
    return re.search(r'id="new-token" value="(hlt_[^"]+)"', page).group(1)


def test_an_operator_makes_an_api_token_that_is_shown_once_and_works(app, db_session, operator):
    response = operator.post("/dashboard/api-tokens", {"name": "weekly report"})

    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    raw = _token_on(response.get_data(as_text=True))
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.get_json()["username"] == "olga"
    listing = operator.get("/dashboard/api-tokens").get_data(as_text=True)
    assert "weekly report" in listing
    assert raw not in listing  # shown once, never again
    (event,) = [e for e in db_session.exec(select(AuditEvent)) if e.action == "api_token_created"]
    assert event.detail["name"] == "weekly report"


def test_a_token_without_a_name_is_refused(operator):
    response = operator.post("/dashboard/api-tokens", {"name": ""})

    assert response.status_code == 400
    assert 'id="new-token"' not in response.get_data(as_text=True)


def test_making_a_token_needs_the_csrf_token(operator, db_session):
    response = operator.post("/dashboard/api-tokens", {"name": "report", "csrf_token": None})

    assert response.status_code == 400
    assert db_session.exec(select(ApiToken)).all() == []


def test_an_operator_revokes_their_own_token_and_it_stops_working(app, operator, db_session):
    raw = _token_on(
        operator.post("/dashboard/api-tokens", {"name": "report"}).get_data(as_text=True)
    )
    token = db_session.exec(select(ApiToken)).one()

    response = operator.post(f"/dashboard/api-tokens/{token.id}/revoke")

    assert response.status_code == 302
    db_session.refresh(token)
    assert token.revoked_at is not None
    me = app.test_client().get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    assert me.status_code == 401


def test_an_operator_cannot_see_or_revoke_someone_elses_token(
    app, db_session, staff, operator, coordinator
):
    create_token(db_session, operator_id=staff["cor"], name="city data platform")
    token = db_session.exec(select(ApiToken)).one()

    assert "city data platform" not in operator.get("/dashboard/api-tokens").get_data(as_text=True)
    assert operator.post(f"/dashboard/api-tokens/{token.id}/revoke").status_code == 403
    db_session.refresh(token)
    assert token.revoked_at is None


def test_a_coordinator_sees_and_revokes_everyones_tokens(app, db_session, staff, coordinator):
    create_token(db_session, operator_id=staff["olga"], name="olga's script")
    token = db_session.exec(select(ApiToken)).one()

    page = coordinator.get("/dashboard/api-tokens").get_data(as_text=True)
    response = coordinator.post(f"/dashboard/api-tokens/{token.id}/revoke")

    assert "olga&#39;s script" in page and "olga" in page
    assert response.status_code == 302
    db_session.refresh(token)
    assert token.revoked_at is not None
    (event,) = [e for e in db_session.exec(select(AuditEvent)) if e.action == "api_token_revoked"]
    assert event.operator_id == staff["cor"]


def test_jobs_that_failed_for_good_are_shown_to_operators(app, operator, redis_conn):
    from rq.registry import FailedJobRegistry

    from hotline.queue import get_queue

    assert "Work that needs attention" not in operator.get("/dashboard/").get_data(as_text=True)
    queue = get_queue("messages", app)
    job = queue.enqueue("hotline.jobs.send_assignment_sms", kwargs={"assignment_id": 999})
    FailedJobRegistry(queue=queue).add(job, ttl=3600, exc_string="TelephonyError")
    page = operator.get("/dashboard/").get_data(as_text=True)
    assert "Work that needs attention" in page
    assert "1 job in the 'messages' queue failed after all its retries" in page
