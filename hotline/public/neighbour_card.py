"""The neighbour card: a printable PDF with the line's number, to put in a neighbour's letterbox.

One A4 page per language of the line, holding four A6 cards of that language (print the
page in the language of the street, cut along the dashed lines). Each card has the line's
number in large type, the opening hours, the kinds of help, a blank "Your neighbour ___ can
help you with ___" to fill in by hand, and a QR code to the line's public page.

fpdf2 writes the PDF with its core font (Helvetica: no font file, nothing installed on the
server), in Windows-1252, which holds every letter of Dutch, French and English and the
typographic quotes and dashes; anything else is replaced by its nearest plain letter
(:func:`printable`). segno draws the QR code. A card only changes with the configuration,
so :class:`NeighbourCards` makes each one once per process.
"""

from __future__ import annotations

import io
import threading
import unicodedata
from collections.abc import Sequence

import segno
from fpdf import FPDF

from hotline import vocabulary
from hotline.config import LineSettings
from hotline.public import line_facts
from hotline.vocabulary import N_

# A4 portrait holds four A6 cards (105 x 148 mm), two by two.
PAGE_WIDTH, PAGE_HEIGHT = 210.0, 297.0
CARD_WIDTH, CARD_HEIGHT = PAGE_WIDTH / 2, PAGE_HEIGHT / 2
MARGIN = 8.0
QR_SIZE = 30.0
ENCODING = "windows-1252"
# Characters Windows-1252 lacks that the catalogue or Babel may write.
PLAIN = {
    "\u202f": " ",  # narrow no-break space (French before ":" and "?")
    "\u2009": " ",
    "\u2011": "-",
    "\u2212": "-",
    "\u2192": "->",
    "Ł": "L",  # letters NFKD does not take apart
    "ł": "l",
    "Đ": "D",
    "đ": "d",
}

NEED_HELP = N_("Do you need help? Call")
OPENING_HOURS = N_("Opening hours")
WE_HELP_WITH = N_("We help with")
YOUR_NEIGHBOUR = N_("Your neighbour %(name)s can help you with %(what)s")
FREE_CALL = N_("Scan for more, or to volunteer:")
BLANK = "_" * 18


def printable(text: str) -> str:
    """``text`` in the letters the core font has: Windows-1252, else the nearest plain ones
    ("ŉ" -> "n"), else "?"."""
    out = []
    for char in text:
        char = PLAIN.get(char, char)
        try:
            char.encode(ENCODING)
        except UnicodeEncodeError:
            plain = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            char = plain or "?"
        out.append(char)
    return "".join(out)


def qr_png(url: str) -> io.BytesIO:
    """The QR code of ``url`` as a PNG (medium error correction: a card gets creased)."""
    buffer = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buffer, kind="png", scale=8, border=4)
    buffer.seek(0)
    return buffer


def _say(message: str, language: str, **values: str) -> str:
    text = vocabulary.translate(message, language)
    return printable(text % values if values else text)


def _card(pdf: FPDF, line: LineSettings, language: str, qr: io.BytesIO, x: float, y: float):
    left, width = x + MARGIN, CARD_WIDTH - 2 * MARGIN

    def write(style: str, size: float, height: float, text: str, space_before: float = 0):
        # Every block starts at the card's own left edge (fpdf's ln() would go to the page's).
        pdf.set_xy(left, pdf.get_y() + space_before)
        pdf.set_font("helvetica", style, size)
        pdf.multi_cell(width, height, printable(text), new_x="LEFT", new_y="NEXT")

    pdf.set_xy(left, y + MARGIN)
    write("B", 16, 8, line.name)
    write("", 12, 7, _say(NEED_HELP, language), space_before=1)
    write("B", 30, 14, line_facts.phone_number(line))
    write("B", 10, 5.5, _say(OPENING_HOURS, language), space_before=1)
    write("", 10, 5, line_facts.opening_hours_text(line, language))
    write("B", 10, 5.5, _say(WE_HELP_WITH, language), space_before=2)
    write("", 10, 5, ", ".join(line_facts.kinds_of_help(language)))
    # Room to write a name and a kind of help by hand.
    write("", 12, 10, _say(YOUR_NEIGHBOUR, language, name=BLANK, what=BLANK), space_before=4)
    # The QR code in the bottom right corner, a line of explanation to its left.
    qr_x = x + CARD_WIDTH - MARGIN - QR_SIZE
    qr_y = y + CARD_HEIGHT - MARGIN - QR_SIZE
    pdf.image(qr, x=qr_x, y=qr_y, w=QR_SIZE, h=QR_SIZE)
    pdf.set_xy(left, qr_y + QR_SIZE / 2 - 5)
    pdf.set_font("helvetica", "", 9)
    pdf.multi_cell(width - QR_SIZE - 2, 4.5, _say(FREE_CALL, language))


def _cut_lines(pdf: FPDF) -> None:
    pdf.set_draw_color(150, 150, 150)
    pdf.set_line_width(0.2)
    pdf.set_dash_pattern(dash=2, gap=2)
    pdf.line(CARD_WIDTH, 0, CARD_WIDTH, PAGE_HEIGHT)
    pdf.line(0, CARD_HEIGHT, PAGE_WIDTH, CARD_HEIGHT)
    pdf.set_dash_pattern()


def neighbour_card_pdf(line: LineSettings, languages: Sequence[str], page_url: str) -> bytes:
    """The cards of ``line`` as a PDF: one A4 page of four A6 cards per language."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.core_fonts_encoding = ENCODING
    pdf.set_auto_page_break(False)
    pdf.set_title(printable(line.name))
    pdf.set_creator("Leuven Helpt hotline")
    qr = qr_png(page_url).getvalue()
    for language in languages:
        pdf.add_page()
        _cut_lines(pdf)
        for x, y in ((0, 0), (CARD_WIDTH, 0), (0, CARD_HEIGHT), (CARD_WIDTH, CARD_HEIGHT)):
            _card(pdf, line, language, io.BytesIO(qr), x, y)
    return bytes(pdf.output())


class NeighbourCards:
    """Each line's cards, made once per process and language set (they change only with
    the configuration, which a restart reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made: dict[tuple[str, tuple[str, ...], str], bytes] = {}

    def get(self, line: LineSettings, languages: Sequence[str], page_url: str) -> bytes:
        """The PDF of ``line``'s cards in ``languages``, linking to ``page_url``."""
        key = (line.slug, tuple(languages), page_url)
        with self._lock:
            if key not in self._made:
                self._made[key] = neighbour_card_pdf(line, languages, page_url)
            return self._made[key]
