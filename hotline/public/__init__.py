"""The public side of a line, for residents and neighbours (no login, no personal data).

- :mod:`hotline.public.line_facts`: what a line's page and card both say (the number as
  people dial it, the opening hours, the languages, the kinds of help), in one language.
- :mod:`hotline.public.needs`: where help is wanted now, as counts by area and kind, with
  small counts hidden; one grouped query, cached for a minute.
- :mod:`hotline.public.neighbour_card`: the printable neighbour card (PDF, QR code).
"""
