"""Callers who speak instead of pressing keys, in Dutch, French and English."""

from __future__ import annotations

import pytest

from hotline.ivr.speech import digits_from_speech, normalize

from .phone import Caller


def at(flow, context, language: str, *keys: str) -> Caller:
    caller = Caller(flow, context).dial().choose(language)
    for key in keys:
        caller.press(key)
    return caller


@pytest.mark.parametrize(
    ("language", "words", "category"),
    [
        ("nl", "Ik heb boodschappen nodig", "groceries"),
        ("nl", "APOTHEEK", "groceries"),
        ("nl", "Mijn hond moet uitgelaten worden", "dog"),
        ("nl", "ik wil gewoon wat praten", "talk"),
        ("nl", "een warme maaltijd", "meal"),
        ("nl", "iets naar de post brengen", "errand"),
        ("fr", "de l'épicerie", "groceries"),
        ("fr", "Pharmacie", "groceries"),
        ("fr", "promener mon chien", "dog"),
        ("fr", "Je voudrais parler", "talk"),
        ("fr", "un repas", "meal"),
        ("en", "Groceries please", "groceries"),
        ("en", "my dog", "dog"),
        ("en", "I'd like someone to talk to", "talk"),
        ("en", "something else", "other"),
        # A Dutch caller who says a French word is still understood.
        ("nl", "pharmacie", "groceries"),
    ],
)
def test_a_caller_can_say_what_they_need(leuven, open_line, language, words, category):
    caller = at(leuven, open_line, language, "1").speak(words)
    assert caller.node == "postcode"
    assert caller.state["collected"]["category"] == category


@pytest.mark.parametrize(
    "words", ["Ik wil een medewerker spreken", "je veux parler à un opérateur", "a real person"]
)
def test_asking_for_a_person_in_words_reaches_an_operator_even_when_it_mentions_talking(
    leuven, open_line, words
):
    caller = at(leuven, open_line, "nl", "1").speak(words)
    assert caller.node == "operator_connect"


def test_saying_repeat_repeats_and_saying_back_goes_back(leuven, open_line):
    caller = at(leuven, open_line, "nl", "1").speak("Kan u dat herhalen?")
    assert caller.node == "category"
    assert caller.state["misses"] == 0
    caller.speak("terug")
    assert caller.node == "main"


def test_not_urgent_is_not_mistaken_for_urgent(leuven, open_line):
    caller = at(leuven, open_line, "nl", "1", "1", "3000").speak("Het is niet dringend")
    assert caller.state["collected"]["urgency"] == "coming_days"
    caller = at(leuven, open_line, "en", "1", "1", "3000").speak("it is urgent")
    assert caller.state["collected"]["urgency"] == "today"


def test_words_that_match_no_option_are_a_kind_miss(leuven, open_line):
    caller = at(leuven, open_line, "nl", "1").speak("euh, wacht eens")
    assert caller.node == "category"
    assert caller.says[0].text == caller.message("invalid")
    assert caller.state["misses"] == 1


def test_a_menu_number_can_be_spoken(leuven, open_line):
    caller = at(leuven, open_line, "fr").speak("deux")
    assert caller.node == "volunteer_message"


def test_an_article_is_not_taken_for_the_number_one(leuven, open_line):
    caller = at(leuven, open_line, "nl").speak("ik heb een vraag")
    assert caller.node == "main"


@pytest.mark.parametrize(
    "words", ["3000", "3 0 0 0", "drie nul nul nul", "trois zéro zéro zéro", "three zero zero zero",
              "Mijn postcode is 3000.",
              # numbers said in groups, as recognisers write them
              "drieduizend", "Drie duizend", "dertig nul nul", "mijn postcode is drieduizend",
              "trois mille", "trente zéro zéro", "three thousand", "thirty oh oh"],
)  # fmt: skip
def test_a_postcode_can_be_spoken(leuven, open_line, words):
    caller = at(leuven, open_line, "nl", "1", "1").speak(words)
    assert caller.node == "urgency"
    assert caller.state["collected"]["postcode"] == "3000"


def test_a_reference_can_be_spoken_digit_by_digit(leuven, open_line):
    caller = at(leuven, open_line, "en", "3").speak("four eight two nine one three")
    assert caller.effects[-1].data == {"reference": "482913"}


def test_asking_for_a_person_while_entering_a_postcode_reaches_an_operator(leuven, open_line):
    caller = at(leuven, open_line, "nl", "1", "1").speak("medewerker")
    assert caller.node == "operator_connect"


def test_each_menu_sends_speech_hints_in_the_callers_language(leuven, open_line):
    caller = at(leuven, open_line, "fr", "1")
    hints = caller.last.speech_hints
    assert "pharmacie" in hints
    assert "chien" in hints
    assert "opérateur" in hints
    assert "apotheek" not in hints


def test_normalize_ignores_case_accents_and_punctuation():
    assert normalize("Épicerie, S'IL VOUS PLAÎT!") == "epicerie s il vous plait"
    assert digits_from_speech("één twee drie") == "123"


@pytest.mark.parametrize(
    ("words", "digits"),
    [("drieduizend twaalf", "3012"), ("drieduizendtwaalf", "3012"), ("drieduizend en tien", "3010"),
     ("dertig twaalf", "3012"), ("trois mille douze", "3012"), ("trois mille dix", "3010"),
     ("drieëntwintig", "23"), ("vingt et un", "21"), ("quatre-vingt-douze", "92"),
     ("nonante", "90"), ("four eight two nine one three", "482913"), ("ik heb een vraag", "1")],
)  # fmt: skip
def test_numbers_said_in_groups_become_their_digits(words, digits):
    assert digits_from_speech(words) == digits


def test_a_postcode_in_groups_outside_the_area_is_read_back_as_digits(leuven, open_line):
    caller = at(leuven, open_line, "nl", "1", "1").speak("drieduizend twintig")
    assert caller.node == "postcode_unknown"
    assert "3020" in caller.heard
