"""An operator who works with the keyboard alone (Tab, Enter, Space), in French and in Dutch.

She logs in, reaches the queue, tabs to a request, stays on it while the queue refreshes
itself (twice, and a new request arrives above it meanwhile), opens it, triages it and
assigns a suggested volunteer. No mouse, no click(): only keys, as a real keyboard user
has them. Every word she is looked up in the catalogue of her language.
"""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session

from hotline.access.accounts import create_operator
from hotline.db import line_row
from hotline.intake import create_help_request
from hotline.models import Volunteer, utcnow
from hotline.privacy import store_contact
from hotline.vocabulary import translate
from tests.conftest import STAFF_PASSWORD

pytestmark = pytest.mark.browser
MAX_TABS = 80  # a keyboard user gives up long before this

# What the focused element is, in words a test failure can show.
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "nothing";
  const name = el.getAttribute("aria-label") || el.labels?.[0]?.innerText || el.innerText
    || el.value || "";
  return `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} ${name.trim().slice(0, 60)}`;
}"""


def tab_to(page, target) -> None:
    """Press Tab until ``target`` (a CSS selector or a Playwright locator) has keyboard
    focus, and check that the browser shows where focus is (a visible outline)."""
    locator = page.locator(target) if isinstance(target, str) else target
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if locator.evaluate("(el) => el === document.activeElement"):
            outline = page.evaluate(
                "() => { const s = getComputedStyle(document.activeElement);"
                " return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2; }"
            )
            assert outline, f"focus on {page.evaluate(FOCUSED)} is not visible"
            return
    raise AssertionError(f"{MAX_TABS} presses of Tab never reached {target}")


def until(page, function: str, *, seconds: float = 20) -> None:
    """Wait until ``function`` (JavaScript) is true; polled from here, since the page's
    Content-Security-Policy forbids the eval behind Playwright's wait_for_function."""
    for _ in range(int(seconds * 10)):
        if page.evaluate(function):
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"never true: {function}")


def wait_for_refreshes(page, count: int) -> None:
    """Let the queue refresh itself ``count`` times (htmx settles each swap)."""
    page.evaluate(
        "() => { window.queueRefreshes = 0; document.body.addEventListener('htmx:afterSettle',"
        " (e) => { if (e.detail.elt.id === 'queue') window.queueRefreshes++; }); }"
    )
    until(page, f"() => window.queueRefreshes >= {count}")


@pytest.fixture
def waiting_request(live_app):
    """A new request from the phone menu, a volunteer nearby who fits it, and two accounts:
    Françoise (French) and Olga (Dutch)."""
    settings = live_app.extensions["hotline.settings"]
    with Session(live_app.extensions["hotline.engine"]) as session:
        for username, name, locale in (("francoise", "Françoise Dubois", "fr"),
                                       ("olga", "Olga Peeters", "nl")):  # fmt: skip
            create_operator(session, username=username, display_name=name,
                            password=STAFF_PASSWORD, locale=locale)  # fmt: skip
        line = line_row(session, settings, "leuven")
        contact = store_contact(session, settings.secrets, "+32470555666")
        session.add(Volunteer(line_id=line.id, name="Marie Claes", contact_id=contact.id,
                              postcode="3000", languages=["nl", "fr"], skills=["groceries"],
                              safety_accepted_at=utcnow()))  # fmt: skip
        help_request = create_help_request(session, line=line, contact=None, language="fr",
                                           postcode="3000", category="groceries",
                                           urgency="coming_days")  # fmt: skip
        session.commit()
        return help_request.id


def phone_in_urgent_request(live_app) -> str:
    """Another resident's request arrives (urgent: it goes above the one in focus)."""
    settings = live_app.extensions["hotline.settings"]
    with Session(live_app.extensions["hotline.engine"]) as session:
        line = line_row(session, settings, "leuven")
        help_request = create_help_request(
            session,
            line=line,
            contact=None,
            language="nl",
            postcode="3010",
            category="meal",
            urgency="today",
        )
        session.commit()
        return help_request.reference


@pytest.mark.parametrize(("username", "language"), [("francoise", "fr"), ("olga", "nl")])
def test_an_operator_does_her_whole_job_with_the_keyboard_alone(
    live_app, page, waiting_request, username, language
):
    def words(english: str) -> str:
        return translate(english, language)

    page.goto(live_app.base_url + "/login")
    tab_to(page, "input[name=username]")
    page.keyboard.type(username)
    tab_to(page, "input[name=password]")
    page.keyboard.type(STAFF_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/requests/")
    assert page.locator("html").get_attribute("lang") == language

    # The queue: she tabs to the request and stays there while the queue refreshes.
    link = f'a[href="/requests/{waiting_request}"]'
    row = page.locator(f"#request-{waiting_request}")
    assert words("French") in row.inner_text()  # the language by name, not "fr"
    assert words("in the coming days") in row.inner_text()
    tab_to(page, link)
    page.evaluate("() => { document.activeElement.keptByTheRefresh = true; }")

    # What a screen reader hears (the polite region's texts) and what a sighted colleague
    # sees (the new row lit up), as they happen.
    page.evaluate(
        "() => { window.heard = []; window.lit = [];"
        " new MutationObserver(() => window.heard.push(document.querySelector('#queue-news')"
        ".textContent)).observe(document.querySelector('#queue-news'),"
        " {childList: true, characterData: true, subtree: true});"
        " new MutationObserver(() => document.querySelectorAll('tr.arrived')"
        ".forEach((tr) => window.lit.push(tr.dataset.reference)))"
        ".observe(document.querySelector('#queue-rows'), {childList: true, attributes: true,"
        " subtree: true}); }"
    )
    arrived = phone_in_urgent_request(live_app)
    wait_for_refreshes(page, 2)
    new_row = page.locator(f'tr[data-reference="{arrived}"]')
    assert new_row.is_visible()
    # The new, urgent request is above hers; she is where she was, on the very same link.
    assert new_row.evaluate("(tr, other) => !!(tr.compareDocumentPosition(other) & 4)",
                            row.element_handle())  # fmt: skip
    assert page.evaluate(f"document.activeElement.matches('{link}')"), page.evaluate(FOCUSED)
    assert page.evaluate("document.activeElement.keptByTheRefresh === true")
    assert page.locator("#queue-news").get_attribute("aria-live") == "polite"
    one_new = words("%(num)d new request").replace("%(num)d", "1")
    assert one_new in page.evaluate("window.heard"), page.evaluate("window.heard")
    assert arrived in page.evaluate("window.lit")

    # She opens it, triages it and assigns the suggested volunteer.
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert re.search(rf"/requests/{waiting_request}$", page.url)
    tab_to(page, "#t-notes")
    page.keyboard.type("Pain et médicaments." if language == "fr" else "Brood en medicijnen.")
    tab_to(page, page.get_by_role("button", name=words("Save triage"), exact=True))
    with page.expect_navigation():
        page.keyboard.press("Space")
    assert page.locator("h1 .badge").first.inner_text() == words("triaged")

    marie = page.locator(".suggestion", has_text="Marie Claes")
    tab_to(page, marie.get_by_role("button"))  # its one button: assign her
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("h1 .badge").first.inner_text() == words("assigned")
    assert "Marie Claes" in page.locator(".assignments").inner_text()


def test_the_queue_keeps_her_scroll_position_and_a_filter_she_is_choosing(live_app, page):
    """Half-way down a long queue, a filter chosen but not yet applied: two refreshes, one
    with a new request, change neither."""
    settings = live_app.extensions["hotline.settings"]
    with Session(live_app.extensions["hotline.engine"]) as session:
        create_operator(session, username="olga", display_name="Olga Peeters",
                        password=STAFF_PASSWORD, locale="nl")  # fmt: skip
        line = line_row(session, settings, "leuven")
        for _ in range(40):
            create_help_request(session, line=line, contact=None, language="nl",
                                postcode="3000", category="meal")  # fmt: skip
        session.commit()
    page.set_viewport_size({"width": 1280, "height": 600})
    page.goto(live_app.base_url + "/login")
    page.get_by_label("Gebruikersnaam").fill("olga")
    page.get_by_label("Wachtwoord").fill(STAFF_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/requests/")

    page.select_option("#f-category", "dog")  # chosen, not yet applied
    page.mouse.wheel(0, 900)
    until(page, "() => window.scrollY > 500")
    scrolled = page.evaluate("window.scrollY")
    arrived = phone_in_urgent_request(live_app)
    wait_for_refreshes(page, 2)

    assert page.locator(f'tr[data-reference="{arrived}"]').count() == 1  # it did refresh
    assert abs(page.evaluate("window.scrollY") - scrolled) < 5
    assert page.locator("#f-category").input_value() == "dog"
