"""A line's public page on a phone, in a real Chromium: readable at 360 px, no policy
violation, the number one tap away, and a clean printout."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import Session

from hotline.db import line_row
from hotline.intake import create_help_request
from tests.browser.test_accessibility import violations

pytestmark = pytest.mark.browser
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def phone(browser):
    """A phone-sized tab (360 x 740, a small Android), in French."""
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, locale="fr-BE", is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.add_init_script(REPORT_VIOLATIONS)
    yield page
    context.close()


def test_a_neighbour_reads_the_page_on_a_phone_in_french(live_app, phone, tmp_path):
    settings = live_app.extensions["hotline.settings"]
    with Session(live_app.extensions["hotline.engine"]) as session:
        line = line_row(session, settings, "leuven")
        for _ in range(4):
            create_help_request(session, line=line, contact=None, postcode="3010",
                                category="groceries", urgency="today")  # fmt: skip
        session.commit()
    errors: list[str] = []
    phone.on("console", lambda message: message.type == "error" and errors.append(message.text))

    response = phone.goto(f"{live_app.base_url}/leuven/")

    assert response.status == 200
    assert phone.locator("html").get_attribute("lang") == "fr"  # the phone's language
    number = phone.locator("a.hotline-number")
    assert number.inner_text() == "016 27 27 72"
    assert number.get_attribute("href") == "tel:+3216272772"
    assert float(number.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= 32
    needs = phone.locator(".needs").inner_text()
    assert "4 demandes pour courses ou pharmacie à Kessel-Lo" in needs
    # Nothing wider than the phone: no sideways scrolling.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    assert phone.context.cookies() == []
    phone.screenshot(path=str(tmp_path / "public-page-360.png"), full_page=True)

    phone.locator(".public-languages a[lang=nl]").click()
    assert phone.locator("html").get_attribute("lang") == "nl"
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360

    # Printed: no language links, no buttons to the PDF, the number still large.
    phone.emulate_media(media="print")
    assert not phone.locator(".public-languages").is_visible()
    assert not phone.locator(".no-print").first.is_visible()
    assert number.is_visible()
    assert errors == []


def test_axe_finds_nothing_on_the_public_page_in_any_of_the_lines_languages(live_app, phone):
    axe_playwright = pytest.importorskip("axe_playwright_python")
    source = (Path(axe_playwright.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
    found = {}
    for language in live_app.extensions["hotline.settings"].lines["leuven"].languages:
        phone.goto(f"{live_app.base_url}/leuven/?lang={language}")
        found[language] = violations(phone, source)
    assert found == {language: [] for language in found}
