"""The operators' queue when a crisis fills it: the right request on top, a page at a time.

Hundreds of requests are written in one bulk insert (valid rows, no phone numbers), the
way a busy week leaves them; the queue is then read as an operator reads it.
"""

from __future__ import annotations

import random
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from hotline.db import line_row
from hotline.lifecycle import OPEN_STATUSES
from hotline.models import CLOSED_QUEUE_RANK, HelpRequest, RequestStatus, utcnow
from hotline.triage import QUEUE_PAGE_SIZE, QueueFilters, list_queue

STATUSES = [status.value for status in RequestStatus]


def fill_queue(app, count: int, *, seed: int = 15, **fixed) -> list[dict]:
    """``count`` requests on the Leuven line with mixed statuses, urgencies and ages, as
    one bulk insert; returns the rows written (with their ids)."""
    rnd = random.Random(seed)
    now = utcnow()
    with Session(app.extensions["hotline.engine"]) as session:
        line_id = line_row(session, app.extensions["hotline.settings"], "leuven").id
        session.commit()
    rows = []
    for number in range(count):
        status = rnd.choice(STATUSES)
        created = now - timedelta(minutes=rnd.randint(1, 30 * 24 * 60))
        rows.append(
            {
                "line_id": line_id,
                "reference": f"{100000 + number:06d}",
                "source": rnd.choice(["ivr", "ivr", "live", "callback"]),
                "status": status,
                "language": "nl",
                "category": rnd.choice(["groceries", "meal", "dog", None]),
                "postcode": rnd.choice(["3000", "3001", "3010"]),
                "urgency": rnd.choice(["today", "coming_days", None]),
                "message": "",
                "notes": "",
                "created_at": created,
                "updated_at": created,
                "no_volunteer_at": created if rnd.random() < 0.05 else None,
                **fixed,
            }
        )
    with app.extensions["hotline.engine"].begin() as connection:
        result = connection.execute(
            sa.insert(HelpRequest.__table__).returning(HelpRequest.__table__.c.id), rows
        )
        for row, (request_id,) in zip(rows, result.all(), strict=True):
            row["id"] = request_id
    return rows


def needs_action_first(row: dict) -> int:
    """0: stuck (no volunteer found, an offer fell through, a volunteer never reported done),
    1: to do (new, triaged), 2: in hand (offered, accepted)."""
    if (
        row["no_volunteer_at"]
        or row.get("follow_up_at")
        or (row["status"] == "triaged" and row.get("assigned_at"))
    ):
        return 0
    return 1 if row["status"] in ("new", "triaged") else 2


def queue_order(rows: list[dict]) -> list[int]:
    """The order the queue promises, worked out in Python: what an operator must act on
    before what is in hand (requests stuck first), urgent ones first, then the oldest."""
    open_rows = [row for row in rows if row["status"] in OPEN_STATUSES]
    return [
        row["id"]
        for row in sorted(
            open_rows,
            key=lambda row: (
                needs_action_first(row),
                row["urgency"] != "today",
                row["created_at"],
                row["id"],
            ),
        )
    ]


def references(html: str) -> list[str]:
    return re.findall(r'<tr[^>]*data-reference="(\d{6})"', html)


def test_the_queue_shows_the_most_urgent_oldest_request_first_among_300(app, operator):
    rows = fill_queue(app, 300)
    by_id = {row["id"]: row["reference"] for row in rows}
    expected = [by_id[request_id] for request_id in queue_order(rows)]

    html = operator.get("/requests/").get_data(as_text=True)

    assert references(html) == expected[:QUEUE_PAGE_SIZE]
    first = next(row for row in rows if row["reference"] == expected[0])
    assert first["no_volunteer_at"] is not None and first["urgency"] == "today"


def test_an_operator_pages_through_the_whole_queue_and_sees_every_open_request_once(app, operator):
    rows = fill_queue(app, 300)
    by_id = {row["id"]: row["reference"] for row in rows}
    expected = [by_id[request_id] for request_id in queue_order(rows)]

    seen, url, pages = [], "/requests/", 0
    while url:
        html = operator.get(url).get_data(as_text=True)
        seen += references(html)
        pages += 1
        found = re.search(r'<a href="([^"]+)" rel="next">', html)
        url = found.group(1).replace("&amp;", "&") if found else None

    assert seen == expected
    assert pages == -(-len(expected) // QUEUE_PAGE_SIZE)
    assert f"{len(expected)} requests in all" in operator.get("/requests/").get_data(as_text=True)


def test_the_next_page_keeps_the_filters(app, operator):
    rows = fill_queue(app, 300, category="meal")
    first_page = operator.get("/requests/?category=meal").get_data(as_text=True)
    next_url = re.search(r'<a href="([^"]+)" rel="next">', first_page).group(1)
    assert "category=meal" in next_url
    html = operator.get(next_url.replace("&amp;", "&")).get_data(as_text=True)
    by_id = {row["id"]: row["reference"] for row in rows}
    expected = [by_id[request_id] for request_id in queue_order(rows)]
    assert references(html) == expected[QUEUE_PAGE_SIZE : 2 * QUEUE_PAGE_SIZE]
    assert "Back to the top of the queue" in html


def test_a_status_filter_and_the_call_backs_keep_their_own_order(app, db_session):
    rows = fill_queue(app, 300)

    triaged = list_queue(db_session, filters=QueueFilters(status="triaged"), limit=500).rows
    call_backs = list_queue(db_session, filters=QueueFilters(source="callback"), limit=500).rows

    assert [row.help_request.id for row in triaged] == queue_order(
        [{**row, "status": "new"} for row in rows if row["status"] == "triaged"]
    )
    open_call_backs = [
        row for row in rows if row["source"] == "callback" and row["status"] in OPEN_STATUSES
    ]
    assert [row.help_request.id for row in call_backs] == [
        row["id"] for row in sorted(open_call_backs, key=lambda r: (r["created_at"], r["id"]))
    ]


def test_the_queue_rank_follows_every_change_of_status_urgency_and_offers(app, db_session):
    """The database computes the rank: a request that changes never sits in the wrong place."""
    [row] = fill_queue(app, 1, status="new", urgency="coming_days", no_volunteer_at=None)
    help_request = db_session.get(HelpRequest, row["id"])
    ranks = []
    for change in (
        {},  # new, in the coming days: to do
        {"urgency": "today"},  # to do, urgent
        {"status": "assigned", "assigned_at": utcnow()},  # offered: in hand
        {"status": "triaged"},  # the volunteer said no: stuck
        {"status": "assigned"},
        {"status": "accepted"},  # in hand
        {"follow_up_at": utcnow()},  # never reported done: stuck
        {"status": "triaged", "follow_up_at": None, "no_volunteer_at": utcnow()},
        {"urgency": None},  # stuck, not urgent
        {"status": "done", "no_volunteer_at": None},
        {"urgency": "today"},
    ):
        for field, value in change.items():
            setattr(help_request, field, value)
        db_session.add(help_request)
        db_session.commit()
        db_session.refresh(help_request)
        ranks.append(help_request.queue_rank)
    assert ranks == [3, 2, 4, 0, 4, 4, 0, 0, 1, 7, 6]


def test_open_ranks_are_exactly_the_open_statuses(app, db_session):
    fill_queue(app, 120)
    for status, rank in db_session.exec(select(HelpRequest.status, HelpRequest.queue_rank)):
        assert (rank < CLOSED_QUEUE_RANK) == (status in OPEN_STATUSES), status


def test_a_queue_of_more_than_a_thousand_says_so_without_counting_every_one(app, operator):
    fill_queue(app, 1100, status="new")

    html = operator.get("/requests/").get_data(as_text=True)

    assert "more than 1,000 requests" in html
    assert len(references(html)) == QUEUE_PAGE_SIZE


def test_every_page_of_the_queue_is_read_from_its_index_never_sorted(app, db_session):
    """The queue's questions, as list_queue asks them (first page, next page, the stuck
    ones first), walk ix_help_request_queue in order: no whole-table read, no sort."""
    engine = app.extensions["hotline.engine"]
    if engine.dialect.name != "sqlite":
        pytest.skip("the plans are SQLite's (PostgreSQL plans by its statistics)")
    fill_queue(app, 300)
    statements: list[tuple[str, object]] = []

    def remember(connection, cursor, statement, parameters, context, executemany):
        if "ORDER BY help_request.queue_rank" in statement:
            statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        first = list_queue(db_session, filters=QueueFilters())
        list_queue(db_session, filters=QueueFilters(), after=first.next_after)
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)

    assert len(statements) == 2
    with engine.connect() as connection:
        for statement, parameters in statements:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            steps = " | ".join(row[-1] for row in plan)
            assert "USING INDEX ix_help_request_queue" in steps, steps
            assert "TEMP B-TREE" not in steps and "SCAN help_request" not in steps, steps
