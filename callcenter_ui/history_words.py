"""A request's and a volunteer's history as sentences, in the reader's language.

The audit log stores actions and codes ("triaged", {"urgency": ["today", "coming_days"]});
people read "Corrected urgency: today → in the coming days". Offers and SMS are worded by
``offer_words``, calls by ``call_words``; this module words everything else and is the one
entry point for a history line (template global ``history_sentence``).
"""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext as _

from callcenter_ui.call_words import call_event_text
from callcenter_ui.offer_words import offer_event_text
from hotline import vocabulary
from hotline.models import AuditEvent
from hotline.retention.anonymise import REMOVED
from hotline.retention.forget import FORGOTTEN_REASON
from hotline.vocabulary import N_

# The fields triage corrects, as an operator names them.
FIELD_WORDS = {
    "category": N_("what is needed"),
    "postcode": N_("area"),
    "urgency": N_("urgency"),
    "language": N_("language"),
    "notes": N_("notes"),
}
# Cancel reasons the system writes itself (anything else was typed by an operator).
SYSTEM_REASONS = {FORGOTTEN_REASON: N_("resident forgotten")}



def _value(field: str, value: object) -> str:
    if value in (None, ""):
        return "—"
    if field in ("category", "urgency", "language"):
        return vocabulary.label(str(value))
    return str(value)


def reason_text(reason: str) -> str:
    """A cancel reason as the reader reads it: the system's own reasons in their language,
    what the retention purge removed as "(removed)", an operator's words as typed."""
    if reason == REMOVED:
        return _("(removed)")
    if reason.startswith("duplicate of "):
        return _("duplicate of %(reference)s", reference=reason.removeprefix("duplicate of "))
    return _(SYSTEM_REASONS[reason]) if reason in SYSTEM_REASONS else reason


def triage_text(detail: dict) -> str:
    """ "Corrected urgency: today → in the coming days; notes changed"."""
    parts = []
    for field, change in detail.items():
        name = _(FIELD_WORDS[field]) if field in FIELD_WORDS else field
        if field == "notes":
            parts.append(_("%(field)s changed", field=name))
        elif isinstance(change, list | tuple) and len(change) == 2:
            old, new = (_value(field, value) for value in change)
            parts.append(_("%(field)s: %(old)s → %(new)s", field=name, old=old, new=new))
        else:
            parts.append(_("%(field)s changed", field=name))
    return _("Corrected %(changes)s", changes="; ".join(parts))


def status_text(detail: dict) -> str:
    """ "Status: new → triaged", with the reason of a cancellation."""
    text = _(
        "Status: %(old)s → %(new)s",
        old=vocabulary.label(detail.get("from")),
        new=vocabulary.label(detail.get("to")),
    )
    if detail.get("reason"):
        text += " " + _("(reason: %(reason)s)", reason=reason_text(str(detail["reason"])))
    return text


def volunteer_text(event: AuditEvent, field_words: dict[str, str]) -> str | None:
    """A line of a volunteer's own history, or None for another kind of event."""
    if event.action == "volunteer:updated":
        changed = ", ".join(str(field_words.get(name, name)) for name in event.detail or {})
        return _("Changed: %(fields)s", fields=changed)
    return {
        "volunteer:created": _("Registered"),
        "volunteer:deactivated": _("Deactivated"),
        "volunteer:reactivated": _("Reactivated"),
    }.get(event.action)


def history_sentence(event: AuditEvent, field_words: dict[str, str] | None = None) -> str:
    """One line of a history (a request's or a volunteer's), never a raw action name."""
    detail = event.detail or {}
    action = event.action
    if action == "status":
        return status_text(detail)
    if action == "triaged":
        return triage_text(detail)
    for wording in (offer_event_text, call_event_text):
        text = wording(event)
        if text is not None:
            return text
    text = volunteer_text(event, field_words or {})
    if text is not None:
        return text
    return {
        "duplicate": _("duplicate of %(reference)s", reference=detail.get("of", "")),
        "logged_live_call": _("call taken live"),
        "call_back": _("called the resident back"),
        "caller_blocked": _("blocked the caller"),
        "caller_unblocked": _("unblocked the caller"),
        "resident_forgotten": _("forgot the resident"),
        "call_taken_dismissed": _("dismissed the call without a request"),
        "volunteer_lead": _("Follow-up of a volunteer lead noted"),
    }.get(action, _("A change was recorded"))


def init_app(app: Flask) -> None:
    """Make ``history_sentence`` available to every template."""
    app.add_template_global(history_sentence)
