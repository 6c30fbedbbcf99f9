"""Where help is wanted now: a line's waiting requests as counts by area, kind and urgency.

What a visitor of the line's public page may know, and nothing more: no name, reference,
street, number or message ever leaves this module, only counts per (area, kind, urgency),
and a count under :data:`FEW` is given as "a few" so that nobody can be singled out.
Counted are the line's requests that wait for a volunteer (new or triaged: nobody has
been asked yet), in one grouped query over the ``ix_help_request_line_queue`` index; the
result is kept for :data:`CACHE_SECONDS` per line (:class:`NeedsCache`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, select

from hotline.access import policy
from hotline.config import LineSettings
from hotline.models import IN_HAND_QUEUE_RANK, HelpRequest
from hotline.overview import WAITING_STATUSES

# Counts under this are shown as "a few", never as a number.
FEW = 3
# How long the counts of a line are kept before the database is asked again.
CACHE_SECONDS = 60.0
URGENCY_ORDER = {"today": 0, "coming_days": 1}


@dataclass(frozen=True)
class Need:
    """Requests waiting in one area for one kind of help with one urgency.

    ``area`` is the municipality's name from the line's postcodes; ``count`` is None when
    there are fewer than :data:`FEW` ("a few").
    """

    area: str
    category: str
    urgency: str | None
    count: int | None

    @property
    def few(self) -> bool:
        """Whether the number is withheld ("a few")."""
        return self.count is None


def waiting_needs(session: Session, *, line: LineSettings, line_id: int) -> list[Need]:
    """The line's requests waiting for a volunteer, counted by area, kind and urgency.

    Areas are the municipalities of the line's postcodes (two postcodes of one town add
    up); a request whose postcode is not one of the line's is not shown, since it has no
    area a visitor could go to. Sorted by area, then most first.
    """
    # The visitor acts as nobody but this line: the policy's filter keeps other towns out.
    visitor = policy.public_visitor(line_id, line.slug)
    rows = session.exec(
        select(HelpRequest.postcode, HelpRequest.category, HelpRequest.urgency, sa.func.count())
        .where(policy.request_filter(visitor))
        # queue_rank narrows the index range to the open, not-yet-in-hand requests; the
        # status then keeps the waiting ones (a stuck request in hand is not "wanted").
        .where(col(HelpRequest.queue_rank) < IN_HAND_QUEUE_RANK)
        .where(col(HelpRequest.status).in_(WAITING_STATUSES))
        .group_by(HelpRequest.postcode, HelpRequest.category, HelpRequest.urgency)
    ).all()
    totals: dict[tuple[str, str, str | None], int] = {}
    for postcode, category, urgency, count in rows:
        area = line.postcodes.get(postcode or "")
        if area is None:
            continue
        key = (area, category or "other", urgency or None)
        totals[key] = totals.get(key, 0) + count
    needs = [
        Need(area=area, category=category, urgency=urgency, count=count if count >= FEW else None)
        for (area, category, urgency), count in totals.items()
    ]
    needs.sort(
        key=lambda need: (
            need.area.casefold(),
            -(need.count or 0),
            URGENCY_ORDER.get(need.urgency or "", 2),
            need.category,
        )
    )
    return needs


class NeedsCache:
    """The counts of each line, computed at most once per ``seconds`` in this process.

    In-process rather than in Redis: the value is a few dozen tuples, each web process asks
    the database at most once a minute per line (a handful of indexed queries a minute in
    all), and the public page keeps working while Redis is away.
    """

    def __init__(self, seconds: float = CACHE_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[float, list[Need]]] = {}

    def get(self, slug: str, compute: Callable[[], list[Need]]) -> list[Need]:
        """The counts of line ``slug``: kept ones if fresh, else ``compute()``'s (one thread
        computes; the others wait for it rather than asking the database too)."""
        with self._lock:
            kept = self._kept.get(slug)
            if kept is not None and self.clock() - kept[0] < self.seconds:
                return kept[1]
            needs = compute()
            self._kept[slug] = (self.clock(), needs)
            return needs

    def clear(self) -> None:
        """Forget every kept count (tests; the next visit asks the database)."""
        with self._lock:
            self._kept.clear()
