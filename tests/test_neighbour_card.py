"""The neighbour card: a resident prints it, writes a name on it, puts it in a letterbox.

The PDF is read back as a reader would: pypdf opens it and extracts its text, the page
size says A4, and the QR code (the image embedded in the PDF) is decoded with zxing-cpp.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import time

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader

from hotline.public.neighbour_card import (
    CARD_HEIGHT,
    CARD_WIDTH,
    MARGIN,
    QR_SIZE,
    neighbour_card_pdf,
    printable,
)
from tests.conftest import PUBLIC_BASE_URL

MM = 72 / 25.4  # PDF points per millimetre
A4 = (210 * MM, 297 * MM)


def card(app, query: str = "") -> PdfReader:
    """The line's card as the browser downloads it, opened with pypdf."""
    response = app.test_client().get("/leuven/neighbour-card.pdf" + query)
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    return PdfReader(io.BytesIO(response.data))


def text_of(reader: PdfReader, page: int) -> str:
    """A page's text with its lines joined, as someone reading it aloud would."""
    return " ".join(reader.pages[page].extract_text().split())


def test_one_a4_page_of_four_cards_per_language_of_the_line(app):
    reader = card(app)

    assert len(reader.pages) == 3  # Leuven speaks nl, fr, en
    for page in reader.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        assert (width, height) == pytest.approx(A4, abs=0.5)
        # Four cards: the number is on each of them.
        assert page.extract_text().count("016 27 27 72") == 4
    assert CARD_WIDTH * 2 == 210 and CARD_HEIGHT * 2 == 297  # A6 cards, two by two


def test_each_page_speaks_its_language_with_its_accents(app):
    reader = card(app)
    dutch, french, english = (text_of(reader, page) for page in range(3))

    assert "Leuven Helpt" in dutch and "016 27 27 72" in dutch
    assert "Hebt u hulp nodig? Bel" in dutch
    assert "Openingsuren" in dutch and "Elke dag 08:00–20:00" in dutch
    assert "Boodschappen of apotheek" in dutch and "De hond uitlaten" in dutch
    assert "Uw buur ______" in dutch and "kan u helpen met ______" in dutch

    assert "Besoin d’aide ? Appelez le" in french
    assert "Heures d’ouverture" in french and "Tous les jours 08:00–20:00" in french
    assert "Courses ou pharmacie" in french and "Promener le chien" in french
    assert "Votre voisin ______" in french and "bénévole" in french

    assert "Do you need help? Call" in english and "Every day 08:00–20:00" in english
    assert "Your neighbour ______" in english and "can help you with ______" in english


def test_one_language_alone_when_asked(app):
    reader = card(app, "?lang=fr")

    assert len(reader.pages) == 1
    assert "Besoin d’aide" in text_of(reader, 0)
    assert app.test_client().get("/leuven/neighbour-card.pdf?lang=de").status_code == 404


def test_the_qr_code_leads_to_the_lines_public_page(app):
    reader = card(app)

    for page in reader.pages:
        images = page.images
        assert len(images) == 1  # the one QR code, embedded once...
        assert page.get_contents().get_data().count(b" Do") == 4  # ...and drawn on each card
        image = Image.open(io.BytesIO(images[0].data))
        decoded = zxingcpp.read_barcodes(image)
        assert [barcode.text for barcode in decoded] == [f"{PUBLIC_BASE_URL}/leuven/"]
        assert decoded[0].format == zxingcpp.BarcodeFormat.QRCode


def test_nothing_written_runs_into_the_qr_code_or_off_the_card(app):
    """Long translations must fit: every piece of text stays inside its card and clear of
    the QR code in the card's bottom right corner."""
    reader = card(app)
    for number, page in enumerate(reader.pages):
        placed: list[tuple[float, float, str]] = []

        def remember(text, cm, tm, font, size, placed=placed):
            if text.strip():
                placed.append((tm[4] / MM, 297 - tm[5] / MM, text.strip()))

        page.extract_text(visitor_text=remember)
        # Each card, in its own quarter of the page, has the number and the blank to fill in.
        for needle in ("016 27 27 72", "______"):
            quarters = {(x // CARD_WIDTH, y // CARD_HEIGHT) for x, y, text in placed
                        if needle in text}  # fmt: skip
            assert quarters == {(0, 0), (1, 0), (0, 1), (1, 1)}, (number, needle, quarters)
        for x, y, text in placed:
            card_x, card_y = x % CARD_WIDTH, y % CARD_HEIGHT
            where = f"page {number + 1}: {text!r} at {x:.0f},{y:.0f} mm"
            assert MARGIN - 0.5 <= card_x < CARD_WIDTH - MARGIN, where
            assert MARGIN - 0.5 <= card_y <= CARD_HEIGHT - MARGIN + 0.5, where
            in_qr_column = card_x >= CARD_WIDTH - MARGIN - QR_SIZE - 0.5
            in_qr_row = card_y >= CARD_HEIGHT - MARGIN - QR_SIZE - 0.5
            assert not (in_qr_column and in_qr_row), where


def test_the_card_is_made_once_and_may_be_kept(app):
    first = app.test_client().get("/leuven/neighbour-card.pdf")
    again = app.test_client().get("/leuven/neighbour-card.pdf")

    assert first.data == again.data
    assert first.headers["Cache-Control"] == "public, max-age=3600"
    assert "Set-Cookie" not in first.headers
    assert first.headers["Content-Disposition"] == 'inline; filename="leuven-neighbour-card.pdf"'


def test_the_public_page_links_to_the_card_in_its_language_and_in_all(app):
    body = app.test_client().get("/leuven/?lang=fr").get_data(as_text=True)

    assert 'href="/leuven/neighbour-card.pdf?lang=fr"' in body
    assert 'href="/leuven/neighbour-card.pdf"' in body


def test_letters_the_core_font_lacks_become_their_nearest_plain_ones():
    assert printable("L’aide – “ça” ë à ç é è …") == "L’aide – “ça” ë à ç é è …"
    assert printable("Besoin d’aide\u202f?") == "Besoin d’aide ?"
    assert printable("Łódź ŉ ☎") == "Lódz n ?"


def test_a_town_with_other_hours_and_one_language(app):
    settings = app.extensions["hotline.settings"]
    weekdays = {day: (time(9), time(17)) for day in range(5)}
    line = replace(
        settings.lines["leuven"],
        name="Tienen Helpt",
        phone_number="+3216805700",
        languages=("fr",),
        opening_hours={**weekdays, 5: (time(9), time(12))},
    )
    reader = PdfReader(io.BytesIO(neighbour_card_pdf(line, line.languages, "https://x.test/t/")))

    text = text_of(reader, 0)
    assert len(reader.pages) == 1
    assert "016 80 57 00" in text
    assert "Lundi–vendredi 09:00–17:00; Samedi 09:00–12:00; Dimanche fermé" in text
