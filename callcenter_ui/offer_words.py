"""Offers and their SMS in the operator's words, one wording for every page.

Template globals (registered by ``init_app``): ``sms_failure_text`` and
``sms_failure_reason`` (Twilio's error codes in plain words), ``offer_status_text``,
``sms_status_text``, ``offer_state_text`` and ``queue_offer_text`` (an offer at a
glance), ``is_no_volunteer_found``, and ``OFFER_EVENT_ACTIONS`` (the history events
that ``offer_event_text`` describes, through ``history_label``).
"""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext as _
from flask_babel import ngettext

from hotline.messaging import sending
from hotline.messaging.conversation import OfferState, is_no_volunteer_found
from hotline.models import AuditEvent

# Outbound delivery statuses (ours and Twilio's), grouped the way operators care about them.
ON_ITS_WAY = ("pending", "submitting", "accepted", "scheduled", "queued", "sending")
DELIVERED = ("delivered", "read")
NOT_DELIVERED = ("undelivered", "failed", "canceled")
# History events about offers and SMS that are not "assignment:..." actions.
OFFER_EVENT_ACTIONS = (
    "sms_sent",
    "sms_not_sent",
    "sms_undelivered",
    "sms_opted_out",
    "sms_opted_in",
    "sms_reminder",
    "no_volunteer_found",
    "needs_follow_up",
)


def sms_failure_reason(code: int | None) -> str:
    """Why an SMS did not reach the volunteer, from Twilio's error code, in a few words."""
    reasons = {
        30003: _("the phone is off or out of reach"),
        30004: _("the volunteer blocked messages from this number"),
        30005: _("the number does not exist"),
        30006: _("the number cannot receive SMS (a landline, or an unreachable carrier)"),
        30007: _("the carrier filtered the message"),
        21610: _("the volunteer texted STOP"),
        21614: _("the number is not a mobile number"),
        21211: _("the number is not valid"),
    }
    if code in reasons:
        return reasons[code]
    if code:
        return _("not delivered (error %(code)s)", code=code)
    return _("not delivered")


def sms_failure_text(code: int | None) -> str:
    """The sentence for an SMS that did not reach the volunteer (request history, panel)."""
    return _(
        "SMS to the volunteer could not be delivered: %(reason)s", reason=sms_failure_reason(code)
    )


def offer_status_text(status: str) -> str:
    """Where an offer stands (hotline.dispatch.AssignmentStatus), in words."""
    return {
        "offered": _("waiting for an answer"),
        "accepted": _("accepted"),
        "declined": _("declined"),
        "expired": _("expired (no answer in time)"),
        "undelivered": _("SMS not delivered"),
        "cancelled": _("withdrawn"),
        "done": _("done"),
        "given_back": _("given back"),
    }.get(status, status)


def sms_status_text(status: str | None) -> str:
    """What became of one text to a volunteer (or that it came in), in words."""
    if status in ON_ITS_WAY:
        return _("SMS on its way")
    if status in DELIVERED:
        return _("SMS delivered")
    if status in NOT_DELIVERED:
        return _("SMS not delivered")
    if status == "sent":
        return _("SMS sent")
    if status == "not_sent":
        return _("SMS not sent")
    if status == "received":
        return _("received")
    return status or ""


def offer_state_text(state: OfferState) -> str:
    """One offer at a glance: its SMS's delivery while it waits, else where it ended."""
    if state.status != "offered" or state.sms_status is None:
        return offer_status_text(state.status)
    if state.sms_status in (*DELIVERED, *NOT_DELIVERED, "not_sent"):
        return sms_status_text(state.sms_status)
    return _("waiting")


def queue_offer_text(states: list[OfferState]) -> str:
    """A request's offers in a queue cell: "Mia C. · SMS delivered" or "2 asked · waiting"."""
    if not states:
        return ""
    if len(states) == 1:
        return f"{states[0].short_name} · {offer_state_text(states[0])}"
    return _("%(num)d asked · waiting", num=len(states))


def offer_event_text(event: AuditEvent) -> str | None:
    """A history line for an offer or SMS event, or None when the event is of another kind."""
    detail = event.detail or {}
    by_sms = detail.get("via") == "sms"
    action = event.action
    if action == "assignment:offered":
        return _("Offered a request (code %(code)s)", code=detail.get("code", ""))
    if action == "assignment:accepted":
        return _("Accepted a request (by SMS)") if by_sms else _("Accepted a request")
    if action == "assignment:declined":
        return _("Declined a request (by SMS)") if by_sms else _("Declined a request")
    if action == "assignment:done":
        return _("Finished a request (by SMS)") if by_sms else _("Finished a request")
    if action == "assignment:given_back":
        return _("Gave a request back (by SMS)") if by_sms else _("Gave a request back")
    if action == "assignment:expired":
        return _("Offer expired: no answer in time")
    if action == "assignment:undelivered":
        return sms_failure_text(detail.get("code"))
    if action == "assignment:cancelled":
        return {
            "another volunteer accepted": _("Offer withdrawn: another volunteer accepted"),
            "the request is done": _("Offer withdrawn: the request is done"),
            "request cancelled": _("Offer withdrawn: the request was cancelled"),
            "the volunteer texted STOP": _("Offer withdrawn: the volunteer texted STOP"),
        }.get(detail.get("reason"), _("Offer withdrawn"))
    if action == "sms_sent":
        return {
            "offer": _("SMS with the request sent to the volunteer"),
            "details": _("SMS with the request's details sent to the volunteer"),
            "taken": _("SMS sent to the volunteer: someone else was quicker"),
            "reminder": _("Reminder SMS sent to the volunteer"),
            "thanks": _("Thank-you SMS sent to the volunteer"),
        }.get(detail.get("kind"), _("SMS sent to the volunteer"))
    if action == "sms_not_sent":
        return _sms_not_sent_text(detail)
    if action == "sms_undelivered":
        return sms_failure_text(detail.get("code"))
    if action == "sms_opted_out":
        return _("Does not want SMS any more (texted STOP)")
    if action == "sms_opted_in":
        return _("Wants SMS again (texted START)")
    if action == "sms_reminder":
        return _("Not reported done yet: a reminder goes to the volunteer")
    if action == "no_volunteer_found":
        asked = int(detail.get("asked") or 0)
        if not asked:
            return _("No volunteer found: nobody could be asked by SMS")
        return ngettext(
            "No volunteer found: %(num)d volunteer was asked",
            "No volunteer found: %(num)d volunteers were asked",
            asked,
        )
    if action == "needs_follow_up":
        return _(
            "Needs follow-up: the volunteer accepted but has not reported done, "
            "even after a reminder"
        )
    return None


def _sms_not_sent_text(detail: dict) -> str:
    # A reason this page does not know still says what matters: phone the volunteer.
    if detail.get("code"):
        return sms_failure_text(detail["code"]) + " " + _("Phone the volunteer.")
    return {
        sending.OFFER_CLOSED: _("SMS not sent: the offer was closed before it left."),
        sending.OPTED_OUT: _(
            "SMS not sent: the volunteer does not want SMS (texted STOP). Phone the volunteer."
        ),
        sending.NO_NUMBER: _("SMS not sent: no mobile number on file. Phone the volunteer."),
        sending.NO_SENDER: _("SMS not sent: the line has no SMS sender. Phone the volunteer."),
    }.get(detail.get("reason"), _("The SMS could not be sent: phone the volunteer."))


def init_app(app: Flask) -> None:
    """Make the wording available to every template."""
    for function in (
        sms_failure_text,
        sms_failure_reason,
        offer_status_text,
        sms_status_text,
        offer_state_text,
        queue_offer_text,
        is_no_volunteer_found,
    ):
        app.add_template_global(function)
    app.add_template_global(OFFER_EVENT_ACTIONS, "OFFER_EVENT_ACTIONS")
