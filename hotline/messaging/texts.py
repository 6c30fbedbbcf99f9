"""Every SMS a volunteer can get, in Dutch, French and English.

Texts name the request by its reference and say what, where and when, but never
the resident's name or number: an SMS can be read by anyone holding the phone.
What a request is about and how urgent it is are the words of ``hotline.vocabulary``
(read from the call centre's catalogue, as operators see them). They stay within the
GSM 03.38 alphabet (no dashes, no curly quotes, no ê or ç), so that a message is billed
as plain 160-character segments instead of 70-character ones.
"""

from __future__ import annotations

import phonenumbers

from hotline.config import LineSettings
from hotline.models import HelpRequest, Volunteer
from hotline.vocabulary import N_, ByLanguage, EveryLanguage

LANGUAGES = ("nl", "fr", "en")
# The words a volunteer answers with, as the texts show them (hotline.messaging.replies
# understands many more): accept, decline, done, help.
REPLY_WORDS: dict[str, tuple[str, str]] = {
    "nl": ("JA", "NEE"),
    "fr": ("OUI", "NON"),
    "en": ("YES", "NO"),
}
DONE_WORDS = {"nl": "KLAAR", "fr": "FINI", "en": "DONE"}
HELP_WORDS = {"nl": "HULP", "fr": "AIDE", "en": "HELP"}
# What and when, in the words of the whole product (hotline.vocabulary, through the
# catalogue): ``CATEGORIES["nl"]["meal"]`` is "een maaltijd".
CATEGORIES = ByLanguage("category")
URGENCIES = ByLanguage("urgency")
# The sentences below are English message ids; Dutch and French (and any language
# added) are in the call centre's catalogue. Translations keep every {placeholder}
# and the GSM 03.38 alphabet (tests/test_sms_replies.py, tests/test_assignment_sms.py).
WHERE = EveryLanguage(N_(" in {place}"))
OFFER = EveryLanguage(
    N_(
        "{line}: new help request {reference} - {what}{where}{when}. Reply {yes} {code} "
        "to accept or {no} {code} to decline."
    )
)
# Everything else a volunteer can be told, by kind (the `kind` of its sms_message row).
TEXTS: dict[str, EveryLanguage] = {
    # After JA: what is needed to start, and how to reach the resident through the line.
    "details": EveryLanguage(
        N_(
            "{line}: thank you! Request {reference}: {what}{where}{when}.{summary} Call "
            "{phone} and ask an operator to connect you with the resident. Helped? Reply "
            "{done} {code}. Cannot make it? {no} {code}."
        )
    ),
    "taken": EveryLanguage(
        N_(
            "{line}: request {reference} has already been taken by another volunteer. Thank "
            "you for being there!"
        )
    ),
    "declined": EveryLanguage(
        N_("{line}: thank you for letting us know. We will ask someone else.")
    ),
    "given_back": EveryLanguage(
        N_(
            "{line}: thank you for letting us know. We will find someone else for request "
            "{reference}."
        )
    ),
    "thanks": EveryLanguage(
        N_("{line}: thank you so much for your help with request {reference}!")
    ),
    "reminder": EveryLanguage(
        N_(
            "{line}: how is request {reference} going? Reply {done} {code} when you have "
            "helped, or {no} {code} if you cannot."
        )
    ),
    "how_to": EveryLanguage(
        N_(
            "{line}: reply {yes} with the code to accept a request (e.g. {yes} {example}), "
            "{no} to decline, {done} when you have helped. STOP: no more SMS. Questions? "
            "Call {phone}."
        )
    ),
    "not_understood": EveryLanguage(
        N_(
            "{line}: sorry, I did not understand that. Reply {yes}, {no} or {done} with the "
            "code, e.g. {yes} {example}. {help} for help."
        )
    ),
    "which_one": EveryLanguage(
        N_(
            "{line}: you have more than one open request: {offers}. Reply with the code, "
            "e.g. {word} {example}."
        )
    ),
    "no_open": EveryLanguage(N_("{line}: you have no open request at the moment. Thank you!")),
    "unknown_code": EveryLanguage(N_("{line}: you have no open request with code {code}.{open}")),
    "open_codes": EveryLanguage(N_(" Your open codes: {codes}.")),
    "no_longer_open": EveryLanguage(
        N_("{line}: request {reference} is no longer open for you. Thank you!")
    ),
    "opted_out": EveryLanguage(
        N_("{line}: you will get no more SMS from us. Text START to get them again.")
    ),
    # To a number that belongs to no volunteer: says nothing about anyone.
    "unknown_sender": EveryLanguage(
        N_("This number only receives replies from registered volunteers.")
    ),
}
SUMMARY_LENGTH = 80  # characters of the resident's message quoted after JA


def volunteer_language(volunteer: Volunteer, line: LineSettings | None = None) -> str:
    """The language to text a volunteer in: their first one we have texts for."""
    for language in [*volunteer.languages, *(line.languages if line else ()), "nl"]:
        if language in LANGUAGES:
            return language
    return "nl"


def national_number(number: str, country: str) -> str:
    """The line's number as people there dial it ("016 27 27 72")."""
    try:
        parsed = phonenumbers.parse(number, country)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def describe(language: str, help_request: HelpRequest, line: LineSettings) -> dict[str, str]:
    """What, where and when of a request, as the texts put them (``{what}{where}{when}``)."""
    language = language if language in LANGUAGES else "nl"
    municipality = line.postcodes.get(help_request.postcode or "")
    place = " ".join(part for part in (help_request.postcode, municipality) if part)
    when = URGENCIES[language].get(help_request.urgency or "")
    categories = CATEGORIES[language]
    return {
        "what": categories.get(help_request.category or "other", categories["other"]),
        "where": WHERE[language].format(place=place) if place else "",
        "when": f", {when}" if when else "",
    }


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


def sms_text(kind: str, language: str, line: LineSettings, **values: str) -> str:
    """One of TEXTS in ``language``, with the line's name, number and answer words filled in."""
    language = language if language in LANGUAGES else "nl"
    yes, no = REPLY_WORDS[language]
    return TEXTS[kind][language].format(
        line=line.name,
        phone=national_number(line.phone_number, line.country),
        yes=yes,
        no=no,
        done=DONE_WORDS[language],
        help=HELP_WORDS[language],
        **values,
    )


def summary(text: str | None) -> str:
    """The resident's message in one short line, numbers already removed by the caller."""
    line = " ".join((text or "").split())
    if not line:
        return ""
    if len(line) > SUMMARY_LENGTH:
        line = line[: SUMMARY_LENGTH - 3].rsplit(" ", 1)[0] + "..."
    return f' "{line}"'
