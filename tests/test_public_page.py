"""A line's public page, as a resident, a would-be volunteer and a curious neighbour see it.

``/<line>/`` needs no login. It gives the number to call, the hours, the languages and
the kinds of help, links to the volunteer sign-up and the neighbour card, and says where
help is wanted now: counts by area and kind only, a count under three as "a few", and
only the line's own requests that still wait for a volunteer.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from hotline import create_app
from hotline.db import line_row
from hotline.intake import create_help_request
from hotline.models import HelpRequest
from hotline.privacy import store_contact
from hotline.public.needs import FEW, NeedsCache, waiting_needs
from tests.conftest import two_towns_config


@pytest.fixture
def two_towns_app(app_config, tmp_path):
    """Leuven and Tienen in one installation (tests/conftest.py's two-towns config)."""
    app = create_app({**app_config, "config_file": two_towns_config(tmp_path)})
    yield app
    app.extensions["hotline.engine"].dispose()


def file_requests(app, line: str = "leuven", count: int = 1, **fields) -> list[HelpRequest]:
    """``count`` requests on ``line`` as the IVR files them; extra ``fields`` (status,
    notes, ...) are then set on each, as operators would."""
    settings = app.extensions["hotline.settings"]
    filed = {
        "postcode": fields.pop("postcode", "3010"),
        "category": fields.pop("category", "groceries"),
        "urgency": fields.pop("urgency", "today"),
        "message": fields.pop("message", ""),
    }
    made = []
    with Session(app.extensions["hotline.engine"], expire_on_commit=False) as session:
        row = line_row(session, settings, line)
        for _ in range(count):
            help_request = create_help_request(
                session, line=row, contact=None, language="nl", **filed
            )
            for name, value in fields.items():
                setattr(help_request, name, value)
            session.add(help_request)
            made.append(help_request)
        session.commit()
    return made


def page(app, path: str = "/leuven/", **headers) -> str:
    """The page's text, after checking it was served."""
    response = app.test_client().get(path, headers=headers)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def needs_list(body: str) -> list[str]:
    """The sentences under "where help is wanted now", whitespace folded."""
    found = re.search(r'<ul class="needs">(.*?)</ul>', body, flags=re.S)
    if found is None:
        return []
    items = re.findall(r"<li>(.*?)</li>", found.group(1), flags=re.S)
    return [" ".join(item.split()) for item in items]


def test_a_resident_finds_the_number_to_call_in_big_type_with_hours_and_kinds_of_help(app):
    body = page(app)

    assert '<html lang="nl">' in body  # Leuven's first language
    assert re.search(r'<a class="hotline-number" href="tel:\+3216272772">016 27 27 72</a>', body)
    assert "Openingsuren" in body and "08:00–20:00" in body
    assert "Nederlands, Frans, Engels" in body
    for kind in ("Boodschappen of apotheek", "Een maaltijd", "De hond uitlaten"):
        assert kind in body
    # How to volunteer: the sign-up page and the city's own page from the config.
    assert 'href="/leuven/volunteer?lang=nl"' in body
    assert 'href="https://www.leuven.be/leuvenhelpt"' in body
    assert 'href="/leuven/neighbour-card.pdf?lang=nl"' in body


def test_the_page_is_in_french_when_asked_or_when_the_browser_prefers_it(app):
    asked = page(app, "/leuven/?lang=fr")
    preferred = page(app, "/leuven/", **{"Accept-Language": "fr-BE,fr;q=0.9,nl;q=0.5"})

    for body in (asked, preferred):
        assert '<html lang="fr">' in body
        assert "Heures d’ouverture" in body or "Heures d'ouverture" in body
        assert "néerlandais, français, anglais" in body
        assert "Une promenade avec le chien" in body or "Promener le chien" in body
    # The switch is plain links, each language in its own words.
    assert '<a href="/leuven/?lang=nl" lang="nl" hreflang="nl">Nederlands</a>' in asked
    assert '<span class="current" lang="fr" aria-current="true">français</span>' in asked
    # A language the line does not speak falls back to its first one.
    assert '<html lang="nl">' in page(app, "/leuven/?lang=de")


def test_an_unknown_line_gets_the_apps_own_404_page(app):
    response = app.test_client().get("/atlantis/")

    assert response.status_code == 404
    assert "error-title" in response.get_data(as_text=True)
    # Only configured lines are routes: other one-word paths stay 404s, not redirects.
    assert app.test_client().get("/atlantis").status_code == 404
    assert app.test_client().get("/leuven").headers["Location"].endswith("/leuven/")


def test_no_name_reference_street_number_or_message_ever_shows(app):
    seeded = file_requests(
        app,
        count=4,
        message="Mevrouw Jeanne Peeters, Diestsesteenweg 117, belt op 0470 12 34 56",
        notes="Zoon Marc Peeters: marc.peeters@mail.test, +32 470 65 43 21",
    )
    with Session(app.extensions["hotline.engine"]) as session:
        store_contact(session, app.extensions["hotline.settings"].secrets, "+32470998877")
        session.commit()

    body = page(app, "/leuven/?lang=en")

    assert needs_list(body) == ["4 requests for groceries or pharmacy in Kessel-Lo, today"]
    for secret in ("Peeters", "Jeanne", "Diestsesteenweg", "117", "0470", "470", "Marc",
                   "mail.test", "3010", "998877"):  # fmt: skip
        assert secret not in body, secret
    for help_request in seeded:
        assert help_request.reference not in body


def test_counts_under_three_are_a_few_so_that_nobody_can_be_singled_out(app):
    file_requests(app, count=1, postcode="3001", category="dog", urgency="coming_days")
    file_requests(app, count=2, postcode="3000", category="meal", urgency="today")
    file_requests(app, count=3, postcode="3010", category="groceries", urgency="today")
    file_requests(app, count=1, postcode="3012", category="talk", urgency=None)

    assert needs_list(page(app, "/leuven/?lang=en")) == [
        "A few requests for walking the dog in Heverlee, in the coming days",
        "3 requests for groceries or pharmacy in Kessel-Lo, today",
        "A few requests for a meal in Leuven, today",
        "A few requests for a friendly chat in Wilsele",
    ]
    assert FEW == 3


def test_the_counts_are_in_dutch_and_in_french(app):
    file_requests(app, count=5, postcode="3010", category="meal", urgency="today")
    file_requests(app, count=1, postcode="3000", category="meal", urgency="today")

    dutch = needs_list(page(app, "/leuven/?lang=nl"))
    french = needs_list(page(app, "/leuven/?lang=fr"))

    assert dutch[0].startswith("5 hulpvragen") and "Kessel-Lo" in dutch[0]
    assert "een paar" in dutch[1].lower()
    assert french[0].startswith("5 demandes") and "Kessel-Lo" in french[0]
    assert "quelques" in french[1].lower()


def test_only_this_lines_requests_that_wait_for_a_volunteer_count(two_towns_app):
    app = two_towns_app
    file_requests(app, count=3, postcode="3010", category="meal")  # new: waiting
    file_requests(app, count=1, postcode="3010", category="meal", status="triaged")
    for status in ("assigned", "accepted", "done", "cancelled"):  # in hand, or closed
        file_requests(app, count=3, postcode="3010", category="meal", status=status)
    file_requests(app, count=3, postcode="3011", category="meal")  # not one of Leuven's areas
    file_requests(app, "tienen", count=7, postcode="3300", category="meal")

    leuven = needs_list(page(app, "/leuven/?lang=en"))
    tienen = needs_list(page(app, "/tienen/?lang=en"))

    assert leuven == ["4 requests for a meal in Kessel-Lo, today"]
    assert tienen == ["7 requests for a meal in Tienen, today"]


def test_nothing_waiting_says_so(app):
    file_requests(app, count=3, status="done")

    body = page(app, "/leuven/?lang=en")

    assert needs_list(body) == []
    assert "Right now no request is waiting for a volunteer." in body


def test_the_counts_are_computed_at_most_once_a_minute_per_line(app):
    file_requests(app, count=3)
    first = needs_list(page(app, "/leuven/?lang=en"))
    file_requests(app, count=3)

    # Within the minute, in every language: the same counts, without asking the database.
    assert needs_list(page(app, "/leuven/?lang=en")) == first
    assert needs_list(page(app, "/leuven/?lang=fr"))[0].startswith("3 ")
    app.extensions["hotline.public_needs"].clear()  # a minute later
    assert needs_list(page(app, "/leuven/?lang=en"))[0].startswith("6 ")


def test_the_cache_keeps_counts_for_its_time_and_then_asks_again():
    now = [1000.0]
    cache = NeedsCache(seconds=60, clock=lambda: now[0])
    asked = []

    def compute():
        asked.append(now[0])
        return []

    cache.get("leuven", compute)
    now[0] += 59
    cache.get("leuven", compute)
    cache.get("tienen", compute)
    now[0] += 2
    cache.get("leuven", compute)

    assert asked == [1000.0, 1059.0, 1061.0]


def test_a_visitor_gets_no_cookie_a_cacheable_page_and_nothing_inline(app):
    response = app.test_client().get("/leuven/")
    body = response.get_data(as_text=True)

    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert "Accept-Language" in response.headers["Vary"]
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "<script" not in body and "style=" not in body and "<style" not in body
    assert 'href="/static/ui/public.css"' in body
    assert "csrf" not in body.lower()


def test_the_count_is_one_grouped_query_that_uses_an_index(app, db_session):
    """EXPLAIN on the database itself: the line's waiting requests are found through an
    index, not by reading the table (100,000 requests: see the README's figures)."""
    settings = app.extensions["hotline.settings"]
    line_id = line_row(db_session, settings, "leuven").id
    db_session.commit()
    statements = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    engine = app.extensions["hotline.engine"]
    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        waiting_needs(db_session, line=settings.lines["leuven"], line_id=line_id)
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)

    assert len(statements) == 1
    statement, parameters = statements[0]
    assert "GROUP BY" in statement
    connection = db_session.connection()
    if engine.dialect.name == "sqlite":
        plan = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        details = " ".join(row[-1] for row in plan)
        # Either of the queue's indexes narrows it (line and rank, or status and rank: the
        # planner takes the second once ANALYZE has seen a crisis' worth of rows).
        assert re.search(r"SEARCH help_request USING INDEX ix_help_request_(line|status)_queue",
                         details), details  # fmt: skip
        assert "SCAN help_request" not in details, details
    else:
        connection.exec_driver_sql("SET enable_seqscan = off")  # the tiny test table
        plan = connection.exec_driver_sql("EXPLAIN " + statement, parameters).all()
        details = " ".join(row[0] for row in plan)
        assert re.search(r"ix_help_request_(line|status)_queue", details), details
