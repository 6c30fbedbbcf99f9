"""How the call centre says times, one way on every page."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _


def duration(value: timedelta | None) -> str:
    """A waiting time as operators say it: '45 s', '12 min', '2 h 05 min', '3 d 4 h'."""
    if value is None:
        return "–"
    seconds = int(value.total_seconds())
    if seconds < 60:
        return _("%(s)d s", s=seconds)
    minutes = seconds // 60
    if minutes < 60:
        return _("%(m)d min", m=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return _("%(h)d h %(m)02d min", h=hours, m=minutes)
    days, hours = divmod(hours, 24)
    return _("%(d)d d %(h)d h", d=days, h=hours)
