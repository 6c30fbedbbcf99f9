"""What a volunteer's SMS means, read the way people really text."""

from __future__ import annotations

import re

import pytest

from hotline.messaging.replies import Intent, understand
from hotline.messaging.texts import LANGUAGES, TEXTS

ACCEPT, DECLINE, DONE, HELP = Intent.ACCEPT, Intent.DECLINE, Intent.DONE, Intent.HELP
STOP, START, UNKNOWN = Intent.STOP, Intent.START, Intent.UNKNOWN
GSM_7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


@pytest.mark.parametrize(
    ("body", "intent", "code"),
    [
        ("JA 4821", ACCEPT, "4821"),
        ("ja", ACCEPT, None),
        ("Ja hoor!", ACCEPT, None),
        ("  jA4821 ", ACCEPT, "4821"),
        ("4821 ja", ACCEPT, "4821"),
        ("Oké", ACCEPT, None),
        ("OK 4821", ACCEPT, "4821"),
        ("oui merci", ACCEPT, None),
        ("D'accord, 4821.", ACCEPT, "4821"),
        ("d’accord", ACCEPT, None),
        ("Yes!", ACCEPT, None),
        ("NEE 4821", DECLINE, "4821"),
        ("neen", DECLINE, None),
        ("Non.", DECLINE, None),
        ("no thanks", DECLINE, None),
        ("KLAAR 4821", DONE, "4821"),
        ("ik ben klaar", DONE, None),
        ("C'est fini", DONE, None),
        ("terminé", DONE, None),
        ("Done!", DONE, None),
        ("HULP", HELP, None),
        ("aide", HELP, None),
        ("help", HELP, None),
        ("STOP", STOP, None),
        ("Stop.", STOP, None),
        ("stopall", STOP, None),
        ("UNSUBSCRIBE", STOP, None),
        ("arrêt", STOP, None),
        ("START", START, None),
        ("unstop", START, None),
        ("ja nee", UNKNOWN, None),
        ("wie is dit?", UNKNOWN, None),
        ("", UNKNOWN, None),
        ("🙂👍", UNKNOWN, None),
    ],
)
def test_replies_are_read_whatever_the_case_accents_punctuation_or_language(body, intent, code):
    reply = understand(body)
    assert (reply.intent, reply.code) == (intent, code)


def test_stop_within_a_sentence_is_not_an_opt_out():
    assert understand("stop 4821").intent is UNKNOWN
    assert understand("please stop sending").intent is UNKNOWN


def test_twilios_whole_message_keywords_are_marked_as_such():
    assert understand("YES").whole_keyword and understand("yes").intent is ACCEPT
    assert understand("HELP").whole_keyword and not understand("help 4821").whole_keyword
    assert not understand("JA").whole_keyword


def test_an_opt_out_type_from_twilio_wins_over_the_words():
    assert understand("ARRET", opt_out_type="STOP").intent is STOP
    assert understand("aidez-moi", opt_out_type="HELP").answered_by_twilio
    assert understand("YES", opt_out_type="START").intent is ACCEPT  # also an answer


@pytest.mark.parametrize("kind", sorted(TEXTS))
def test_every_text_exists_in_every_language_within_the_plain_sms_alphabet(kind):
    assert set(TEXTS[kind]) == set(LANGUAGES)
    for text in TEXTS[kind].values():
        words = re.sub(r"\{\w+\}", "", text)  # the placeholders are filled in with plain text
        assert set(words) <= GSM_7, (kind, set(words) - GSM_7)
