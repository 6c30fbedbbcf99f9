"""Every word an operator or coordinator reads is in their language (issue #11).

The staff pages are walked as a real account would (every link and every htmx GET of
every page reached, as operator and as coordinator), in Dutch, French and English, and
each visible text must be made of that language's catalogue and the data the test
created (tests/visible_text.py says how). A word nobody translated fails the test with
the page and the text it is in.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlmodel import Session, select

from hotline import vocabulary
from hotline.demo_data import create_demo_data
from hotline.models import HelpRequest, Operator, Volunteer
from hotline.triage import triage_request
from hotline.volunteers import set_volunteer_active
from tests.conftest import StaffClient
from tests.visible_text import TranslationCheck, visible_texts

LANGUAGES = vocabulary.LANGUAGES
LINK = re.compile(r'(?:href|hx-get)="(/[^"]*)"')
# Not pages: files, recordings, the API, and what only changes state.
NOT_PAGES = ("/static/", "/api/", "/favicon.ico", "/logout")
MAX_PAGES = 80
# The queue and the request pages (callcenter_ui/help_requests.py, templates/requests/*)
# are checked on their own, by test_the_queue_and_the_request_page_are_worded_too: the
# busiest pages, with a failure report of their own.
IN_REWORK = re.compile(r"^/requests/(\?.*|call-backs.*|follow-up.*|new.*|\d+(/volunteers.*)?)?$")


@pytest.fixture
def busy_line(app, staff):
    """The demo's requests and volunteers, with a history: a triage, a deactivation."""
    engine = app.extensions["hotline.engine"]
    settings = app.extensions["hotline.settings"]
    with Session(engine) as session:
        create_demo_data(session, settings)
        session.commit()
        first = session.exec(select(HelpRequest).order_by(HelpRequest.id)).first()
        triage_request(
            session,
            help_request=first,
            operator_id=staff["olga"],
            line=settings.lines["leuven"],
            changes={"urgency": "coming_days", "category": "meal", "notes": "bel eerst aan"},
        )
        volunteer = session.exec(select(Volunteer).order_by(Volunteer.id)).first()
        set_volunteer_active(session, volunteer=volunteer, active=False, operator_id=staff["cor"])
        set_volunteer_active(session, volunteer=volunteer, active=True, operator_id=staff["cor"])
        session.commit()
        names = [v.name for v in session.exec(select(Volunteer))]
        for account in session.exec(select(Operator)):
            names += [account.display_name, account.username]
    line = settings.lines["leuven"]
    places = [line.name, *line.postcodes.values(), line.timezone, settings.public_base_url]
    return [*names, *places, "bel eerst aan"]


def speaking(app, staff, language: str) -> dict[str, StaffClient]:
    """Olga (operator) and Cor (coordinator), both reading the call centre in ``language``."""
    with Session(app.extensions["hotline.engine"]) as session:
        for account in session.exec(select(Operator)):
            account.locale = language
            session.add(account)
        session.commit()
    return {"operator": StaffClient(app, "olga"), "coordinator": StaffClient(app, "cor")}


def walk(client: StaffClient, start: str = "/requests/") -> dict[str, str]:
    """Every page reachable from ``start`` by links and htmx GETs: {path: html}."""
    seen: dict[str, str] = {}
    shapes: set[tuple] = set()
    todo = [start]
    while todo and len(seen) < MAX_PAGES:
        path = todo.pop(0).replace("&amp;", "&")
        parts = urlsplit(path)
        # One page per path and set of query keys: the filters' values all look alike.
        shape = (parts.path, tuple(sorted(key.split("=")[0] for key in parts.query.split("&"))))
        if shape in shapes or path.startswith(NOT_PAGES) or "/recording" in path:
            continue
        shapes.add(shape)
        response = client.get(path, headers={"HX-Request": "true"} if "?" in path else {})
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        html = response.get_data(as_text=True)
        seen[path] = html
        todo.extend(LINK.findall(html))
    return seen


def untranslated_pages(app, staff, data, language: str, *, in_rework: bool) -> dict[str, list]:
    """{"role path": [texts with unknown words]} of the pages walked as both roles."""
    check = TranslationCheck(language, data=data)
    problems, pages = {}, 0
    for role, client in speaking(app, staff, language).items():
        walked = walk(client)
        pages += len(walked)
        for path, html in walked.items():
            if bool(IN_REWORK.match(path)) != in_rework:
                continue
            found = check.untranslated(html)
            if found:
                problems[f"{role} {path}"] = found
    assert pages > 25  # the walk really went round the call centre
    return problems


def report(problems: dict[str, list]) -> str:
    return "\n".join(f"{page}: {found}" for page, found in problems.items())


@pytest.mark.parametrize("language", LANGUAGES)
def test_staff_never_see_a_word_outside_their_language(app, staff, busy_line, language):
    problems = untranslated_pages(app, staff, busy_line, language, in_rework=False)
    assert problems == {}, report(problems)


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code != "en"])
def test_the_queue_and_the_request_page_are_worded_too(app, staff, busy_line, language):
    problems = untranslated_pages(app, staff, busy_line, language, in_rework=True)
    assert problems == {}, report(problems)


def test_a_dutch_operator_never_sees_an_english_word_on_the_volunteers_pages(app, staff, busy_line):
    olga = speaking(app, staff, "nl")["operator"]
    check = TranslationCheck("nl", data=busy_line)
    for path in ("/volunteers/", "/volunteers/new", "/volunteers/1", "/volunteers/leads"):
        html = olga.get(path).get_data(as_text=True)
        assert check.untranslated(html) == [], path
    assert "Nederlands, Frans" in olga.get("/volunteers/").get_data(as_text=True)


def test_the_check_finds_an_english_word_and_leaves_data_alone():
    check = TranslationCheck("nl", data=["Marie Claes", "Kessel-Lo"])
    page = (
        '<html lang="nl"><body><h1>Vrijwilligers</h1><p>Marie Claes · 3010 Kessel-Lo</p>'
        "<p>7 december 2026 14:05</p><p>Status: nieuw → triaged</p>"
        '<button lang="fr">français</button><input placeholder="Search"></body></html>'
    )
    assert check.untranslated(page) == ["'Status: nieuw → triaged': triaged", "'Search': Search"]
    assert "français" not in " ".join(visible_texts(page))  # another language, said as such


def test_a_french_placeholder_sentence_still_shows_an_english_word_inside_it():
    check = TranslationCheck("fr")
    assert check.unknown_words("Statut : nouvelle → triée") == []
    assert check.unknown_words("Statut : new → triée") == ["new"]
