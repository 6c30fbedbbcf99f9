"""A Dutch city clerk's first day, and a French one's (issue #11): their language on every
page, one click to another, error pages that look like the call centre, one word per need."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from flask import abort
from flask_babel import force_locale
from sqlmodel import Session, select

from hotline import vocabulary
from hotline.demo_data import create_demo_login
from hotline.messaging.texts import assignment_offer_text
from hotline.models import AuditEvent, Operator
from tests.conftest import StaffClient
from tests.volunteers_helpers import make_volunteer

ROOT = Path(__file__).resolve().parent.parent


def reads(app, username: str, language: str) -> StaffClient:
    """``username`` logged in, reading the call centre in ``language``."""
    with Session(app.extensions["hotline.engine"]) as session:
        account = session.exec(select(Operator).where(Operator.username == username)).one()
        account.locale = language
        session.add(account)
        session.commit()
    return StaffClient(app, username)


def text(response) -> str:
    return response.get_data(as_text=True)


# --- error pages -------------------------------------------------------------------------


def test_a_wrong_url_shows_a_styled_dutch_404_with_the_menu(app, staff):
    olga = reads(app, "olga", "nl")
    response = olga.get("/vrijwilligers/nergens")
    page = text(response)
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert '<html lang="nl">' in page and "callcenter.css" in page
    assert "Pagina niet gevonden" in page and "Fout 404" in page
    assert ">Wachtrij</a>" in page and ">Vrijwilligers</a>" in page  # the menu
    assert "Not Found" not in page


def test_a_french_visitor_who_is_not_logged_in_gets_a_french_404_without_the_menu(app):
    response = app.test_client().get("/nulle-part", headers={"Accept-Language": "fr-BE,fr"})
    page = text(response)
    assert response.status_code == 404
    assert "Page introuvable" in page and "Vers la page de connexion" in page
    assert ">File d'attente</a>" not in page


@pytest.mark.parametrize(
    ("path", "method", "status", "title"),
    [
        ("/volunteers/", "post", 405, "Dit werkt hier niet"),
        ("/volunteers/?q=a%00b", "get", 400, "Deze aanvraag kon niet gelezen worden"),
        ("/accounts/", "get", 403, "Niet voor uw account"),
    ],
)
def test_other_errors_are_styled_pages_in_the_accounts_language(
    app, staff, path, method, status, title
):
    olga = reads(app, "olga", "nl")
    response = getattr(olga, method)(path)
    assert response.status_code == status
    assert title in text(response) and ">Wachtrij</a>" in text(response)
    if status == 405:
        assert "GET" in response.headers["Allow"]


def test_a_crash_and_a_rate_limit_are_styled_pages_too(app_config, staff):
    from hotline import create_app

    app = create_app(app_config)
    app.add_url_rule("/boom", "boom", lambda: 1 / 0)
    app.add_url_rule("/slow-down", "slow_down", lambda: abort(429))
    client = app.test_client()
    crash = client.get("/boom", headers={"Accept-Language": "fr"})
    assert crash.status_code == 500 and "Un problème est survenu de notre côté" in text(crash)
    assert "ZeroDivisionError" not in text(crash)
    limited = client.get("/slow-down", headers={"Accept-Language": "nl"})
    assert limited.status_code == 429 and "Te veel pogingen" in text(limited)
    app.extensions["hotline.engine"].dispose()


def test_machines_keep_their_own_error_answers(app):
    client = app.test_client()
    api = client.get("/api/v1/nowhere")
    assert api.status_code == 401 and api.mimetype == "application/problem+json"  # token first
    unroutable = client.get("/api/v1/requests/%0A")
    assert unroutable.status_code == 404 and unroutable.mimetype == "application/problem+json"
    webhook = client.post("/twilio/voice", data={"CallSid": "CA" + "0" * 32})
    assert webhook.status_code == 403 and "callcenter.css" not in text(webhook)


# --- the language switch -----------------------------------------------------------------


def test_the_language_switch_is_one_click_away_on_every_page(app, staff):
    olga = reads(app, "olga", "nl")
    for path in ("/requests/", "/volunteers/", "/dashboard/", "/accounts/me", "/nergens"):
        page = text(olga.get(path))
        assert 'action="/language"' in page, path
        assert '<button type="submit" name="language" value="fr"' in page, path
        assert 'lang="fr">français</button>' in page and 'lang="en">English</button>' in page


def test_a_click_on_francais_turns_the_account_and_the_page_french(app, staff, db_session):
    olga = reads(app, "olga", "nl")
    response = olga.post("/language", {"language": "fr", "next": "/volunteers/?q=3000"})
    assert response.status_code == 302 and response.headers["Location"] == "/volunteers/?q=3000"
    page = text(olga.get("/volunteers/?q=3000"))
    assert '<html lang="fr">' in page and "Bénévoles" in page
    assert db_session.exec(select(Operator).where(Operator.username == "olga")).one().locale == "fr"


def test_the_switch_works_before_logging_in_and_never_leaves_the_site(app):
    client = app.test_client()
    login = text(client.get("/login"))
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login).group(1)
    response = client.post(
        "/language", data={"language": "fr", "next": "//evil.example", "csrf_token": token}
    )
    assert response.headers["Location"] == "/requests/"  # not another site
    assert "Se connecter" in text(client.get("/login"))
    assert client.post("/language", data={"language": "xx", "csrf_token": token}).status_code == 400


def test_a_saved_profile_says_so_in_the_language_just_chosen(app, staff):
    olga = reads(app, "olga", "en")
    response = olga.post(
        "/accounts/me", {"display_name": "Olga", "locale": "nl"}, follow_redirects=True
    )
    assert "Uw profiel is opgeslagen." in text(response)
    assert "Your profile is saved." not in text(response)


def test_a_wrong_phone_number_on_the_profile_is_refused_in_dutch(app, staff):
    olga = reads(app, "olga", "nl")
    page = text(olga.post("/accounts/me", {"display_name": "Olga", "locale": "nl",
                                            "phone_number": "12"}))  # fmt: skip
    assert "Dit is geen geldig telefoonnummer." in page
    assert "not a valid phone number" not in page


def test_a_dutch_coordinator_cannot_demote_themselves_and_reads_why_in_dutch(app, staff):
    cor = reads(app, "cor", "nl")
    page = text(cor.post(f"/accounts/{staff['cor']}", {"role": "operator", "active": "y"},
                         follow_redirects=True))  # fmt: skip
    assert "U kunt uw eigen coördinatorrechten niet afnemen" in page
    assert "cannot remove" not in page


def test_an_anonymous_french_visitor_is_asked_to_log_in_in_french(app):
    client = app.test_client()
    response = client.get("/volunteers/", headers={"Accept-Language": "fr"})
    assert response.status_code == 302
    page = text(client.get(response.headers["Location"], headers={"Accept-Language": "fr"}))
    assert "Veuillez vous connecter pour voir cette page." in page
    assert "Please log in" not in page


# --- one vocabulary ----------------------------------------------------------------------


@pytest.mark.parametrize("language", vocabulary.LANGUAGES)
def test_the_phone_menu_names_each_need_with_the_words_of_the_ui_and_the_sms(app, language):
    flow = tomllib.loads((ROOT / "ivr_flows" / "leuven.toml").read_text())
    options = flow["nodes"]["category"]["options"].values()
    said = {option["set"]["category"]: option["label"][language] for option in options}
    assert set(said) == set(vocabulary.CATEGORIES)
    for code, label in said.items():
        assert label == vocabulary.capitalised(vocabulary.category_words(code, language))
        sms = assignment_offer_text(
            language=language, line_name="Leuven Helpt", reference="482913", code="4821",
            category=code, postcode="3000",
        )  # fmt: skip
        assert f"- {vocabulary.category_words(code, language)} in" in sms or (
            f"- {vocabulary.category_words(code, language)} à" in sms
        )


@pytest.mark.parametrize("language", vocabulary.LANGUAGES)
def test_every_urgency_status_and_language_has_a_word_in_every_language(app, language):
    for kind, codes in (
        ("urgency", vocabulary.URGENCIES),
        ("status", vocabulary.STATUSES),
        ("language", vocabulary.LANGUAGES),
        ("category", vocabulary.CATEGORIES),
    ):
        table = vocabulary.words(kind, language)
        assert set(codes) <= set(table), kind
        assert all(table[code].strip() for code in codes), kind
        if language != "en":
            english = vocabulary.words(kind, "en")
            untranslated = [c for c in codes if table[c] == english[c] and kind != "language"]
            assert untranslated == [] or untranslated == ["triaged"] and language == "nl", kind
    assert vocabulary.urgency_words("coming_days", language)


def test_languages_are_named_in_the_readers_language():
    assert [vocabulary.language_name(code, "nl") for code in ("nl", "fr", "en")] == [
        "Nederlands", "Frans", "Engels",
    ]  # fmt: skip
    assert [vocabulary.language_name(code, "fr") for code in ("nl", "fr", "en")] == [
        "néerlandais", "français", "anglais",
    ]  # fmt: skip
    assert vocabulary.ENDONYMS == {"nl": "Nederlands", "fr": "français", "en": "English"}


# --- histories as sentences --------------------------------------------------------------


def test_a_french_coordinator_reads_the_history_as_sentences(app):
    from callcenter_ui.history_words import history_sentence

    triaged = AuditEvent(
        action="triaged",
        operator_id=1,
        detail={"urgency": ["today", "coming_days"], "notes": [None, "bel aan"]},
    )
    status = AuditEvent(action="status", operator_id=1, detail={"from": "new", "to": "triaged"})
    unknown = AuditEvent(action="something_new", operator_id=None, detail={})
    with app.test_request_context(), force_locale("fr"):
        assert history_sentence(triaged) == (
            "Corrigé : urgence : aujourd'hui → ces prochains jours; changement : notes"
        )
        assert history_sentence(status) == "Statut : nouvelle → triée"
        assert history_sentence(unknown) == "Une modification a été enregistrée"  # no raw id


def test_a_volunteers_history_reads_as_dutch_sentences(app, staff, db_session):
    olga = reads(app, "olga", "nl")
    volunteer_id = make_volunteer(app, db_session).id
    olga.post(f"/volunteers/{volunteer_id}/deactivate")
    olga.post(f"/volunteers/{volunteer_id}/reactivate")
    page = text(olga.get(f"/volunteers/{volunteer_id}"))
    for sentence in ("Op inactief gezet", "Opnieuw actief gemaakt"):
        assert sentence in page
    assert "volunteer:" not in page


# --- the demo, the favicon ---------------------------------------------------------------


def test_the_demo_account_speaks_dutch(db_session):
    username, _password = create_demo_login(db_session)
    account = db_session.exec(select(Operator).where(Operator.username == username)).one()
    assert account.locale == "nl"


def test_the_favicon_is_served_where_browsers_look_for_it(app):
    client = app.test_client()
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.get_data(as_text=True).startswith("<svg")
    assert 'rel="icon"' in text(client.get("/login"))


# --- forms that say what they mean -------------------------------------------------------


def volunteer_form(**overrides) -> dict:
    from tests.test_volunteers import registration

    return registration(**overrides)


def test_a_new_volunteer_is_available_any_time_until_days_are_chosen(app, staff):
    olga = reads(app, "olga", "nl")
    form = text(olga.get("/volunteers/new"))
    assert re.search(r'<input checked id="availability_kind-0" name="availability_kind" '
                     r'type="radio" value="any">', form)  # fmt: skip
    assert "Op elk moment" in form and "Enkel op bepaalde dagen en uren" in form
    assert 'placeholder="09:00-12:00"' not in form  # no grey hours on seven days


def test_any_time_stores_no_days_even_when_some_were_typed_before(app, staff, db_session):
    from hotline.models import Volunteer

    olga = reads(app, "olga", "nl")
    response = olga.post("/volunteers/new", volunteer_form(availability_kind="any"))
    assert response.status_code == 302, text(response)
    assert db_session.exec(select(Volunteer)).one().availability == {}


def test_certain_days_need_at_least_one_day(app, staff):
    olga = reads(app, "olga", "nl")
    response = olga.post(
        "/volunteers/new",
        volunteer_form(
            availability_kind="days", **{"availability-mon": "", "availability-sat": ""}
        ),
    )
    assert response.status_code == 400
    assert "Vul minstens één dag in, of kies &#39;op elk moment&#39;." in text(response)


def test_a_volunteer_with_hours_opens_with_their_days_shown(app, staff, db_session):
    from hotline.models import Volunteer

    olga = reads(app, "olga", "nl")
    olga.post("/volunteers/new", volunteer_form(availability_kind="days"))
    volunteer = db_session.exec(select(Volunteer)).one()
    assert volunteer.availability == {"mon": ["09:00-12:00", "14:00-18:00"], "sat": ["10:00-16:00"]}
    form = text(olga.get(f"/volunteers/{volunteer.id}"))
    assert re.search(r'<input checked id="availability_kind-1"[^>]*value="days">', form)
    assert 'value="09:00-12:00, 14:00-18:00"' in form
