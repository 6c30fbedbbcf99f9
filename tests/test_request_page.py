"""A request's page and logging a call, as an operator on day one reads them (issue #11).

The page reads in the order of the work (what the resident needs, triage, volunteers,
contact) and says in one sentence what happens next; its history is sentences, never
codes; the use cases' refusals reach the operator in their own language; an operator of
several lines picks the line a call was for, and only one of their own.
"""

from __future__ import annotations

import html
import re

import pytest
from sqlmodel import Session, select

from hotline import create_app
from hotline.access.accounts import create_operator
from hotline.db import line_row
from hotline.dispatch import assign_volunteer
from hotline.intake import create_help_request
from hotline.models import HelpRequest, Line, Operator, Volunteer, utcnow
from hotline.privacy import store_contact
from hotline.triage import triage_request
from tests.conftest import STAFF_PASSWORD, StaffClient, two_towns_config

SECTION_TITLE = re.compile(r'<h2 id="([a-z-]+)-title"')


def speaking(app, username: str, language: str) -> StaffClient:
    """``username`` logged in, reading the call centre in ``language``."""
    with Session(app.extensions["hotline.engine"]) as session:
        account = session.exec(select(Operator).where(Operator.username == username)).one()
        account.locale = language
        session.add(account)
        session.commit()
    return StaffClient(app, username)


def a_request(app, status: str | None = None) -> int:
    """A request on Leuven's line, as the IVR leaves it (or moved on to ``status``)."""
    settings = app.extensions["hotline.settings"]
    with Session(app.extensions["hotline.engine"]) as session:
        help_request = create_help_request(
            session, line=line_row(session, settings, "leuven"), contact=None, language="nl",
            category="groceries", postcode="3000", urgency="today",
        )  # fmt: skip
        if status:
            help_request.status = status
            session.add(help_request)
        session.commit()
        return help_request.id


def offered_to_a_volunteer(app, request_id: int, operator_id: int) -> None:
    """Olga triaged the request and offered it to Marie by SMS."""
    settings = app.extensions["hotline.settings"]
    with app.app_context(), Session(app.extensions["hotline.engine"]) as session:
        help_request = session.get(HelpRequest, request_id)
        triage_request(session, help_request=help_request, operator_id=operator_id,
                       line=settings.lines["leuven"],
                       changes={"urgency": "coming_days"})  # fmt: skip
        contact = store_contact(session, settings.secrets, "+32470555666")
        marie = Volunteer(line_id=help_request.line_id, name="Marie Claes",
                          contact_id=contact.id, postcode="3000", languages=["nl"],
                          skills=["groceries"], safety_accepted_at=utcnow())  # fmt: skip
        session.add(marie)
        session.commit()
        assign_volunteer(session, help_request=help_request, volunteer=marie,
                         operator_id=operator_id)  # fmt: skip


def next_step(page: str) -> str:
    found = re.search(r'<p class="flash next-step" id="next-step">(.*?)</p>', page, re.S)
    return html.unescape(" ".join(re.sub(r"<[^>]+>", "", found.group(1)).split()))


def history(page: str) -> str:
    return html.unescape(
        " ".join(re.sub(r"<[^>]+>", " ", page.split('class="history"')[1]).split())
    )


def test_a_new_requests_page_reads_needs_then_triage_then_volunteers_then_contact(app, staff):
    request_id = a_request(app)
    olga = speaking(app, "olga", "nl")

    page = olga.get(f"/requests/{request_id}").get_data(as_text=True)

    main = page.split("<main", 1)[1]
    assert SECTION_TITLE.findall(main) == ["needs", "triage", "assign", "contact", "history"]
    assert next_step(page) == (
        "Wat er nu gebeurt: Kijk na wat de inwoner nodig heeft en sla de triage op; "
        "de vrijwilligers in de buurt worden hieronder voorgesteld."
    )


def test_after_an_offer_the_page_says_the_volunteer_answers_ja_or_nee_here(app, staff):
    request_id = a_request(app)
    offered_to_a_volunteer(app, request_id, staff["olga"])
    olga = speaking(app, "olga", "nl")

    page = olga.get(f"/requests/{request_id}").get_data(as_text=True)

    assert next_step(page) == (
        "Wat er nu gebeurt: De vrijwilliger krijgt een sms en antwoordt met JA of NEE; "
        "u ziet het antwoord hier."
    )
    sophie = speaking(app, "cor", "fr")
    french = sophie.get(f"/requests/{request_id}").get_data(as_text=True)
    assert "Le bénévole reçoit un SMS et répond OUI ou NON" in next_step(french)


@pytest.mark.parametrize(
    ("status", "sentence"),
    [
        ("accepted", "De vrijwilliger belt de inwoner via de hulplijn en sms't KLAAR"),
        ("done", "Niets meer te doen: de vrijwilliger heeft geholpen."),
        ("cancelled", "Niets meer te doen: de hulpvraag is afgesloten."),
    ],
)
def test_every_status_says_what_happens_next(app, staff, status, sentence):
    request_id = a_request(app, status=status)
    olga = speaking(app, "olga", "nl")

    page = olga.get(f"/requests/{request_id}").get_data(as_text=True)

    assert sentence in next_step(page)


def test_the_history_reads_in_dutch_sentences_without_codes(app, staff):
    request_id = a_request(app)
    offered_to_a_volunteer(app, request_id, staff["olga"])
    olga = speaking(app, "olga", "nl")
    olga.post(f"/requests/{request_id}/triage", {"category": "meal", "postcode": "3000",
              "urgency": "coming_days", "language": "nl", "notes": "bel eerst aan"})  # fmt: skip

    lines = history(olga.get(f"/requests/{request_id}").get_data(as_text=True))

    assert "Olga Peeters" in lines and "Marie Claes" in lines
    assert "dringendheid: vandaag → komende dagen" in lines
    for code in ("sms_sent", "assignment:", "coming_days", "groceries", "notes —", "aangepast"):
        assert code not in lines, code


def test_the_menus_call_back_list_and_the_buttons_phone_call_have_different_words(app, staff):
    settings = app.extensions["hotline.settings"]
    with Session(app.extensions["hotline.engine"]) as session:
        contact = store_contact(session, settings.secrets, "+32470123456")
        help_request = create_help_request(session, line=line_row(session, settings, "leuven"),
                                           contact=contact, postcode="3000")  # fmt: skip
        session.commit()
        request_id = help_request.id
    olga = speaking(app, "olga", "nl")

    page = olga.get(f"/requests/{request_id}").get_data(as_text=True)

    assert ">Terugbelverzoeken</a>" in page  # the menu: a list
    assert ">Bel de inwoner nu</button>" in page  # the button: a phone call
    assert ">Terugbellen<" not in page


def test_a_refusal_of_triage_reaches_the_operator_in_their_language(app, staff):
    request_id = a_request(app)
    olga = speaking(app, "olga", "nl")

    forged = olga.post(f"/requests/{request_id}/triage",
                       {"category": "meal", "postcode": "1000", "urgency": "today"})  # fmt: skip
    unknown = olga.post(f"/requests/{request_id}/duplicate", {"original_reference": "999999"})
    olga.post(f"/requests/{request_id}/cancel", {"reason": "Familie helpt al"})
    closed = olga.post(f"/requests/{request_id}/triage", {"category": "meal", "postcode": "3000",
                       "urgency": "today", "language": "nl"})  # fmt: skip

    assert forged.status_code == 400
    assert 'id="t-postcode-error"' in forged.get_data(as_text=True)  # the field says what
    assert "Geen hulpvraag van deze hulplijn heeft referentie 999999." in unknown.get_data(
        as_text=True
    )
    assert "De hulpvraag is al geannuleerd" in closed.get_data(as_text=True)


def test_the_first_tab_stop_skips_to_the_content_in_every_language(app, staff):
    for language, words in (("nl", "Naar de inhoud"), ("fr", "Aller au contenu"),
                            ("en", "Skip to content")):  # fmt: skip
        page = speaking(app, "olga", language).get("/requests/").get_data(as_text=True)
        body = page.split("<body>", 1)[1]
        first_link = re.search(r"<(a|button|input|select|textarea)\b[^>]*>([^<]*)", body)
        assert first_link.group(0) == f'<a class="skip-link" href="#content">{words}', language
        assert '<main id="content" tabindex="-1">' in page


# --- logging a call ------------------------------------------------------------------------


@pytest.fixture
def towns(app_config, tmp_path):
    """An installation serving Leuven and Tienen."""
    app = create_app({**app_config, "config_file": two_towns_config(tmp_path)})
    yield app
    app.extensions["hotline.engine"].dispose()


def an_operator(app, username: str, lines: list[str], role: str = "operator") -> StaffClient:
    with Session(app.extensions["hotline.engine"]) as session:
        create_operator(session, username=username, display_name=username.title(),
                        password=STAFF_PASSWORD, locale="nl", role=role,
                        lines=lines)  # fmt: skip
    return StaffClient(app, username)


A_CALL = {"phone_number": "0470 12 34 56", "language": "nl", "category": "dog",
          "urgency": "today", "message": "De hond moet buiten"}  # fmt: skip


def logged_on(app) -> list[tuple[str, str]]:
    with Session(app.extensions["hotline.engine"]) as session:
        return [(slug, request.postcode) for request, slug in
                session.exec(select(HelpRequest, Line.slug).join(Line))]  # fmt: skip


def test_an_operator_of_one_line_sees_no_line_picker(towns):
    tina = an_operator(towns, "tina", ["tienen"])

    form = tina.get("/requests/new").get_data(as_text=True)
    saved = tina.post("/requests/new", {**A_CALL, "postcode": "3300"})

    assert 'name="line"' not in form
    assert saved.status_code == 302
    assert logged_on(towns) == [("tienen", "3300")]


def test_an_operator_of_two_lines_picks_tienen_when_logging_a_call(towns):
    bo = an_operator(towns, "bo", ["leuven", "tienen"])

    form = bo.get("/requests/new").get_data(as_text=True)
    saved = bo.post("/requests/new", {**A_CALL, "line": "tienen", "postcode": "3300"})

    assert "Hulplijn die de inwoner belde" in form
    assert '<option value="tienen">Tienen Helpt</option>' in form
    assert '<option value="leuven">Leuven Helpt</option>' in form
    assert saved.status_code == 302
    assert logged_on(towns) == [("tienen", "3300")]


def test_a_call_without_a_line_or_for_a_postcode_of_the_other_line_is_sent_back(towns):
    bo = an_operator(towns, "bo", ["leuven", "tienen"])

    no_line = bo.post("/requests/new", {**A_CALL, "postcode": "3300"})
    wrong_town = bo.post("/requests/new", {**A_CALL, "line": "leuven", "postcode": "3300"})

    assert no_line.status_code == 400
    assert "Kies een van uw hulplijnen." in no_line.get_data(as_text=True)
    assert wrong_town.status_code == 400
    assert "Postcode 3300 hoort niet bij Leuven Helpt." in wrong_town.get_data(as_text=True)
    assert logged_on(towns) == []


def test_a_forged_line_is_refused_by_the_access_policy(towns):
    """Bo works on Leuven and Tienen; a third town's line, or none at all, is not hers."""
    bo = an_operator(towns, "bo", ["leuven", "tienen"])
    an_operator(towns, "toon", ["tienen"], role="coordinator")
    with Session(towns.extensions["hotline.engine"]) as session:
        bo_account = session.exec(select(Operator).where(Operator.username == "bo")).one()
        bo_account.lines = ["leuven", "tienen", "atlantis"]  # a line no longer configured
        session.add(bo_account)
        session.commit()

    for forged in ("atlantis", "brussel", "../leuven", "1"):
        response = bo.post("/requests/new", {**A_CALL, "line": forged, "postcode": "3000"})
        assert response.status_code == 400, forged
        assert "Kies een van uw hulplijnen." in response.get_data(as_text=True)
    assert logged_on(towns) == []


def test_tina_of_tienen_cannot_log_a_call_for_leuven_by_forging_the_form(towns):
    tina = an_operator(towns, "tina", ["tienen"])

    response = tina.post("/requests/new", {**A_CALL, "line": "leuven", "postcode": "3000"})

    # One line: the form has no line field; the call is Tienen's, and 3000 is not Tienen's.
    assert response.status_code == 400
    assert 'id="postcode-error"' in response.get_data(as_text=True)
    assert logged_on(towns) == []


def test_a_coordinator_gives_tina_leuven_too_and_she_then_picks_the_line(towns):
    cor = an_operator(towns, "cor", [], role="coordinator")
    tina = an_operator(towns, "tina", ["tienen"])
    with Session(towns.extensions["hotline.engine"]) as session:
        tina_id = session.exec(select(Operator.id).where(Operator.username == "tina")).one()
    accounts_page = cor.get("/accounts/").get_data(as_text=True)
    assert 'aria-label="Hulplijnen van tina"' in accounts_page or "tina" in accounts_page

    response = cor.post(f"/accounts/{tina_id}", {"role": "operator", "active": "y",
                                                 "lines": ["leuven", "tienen"]})  # fmt: skip
    assert response.status_code == 302

    form = tina.get("/requests/new").get_data(as_text=True)
    assert 'name="line"' in form
    assert (
        tina.post("/requests/new", {**A_CALL, "line": "leuven", "postcode": "3000"}).status_code
        == 302
    )
    assert logged_on(towns) == [("leuven", "3000")]
