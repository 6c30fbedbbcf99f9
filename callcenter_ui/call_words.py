"""Phone calls in the operator's words: a request's history and the call-backs list.

Template globals (registered by ``init_app``): ``call_event_text`` and
``CALL_EVENT_ACTIONS`` (the history events it describes), and
``call_back_outcome_text`` (how a call-back ended).
"""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext as _

from hotline.models import AuditEvent

# History events about calls; "call_back" itself keeps its line in the request page.
CALL_EVENT_ACTIONS = ("call_taken", "call_back_result", "masked_call")


def call_back_outcome_text(outcome: str | None) -> str:
    """How a call-back ended (hotline.voice.callbacks.OUTCOMES), in a few words."""
    return {
        "connected": _("put through"),
        "not_answered": _("not answered"),
        "not_confirmed": _("not confirmed by the operator"),
    }.get(outcome or "", _("no result yet"))


def call_event_text(event: AuditEvent) -> str | None:
    """A history line for a call event, or None when the event is of another kind."""
    detail = event.detail or {}
    if event.action == "call_taken":
        return _("answered the call and saved this request")
    if event.action == "call_back_result":
        return _("call-back: %(outcome)s", outcome=call_back_outcome_text(detail.get("outcome")))
    if event.action == "masked_call":
        answered = detail.get("outcome") == "connected"
        if detail.get("direction") == "resident_to_volunteer":
            if answered:
                return _("The resident called the volunteer through the hotline: put through")
            return _("The resident called the volunteer through the hotline: not answered")
        if answered:
            return _("The volunteer called the resident through the hotline: put through")
        return _("The volunteer called the resident through the hotline: not answered")
    return None


def init_app(app: Flask) -> None:
    """Make the wording available to every template."""
    app.add_template_global(call_event_text)
    app.add_template_global(call_back_outcome_text)
    app.add_template_global(CALL_EVENT_ACTIONS, "CALL_EVENT_ACTIONS")
