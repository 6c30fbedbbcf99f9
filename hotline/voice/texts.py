"""What the line says outside the flow's menus, in Dutch, French and English.

The caller's own menus are data (``ivr_flows/``); these sentences are heard by the
person the line rings for them: an operator picking up, a resident called back, a
resident or volunteer put through; and by anyone on the line when the database cannot
be reached. What a request is about is said with the same words as the volunteers'
SMS (``hotline.messaging.texts.CATEGORIES``).
"""

from __future__ import annotations

import phonenumbers

from hotline.ivr import Flow
from hotline.messaging.texts import CATEGORIES
from hotline.telephony import Voice

LANGUAGES = ("nl", "fr", "en")

# The caller's language, as said in each language: "een oproep in het Frans".
LANGUAGE_NAMES = {
    "nl": {"nl": "het Nederlands", "fr": "het Frans", "en": "het Engels"},
    "fr": {"nl": "néerlandais", "fr": "français", "en": "anglais"},
    "en": {"nl": "Dutch", "fr": "French", "en": "English"},
}

# An operator's phone answers a caller from the IVR: a whisper only they hear.
OPERATOR_WHISPER = {
    "nl": "{line}, oproep in {language}{about}.",
    "fr": "{line}, appel en {language}{about}.",
    "en": "{line}, a call in {language}{about}.",
}
ABOUT = {"nl": ", voor {what}", "fr": ", pour {what}", "en": ", about {what}"}
URGENT = {"nl": ", dringend", "fr": ", urgent", "en": ", urgent"}

# An operator picks up their phone rung for a waiting caller who is no longer waiting.
CALLER_LEFT = {
    "nl": "De beller heeft intussen ingehaakt of een bericht ingesproken. Dank u, tot ziens.",
    "fr": "L'appelant a raccroché entre-temps ou a laissé un message. Merci, au revoir.",
    "en": "The caller has hung up or left a message meanwhile. Thank you, goodbye.",
}
CALLER_TAKEN = {
    "nl": "Een collega heeft deze beller al opgenomen. Dank u, tot ziens.",
    "fr": "Un collègue a déjà pris cet appel. Merci, au revoir.",
    "en": "A colleague has already taken this call. Thank you, goodbye.",
}

# Call-back, operator's leg: nothing is dialled before the operator presses 1, so that a
# voicemail that picks up is never put through to a resident.
CALL_BACK_GUARD = {
    "nl": "{line}. U belt de bewoner van hulpvraag {digits} terug. "
    "Druk 1 om de bewoner nu te bellen.",
    "fr": "{line}. Vous rappelez l'habitant de la demande {digits}. "
    "Appuyez sur 1 pour appeler l'habitant maintenant.",
    "en": "{line}. You are calling back the resident of request {digits}. "
    "Press 1 to call the resident now.",
}
CALL_BACK_NOT_CONFIRMED = {
    "nl": "Er werd geen 1 ingedrukt. De bewoner wordt niet gebeld. Tot ziens.",
    "fr": "Vous n'avez pas appuyé sur 1. L'habitant ne sera pas appelé. Au revoir.",
    "en": "No 1 was pressed. The resident will not be called. Goodbye.",
}
CALL_BACK_DIALLING = {
    "nl": "Een ogenblik, we bellen de bewoner.",
    "fr": "Un instant, nous appelons l'habitant.",
    "en": "One moment, calling the resident.",
}
CALL_BACK_ENDED = {
    "nl": "De bewoner is niet meer aan de lijn, of nam niet op. Tot ziens.",
    "fr": "L'habitant n'est plus en ligne, ou n'a pas répondu. Au revoir.",
    "en": "The resident is no longer on the line, or did not answer. Goodbye.",
}
# Call-back, resident's leg, before the operator speaks.
CALL_BACK_WHISPER = {
    "nl": "Goeiedag, hier is {line}. Een medewerker belt u terug over uw hulpvraag. "
    "We verbinden u nu.",
    "fr": "Bonjour, ici {line}. Un collaborateur vous rappelle au sujet de votre demande. "
    "Nous vous mettons en relation.",
    "en": "Hello, this is {line}. Someone from our team is calling you back about your "
    "request. Connecting you now.",
}

# Masked calls: what the person rung hears before accepting with 1.
RESIDENT_SCREEN = {
    "nl": "Goeiedag, hier is {line}. We verbinden u met de vrijwilliger voor {what}. "
    "Druk 1 om het gesprek aan te nemen.",
    "fr": "Bonjour, ici {line}. Nous vous mettons en relation avec le bénévole pour {what}. "
    "Appuyez sur 1 pour prendre l'appel.",
    "en": "Hello, this is {line}. We are putting you through to the volunteer helping with "
    "{what}. Press 1 to take the call.",
}
VOLUNTEER_SCREEN = {
    "nl": "Hier is {line}. De bewoner van hulpvraag {digits} wil u spreken. "
    "Druk 1 om het gesprek aan te nemen.",
    "fr": "Ici {line}. L'habitant de la demande {digits} souhaite vous parler. "
    "Appuyez sur 1 pour prendre l'appel.",
    "en": "This is {line}. The resident of request {digits} would like to speak to you. "
    "Press 1 to take the call.",
}
SCREEN_DECLINED = {
    "nl": "Dan verbinden we u niet. Tot ziens.",
    "fr": "Nous ne vous mettons pas en relation. Au revoir.",
    "en": "We will not put the call through. Goodbye.",
}

# The database cannot be reached: said (in every language of the line when we cannot
# know the caller's), then the line hangs up.
DATABASE_UNAVAILABLE = {
    "nl": "Het spijt ons, door een technisch probleem kunnen we u nu niet helpen. "
    "Probeer het over enkele minuten opnieuw. Tot ziens.",
    "fr": "Nous sommes désolés, un problème technique nous empêche de vous aider maintenant. "
    "Veuillez réessayer dans quelques minutes. Au revoir.",
    "en": "We are sorry, a technical problem stops us from helping you right now. "
    "Please try again in a few minutes. Goodbye.",
}


# After DATABASE_UNAVAILABLE, when the line has a general number (read digit by digit).
GENERAL_NUMBER = {
    "nl": "U kunt ook het algemene nummer van de stad bellen: {number}.",
    "fr": "Vous pouvez aussi appeler le numéro général de la ville : {number}.",
    "en": "You can also call the city's general number: {number}.",
}
# The fallback TwiML Twilio plays when this app cannot answer (hotline.voice.fallback).
FALLBACK_TROUBLE = {
    "nl": "{line}. Door een technisch probleem werkt ons keuzemenu nu niet.",
    "fr": "{line}. À cause d'un problème technique, notre menu ne fonctionne pas en ce moment.",
    "en": "{line}. Because of a technical problem, our menu is not working right now.",
}
FALLBACK_PUT_THROUGH = {
    "nl": "We verbinden u door met een medewerker van de stad. Een ogenblik geduld.",
    "fr": "Nous vous mettons en relation avec un collaborateur de la ville. "
    "Un instant, s'il vous plaît.",
    "en": "We are putting you through to a member of city staff. One moment, please.",
}
# After the <Dial>: heard by whoever got through too, once the staff member hangs up.
FALLBACK_GOODBYE = {
    "nl": "Bedankt voor uw oproep. Kreeg u niemand aan de lijn? Probeer het dan later opnieuw. "
    "Tot ziens.",
    "fr": "Merci de votre appel. Si personne n'a répondu, veuillez réessayer plus tard. Au revoir.",
    "en": "Thank you for calling. If nobody answered, please try again later. Goodbye.",
}
FALLBACK_NOBODY = {
    "nl": "Er is nu niemand bereikbaar. Probeer het later opnieuw. Tot ziens.",
    "fr": "Personne n'est joignable pour le moment. Veuillez réessayer plus tard. Au revoir.",
    "en": "Nobody can be reached right now. Please try again later. Goodbye.",
}

# A caller over the rate limit (hotline.abuse): said in every language of the line, then
# the line hangs up. Kind, since it may be someone confused rather than a prankster; the
# city's general number follows when the line has one (GENERAL_NUMBER).
RATE_LIMITED = {
    "nl": "U hebt ons al vaak gebeld. Probeer het later opnieuw. Bel bij een noodgeval 1 1 2.",
    "fr": "Vous nous avez déjà appelés de nombreuses fois. Veuillez réessayer plus tard. "
    "En cas d'urgence, appelez le 1 1 2.",
    "en": "You have called us many times. Please try again later. In an emergency, call 1 1 2.",
}
# A caller a coordinator blocked: no request is made, the line hangs up.
BLOCKED_CALLER = {
    "nl": "Deze lijn kan uw oproep niet aannemen. Bel bij een noodgeval 1 1 2. Tot ziens.",
    "fr": "Cette ligne ne peut pas prendre votre appel. En cas d'urgence, appelez le 1 1 2. "
    "Au revoir.",
    "en": "This line cannot take your call. In an emergency, call 1 1 2. Goodbye.",
}


def spoken_phone_number(number_e164: str, country: str) -> str:
    """A phone number as people of ``country`` say it, digit by digit in its groups:
    "+3216272000" in Belgium is "0 1 6, 2 7, 2 0, 0 0"."""
    parsed = phonenumbers.parse(number_e164, country)
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    groups = ["".join(ch for ch in group if ch.isdigit()) for group in national.split()]
    return ", ".join(" ".join(group) for group in groups if group)


def spoken_digits(digits: str) -> str:
    """A reference or number read digit by digit: "4, 8, 2, 9, 1, 3"."""
    return ", ".join(digits)


def speaking_voice(flow: Flow, language: str | None) -> tuple[str, Voice]:
    """The language to speak to someone in (theirs if we have the words and the flow
    speaks it, else the flow's own) and the flow's voice for it."""
    for candidate in (language, flow.default_language, *flow.languages):
        if candidate in LANGUAGES and candidate in flow.languages:
            spoken = flow.languages[candidate]
            return candidate, Voice(spoken.code, spoken.voice, rate=flow.speaking_rate)
    return "en", Voice(language="en-GB", voice="")


def every_voice(flow: Flow, language: str | None) -> list[tuple[str, Voice]]:
    """The languages (with their voices) to say something in: the caller's if we know it,
    else every language of the flow that we have the words for, the flow's own first."""
    if language in LANGUAGES and language in flow.languages:
        return [speaking_voice(flow, language)]
    spoken = dict.fromkeys([flow.default_language, *flow.languages])
    known = [code for code in spoken if code in LANGUAGES and code in flow.languages]
    return [speaking_voice(flow, code) for code in known] or [speaking_voice(flow, None)]


def operator_whisper(
    *,
    operator_language: str,
    line_name: str,
    caller_language: str | None,
    category: str | None,
    urgency: str | None,
) -> str:
    """ "Leuven Helpt, oproep in het Frans, voor boodschappen of apotheek, dringend." """
    language = operator_language if operator_language in LANGUAGES else "nl"
    names = LANGUAGE_NAMES[language]
    about = ABOUT[language].format(what=request_words(language, category)) if category else ""
    if urgency == "today":
        about += URGENT[language]
    return OPERATOR_WHISPER[language].format(
        line=line_name,
        language=names.get(caller_language or "nl", names["nl"]),
        about=about,
    )


def request_words(language: str | None, category: str | None) -> str:
    """What a request is about, in the words of the volunteers' SMS."""
    categories = CATEGORIES[language if language in LANGUAGES else "nl"]
    return categories.get(category or "other", categories["other"])


def screen_prompt(
    *, target: str, language: str, line_name: str, category: str | None, reference: str
) -> str:
    """What the resident (``target`` "resident") or volunteer rung for a masked call hears."""
    table = RESIDENT_SCREEN if target == "resident" else VOLUNTEER_SCREEN
    return table[language].format(
        line=line_name, what=request_words(language, category), digits=spoken_digits(reference)
    )
