"""SMS to volunteers: the texts (Dutch, French, English) and sending them once.

Texts name the request by its reference and say what, where and when, but never
the resident's name or number: an SMS can be read by anyone holding the phone.
They stay within the GSM 03.38 alphabet (no dashes, no curly quotes), so that a
message is billed as plain 160-character segments instead of 70-character ones.
"""

from __future__ import annotations

import logging

from sqlmodel import Session, select

from hotline.audit import record
from hotline.config import LineSettings, Settings
from hotline.models import Assignment, AuditEvent, Contact, HelpRequest, Line, Volunteer
from hotline.privacy import reveal_number
from hotline.telephony import Provider, TelephonyError

log = logging.getLogger(__name__)

LANGUAGES = ("nl", "fr", "en")
# The words a volunteer answers an offer with, in the language the offer was sent in.
REPLY_WORDS: dict[str, tuple[str, str]] = {
    "nl": ("JA", "NEE"),
    "fr": ("OUI", "NON"),
    "en": ("YES", "NO"),
}
CATEGORIES: dict[str, dict[str, str]] = {
    "nl": {
        "groceries": "boodschappen of apotheek",
        "meal": "een maaltijd",
        "errand": "een klusje (post, bank)",
        "dog": "de hond uitlaten",
        "talk": "een babbel",
        "other": "iets anders",
    },
    "fr": {
        "groceries": "courses ou pharmacie",
        "meal": "un repas",
        "errand": "poste ou banque",
        "dog": "promener le chien",
        "talk": "parler avec quelqu'un",
        "other": "autre chose",
    },
    "en": {
        "groceries": "groceries or pharmacy",
        "meal": "a meal",
        "errand": "an errand (post, bank)",
        "dog": "walking the dog",
        "talk": "someone to talk to",
        "other": "something else",
    },
}
URGENCIES: dict[str, dict[str, str]] = {
    "nl": {"today": "vandaag", "coming_days": "komende dagen"},
    "fr": {"today": "aujourd'hui", "coming_days": "ces prochains jours"},
    "en": {"today": "today", "coming_days": "in the coming days"},
}
WHERE = {"nl": " in {place}", "fr": " à {place}", "en": " in {place}"}
OFFER = {
    "nl": "{line}: nieuwe hulpvraag {reference} - {what}{where}{when}. "
    "Antwoord {yes} {code} om te aanvaarden of {no} {code} om te weigeren.",
    "fr": "{line}: nouvelle demande {reference} - {what}{where}{when}. "
    "Répondez {yes} {code} pour accepter ou {no} {code} pour refuser.",
    "en": "{line}: new help request {reference} - {what}{where}{when}. "
    "Reply {yes} {code} to accept or {no} {code} to decline.",
}
SMS_SENT = "sms_sent"  # audit action: the detail holds the provider's message_sid


def volunteer_language(volunteer: Volunteer, line: LineSettings | None = None) -> str:
    """The language to text a volunteer in: their first one we have texts for."""
    for language in [*volunteer.languages, *(line.languages if line else ()), "nl"]:
        if language in LANGUAGES:
            return language
    return "nl"


def assignment_offer_text(
    *,
    language: str,
    line_name: str,
    reference: str,
    code: str,
    category: str | None,
    postcode: str | None,
    municipality: str | None = None,
    urgency: str | None = None,
) -> str:
    """The SMS that offers a volunteer a request: what, where, when, and how to answer."""
    language = language if language in LANGUAGES else "nl"
    place = " ".join(part for part in (postcode, municipality) if part)
    when = URGENCIES[language].get(urgency or "")
    yes, no = REPLY_WORDS[language]
    return OFFER[language].format(
        line=line_name,
        reference=reference,
        what=CATEGORIES[language].get(category or "other", CATEGORIES[language]["other"]),
        where=WHERE[language].format(place=place) if place else "",
        when=f", {when}" if when else "",
        yes=yes,
        no=no,
        code=code,
    )


def offer_already_sent(session: Session, assignment: Assignment) -> bool:
    """Whether the offer SMS of ``assignment`` went out already (a retried job must not resend)."""
    events = session.exec(
        select(AuditEvent).where(
            AuditEvent.action == SMS_SENT,
            AuditEvent.help_request_id == assignment.help_request_id,
            AuditEvent.volunteer_id == assignment.volunteer_id,
        )
    )
    return any(event.detail.get("assignment_id") == assignment.id for event in events)


def send_assignment_offer(
    session: Session, *, settings: Settings, provider: Provider, assignment_id: int
) -> str | None:
    """Text the volunteer of an assignment what is asked and how to answer (JA/NEE + code).

    Sent from the line's own number, in the volunteer's language, at most once: the
    message sid is kept in the audit log and checked first. Returns the message sid,
    or None when there is nothing (more) to send. A provider failure raises
    TelephonyError, so that the job is retried; the audit event is added to
    ``session`` and written when the caller commits.
    """
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        log.warning("assignment %s does not exist: no SMS sent", assignment_id)
        return None
    if offer_already_sent(session, assignment):
        return None
    if assignment.status != "offered":
        # Withdrawn (or answered in another way) before the SMS left: nothing to ask any more.
        log.info("assignment %s is %s: no SMS sent", assignment.id, assignment.status)
        return None
    volunteer = session.get(Volunteer, assignment.volunteer_id)
    help_request = session.get(HelpRequest, assignment.help_request_id)
    line = session.get(Line, help_request.line_id)
    line_settings = settings.lines.get(line.slug)
    contact = session.get(Contact, volunteer.contact_id) if volunteer.contact_id else None
    if contact is None:
        # Retrying cannot help; the request's history tells operators to phone instead.
        record(
            session,
            "sms_not_sent",
            operator_id=None,
            help_request_id=help_request.id,
            volunteer_id=volunteer.id,
            assignment_id=assignment.id,
            reason="volunteer has no mobile number",
        )
        log.warning("assignment %s: volunteer %s has no number", assignment.id, volunteer.id)
        return None
    body = assignment_offer_text(
        language=volunteer_language(volunteer, line_settings),
        line_name=line_settings.name if line_settings else line.name,
        reference=help_request.reference,
        code=assignment.code,
        category=help_request.category,
        postcode=help_request.postcode,
        municipality=line_settings.postcodes.get(help_request.postcode or "")
        if line_settings
        else None,
        urgency=help_request.urgency,
    )
    try:
        message_sid = provider.send_sms(
            to=reveal_number(contact, settings.secrets),
            from_=line_settings.phone_number if line_settings else line.phone_number,
            body=body,
            # No status callback until /twilio/sms/status exists (the SMS issue): Twilio
            # would log a failed callback for every message.
        )
    except TelephonyError as error:
        if not error.permanent:
            raise  # busy or away: rq retries with backoff
        # Refused for good (an invalid number, a volunteer who texted STOP): retrying
        # cannot help; the request's history tells operators to phone instead.
        record(
            session,
            "sms_not_sent",
            operator_id=None,
            help_request_id=help_request.id,
            volunteer_id=volunteer.id,
            assignment_id=assignment.id,
            reason=str(error),
            code=error.code,
        )
        log.warning("assignment %s: SMS refused for good (%s)", assignment.id, error.code)
        return None
    record(
        session,
        SMS_SENT,
        operator_id=None,
        help_request_id=help_request.id,
        volunteer_id=volunteer.id,
        assignment_id=assignment.id,
        message_sid=message_sid,
    )
    log.info("assignment %s: offer sent to volunteer %s", assignment.id, volunteer.id)
    return message_sid
