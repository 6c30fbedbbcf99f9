"""Calls to the Leuven line, walked through the engine path by path, in all three languages."""

from __future__ import annotations

import pytest

from hotline.ivr import Dial, Effect, Gather, Hangup, Pause, Record, Say

from .phone import Caller

LANGUAGES = ["nl", "fr", "en"]
CODES = {"nl": "nl-BE", "fr": "fr-BE", "en": "en-GB"}
# The caller waits for the operators (the app puts them in the line's queue).
OPERATORS_DIAL = Dial("operators")


@pytest.fixture
def caller(leuven, open_line) -> Caller:
    return Caller(leuven, open_line).dial()


def at_main_menu(caller: Caller, language: str) -> Caller:
    return caller.choose(language)


def at_postcode(caller: Caller, language: str) -> Caller:
    return caller.choose(language).press("1").press("1")


# -- welcome and language ------------------------------------------------------------


def test_the_line_greets_in_dutch_and_offers_each_language_in_that_language(caller):
    assert caller.node == "welcome"
    assert caller.says == [
        Say("Welkom bij Leuven Helpt.", "nl-BE"),
        # Each language in one breath: how to choose it, and how to reach a person in it.
        Say("Nederlands, druk 1.", "nl-BE"),
        Say("Een medewerker, druk 0.", "nl-BE"),
        Say("Français, tapez 2.", "fr-BE"),
        Say("Un collaborateur, tapez 0.", "fr-BE"),
        Say("English, press 3.", "en-GB"),
        Say("A person, press 0.", "en-GB"),
    ]
    gather = caller.last
    assert isinstance(gather, Gather)
    assert (gather.num_digits, gather.timeout, gather.language) == (1, 8, "nl-BE")


def test_a_silent_caller_at_the_welcome_continues_in_dutch(caller):
    caller.wait()
    assert caller.node == "main"
    assert caller.state["language"] == "nl"
    assert "Bij een noodgeval: bel 1 1 2." in caller.heard
    assert "Ik heb niets gehoord" not in caller.heard  # silence here is an answer, not a miss


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_who_chooses_a_language_hears_everything_after_in_that_language(caller, language):
    caller.choose(language)
    assert caller.node == "main"
    assert caller.state["language"] == language
    assert caller.says[0].text == caller.text("emergency")
    assert "1 1 2" in caller.says[0].text
    assert {say.language for say in caller.says} == {CODES[language]}
    assert caller.last.language == CODES[language]


def test_a_caller_can_say_the_language_they_want(caller):
    caller.speak("Français, s'il vous plaît")
    assert caller.state["language"] == "fr"
    assert caller.node == "main"


# -- asking for help --------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_asks_for_groceries_and_hears_the_reference_twice_digit_by_digit(caller, language):
    at_postcode(caller, language)
    caller.press("3000")
    assert caller.node == "urgency"
    caller.press("1")
    assert caller.node == "message"
    assert isinstance(caller.last, Record)
    assert (caller.last.max_length, caller.last.finish_on_key) == (120, "#")
    caller.record(spoke=True)

    assert caller.effects[-1].name == "create_request"
    assert caller.effects[-1].data == {
        "language": language,
        "category": "groceries",
        "postcode": "3000",
        "urgency": "today",
        "recording": True,
    }
    assert caller.ended
    assert caller.node == "confirmation"
    assert isinstance(caller.last, Hangup)
    digits = [say.text for say in caller.says if say.text.isdigit()]
    assert digits == list("482913") * 2
    # One second of silence between digits, so the number can be written down.
    first = caller.actions.index(Say("4", CODES[language]))
    assert caller.actions[first + 1 : first + 4] == [Pause(1), Say("8", CODES[language]), Pause(1)]
    assert caller.text("confirmation", 3) in caller.heard  # when we call back


@pytest.mark.parametrize(
    ("key", "category"),
    [
        ("1", "groceries"),
        ("2", "meal"),
        ("3", "errand"),
        ("4", "dog"),
        ("5", "talk"),
        ("6", "other"),
    ],
)
def test_every_category_key_is_recorded_with_the_request(caller, key, category):
    caller.choose("nl").press("1").press(key).press("3001").press("2").record()
    assert caller.effects[-1].data["category"] == category
    assert caller.effects[-1].data["urgency"] == "coming_days"
    assert caller.effects[-1].data["postcode"] == "3001"


def test_a_caller_who_leaves_no_message_still_gets_a_reference(caller):
    at_postcode(caller, "nl").press("3000").press("1").record(spoke=False)
    assert caller.effects[-1].data["recording"] is False
    assert caller.node == "confirmation"
    assert "4" in [say.text for say in caller.says]


def test_options_are_read_with_the_choice_before_the_key_and_a_pause_between(caller):
    caller.choose("nl").press("1")
    gather = caller.last
    # No question first: "Hulp" was just chosen, the options say the rest.
    assert gather.actions[0] == Pause(1)
    lines = [action.text for action in gather.actions if isinstance(action, Say)]
    assert lines == [
        "Boodschappen of apotheek, druk 1.",
        "Een maaltijd, druk 2.",
        "Post of bank, druk 3.",
        "De hond uitlaten, druk 4.",
        "Een babbel, druk 5.",
        "Iets anders, druk 6.",
        "Een medewerker, druk 0.",  # 9 and * were explained in the menu before
    ]
    for before, after in zip(gather.actions, gather.actions[1:], strict=False):
        assert not (isinstance(before, Say) and isinstance(after, Say)), "no pause between lines"


def test_the_first_menu_after_the_language_explains_9_and_star_once_in_one_breath(caller):
    caller.choose("nl")
    lines = [action for action in caller.last.actions if not isinstance(action, Pause)]
    assert [say.text for say in lines][-3:] == [
        "Een medewerker, druk 0.",
        "Herhalen, druk 9.",
        "Terug, druk sterretje.",
    ]
    block = caller.last.actions[-3:]
    assert all(isinstance(action, Say) for action in block), "0, 9 and * are one block"
    caller.press("1")
    assert "Herhalen, druk 9." not in caller.heard
    assert "Terug, druk sterretje." not in caller.heard


def test_menus_wait_generously_for_elderly_callers(caller):
    caller.choose("nl")
    assert caller.last.timeout >= 8
    caller.press("1").press("1")
    assert caller.node == "postcode"
    assert (caller.last.num_digits, caller.last.finish_on_key, caller.last.timeout) == (4, "#", 10)


# -- postcode -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_unknown_postcode_names_the_towns_served_and_the_caller_enters_it_again(
    caller, language
):
    at_postcode(caller, language).press("3020")
    assert caller.node == "postcode_unknown"
    assert "3020" in caller.heard
    and_word = {"nl": "en", "fr": "et", "en": "and"}[language]
    assert f"Leuven, Heverlee, Kessel-Lo {and_word} Wilsele" in caller.heard
    assert "postcode" not in caller.state["collected"]
    caller.press("1")
    assert caller.node == "postcode"
    caller.press("3012")
    assert caller.node == "urgency"
    assert caller.state["collected"]["postcode"] == "3012"


def test_after_an_unknown_postcode_0_reaches_an_operator(caller):
    at_postcode(caller, "nl").press("9999").press("0")
    assert caller.node == "operator_connect"
    assert caller.last == OPERATORS_DIAL


def test_a_postcode_with_too_few_digits_is_asked_again_kindly(caller):
    at_postcode(caller, "nl").press("300")
    assert caller.node == "postcode"
    assert caller.says[0].text == caller.message("invalid")
    assert caller.text("postcode") in caller.heard


# -- keys that work everywhere ------------------------------------------------------------


def test_a_caller_who_presses_0_in_the_category_menu_reaches_an_operator(caller):
    caller.choose("fr").press("1").press("0")
    assert caller.node == "operator_connect"
    assert caller.text("operator_connect") in caller.heard
    assert caller.last == OPERATORS_DIAL
    assert not caller.ended


INPUT_NODES = ["welcome", "main", "category", "postcode", "postcode_unknown", "urgency", "existing",
               "anything_else"]  # fmt: skip


def caller_at(flow, context, node_id: str) -> Caller:
    """A caller who got to node_id (in Dutch) by the shortest way."""
    routes = {
        "welcome": [], "main": ["1"], "category": ["1", "1"], "postcode": ["1", "1", "1"],
        "postcode_unknown": ["1", "1", "1", "9999"], "urgency": ["1", "1", "1", "3000"],
        "existing": ["1", "3"], "anything_else": ["1", "3", "123456"],
    }  # fmt: skip
    caller = Caller(flow, context).dial()
    for digits in routes[node_id]:
        caller.press(digits)
    assert caller.node == node_id
    return caller


@pytest.mark.parametrize("node_id", INPUT_NODES)
def test_0_reaches_a_person_from_every_menu(leuven, open_line, node_id):
    caller = caller_at(leuven, open_line, node_id).press("0")
    assert caller.node == "operator_connect"
    assert caller.last == OPERATORS_DIAL


@pytest.mark.parametrize("node_id", INPUT_NODES)
def test_9_repeats_every_menu_without_counting_a_miss(leuven, open_line, node_id):
    caller = caller_at(leuven, open_line, node_id)
    menu = [action for action in caller.last.actions if isinstance(action, Say)]
    caller.press("9")
    assert caller.node == node_id
    assert [action for action in caller.last.actions if isinstance(action, Say)] == menu
    assert caller.state["misses"] == 0


@pytest.mark.parametrize(
    ("node_id", "previous"),
    [("main", "welcome"), ("category", "main"), ("postcode", "category"), ("urgency", "postcode"),
     ("postcode_unknown", "postcode"), ("existing", "main")],
)  # fmt: skip
def test_star_goes_back_one_step(leuven, open_line, node_id, previous):
    caller = caller_at(leuven, open_line, node_id).press("*")
    assert caller.node == previous


def test_star_in_the_first_menu_is_a_wrong_key(caller):
    caller.press("*")
    assert caller.node == "welcome"
    assert caller.says[0].text == "Sorry, dat heb ik niet goed begrepen. Ik zeg het nog eens."


def test_going_back_twice_after_re_entering_the_postcode_returns_to_the_category(caller):
    at_postcode(caller, "nl").press("9999").press("1")  # postcode -> unknown -> postcode
    caller.press("*")
    assert caller.node == "category"
    caller.press("*")
    assert caller.node == "main"


def test_the_back_key_is_announced_only_where_it_works(caller):
    back = "Terug, druk sterretje."
    assert back not in caller.heard
    caller.choose("nl")
    assert back in caller.heard


# -- silence and wrong keys ---------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_silence_in_a_menu_is_answered_kindly_and_the_menu_repeated(caller, language):
    at_main_menu(caller, language).wait()
    assert caller.node == "main"
    assert caller.says[0].text == caller.message("no_input")
    option = caller.flow.nodes["main"].options["1"].label[language]
    assert option in caller.heard
    assert caller.state["misses"] == 1
    assert not caller.ended


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_wrong_key_twice_brings_the_caller_to_an_operator(caller, language):
    at_main_menu(caller, language).press("7")
    assert caller.node == "main"
    assert caller.says[0].text == caller.message("invalid")
    caller.press("7")
    assert caller.says[0].text == caller.message("give_up")
    assert caller.node == "operator_connect"
    assert caller.last == OPERATORS_DIAL


def test_two_silences_at_night_lead_to_a_message_and_a_call_back(leuven, closed_line):
    caller = Caller(leuven, closed_line).dial().choose("en").wait().wait()
    assert caller.node == "callback_message"
    assert caller.text("operator_closed") in caller.heard
    assert isinstance(caller.last, Record)
    caller.record()
    assert caller.effects[-1].name == "create_callback_request"
    assert caller.effects[-1].data == {"language": "en", "recording": True}
    assert caller.ended
    assert caller.text("callback_thanks") in caller.heard


def test_misses_count_per_menu(caller):
    caller.choose("nl").wait()  # one miss in the main menu
    caller.press("1").wait()  # one miss in the category menu
    assert caller.node == "category"
    assert caller.state["misses"] == 1


def test_a_silent_caller_is_never_hung_up_on_but_reaches_a_person(leuven, open_line):
    caller = Caller(leuven, open_line).dial()
    while not isinstance(caller.last, Dial):
        assert not caller.ended
        caller.wait()
    assert caller.node == "operator_connect"
    assert (
        len(caller.turns) == 5
    )  # who calls, welcome (silence = Dutch), main, main again, operator


def test_a_silent_caller_at_night_is_called_back(leuven, closed_line):
    caller = Caller(leuven, closed_line).dial().wait().wait().wait()
    assert isinstance(caller.last, Record)
    caller.record(spoke=False)
    assert caller.effects[-1] == Effect(
        "create_callback_request", {"language": "nl", "recording": False}
    )
    assert caller.ended


# -- an existing request -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "node_id"),
    [("received", "status_received"), ("volunteer_found", "status_volunteer_found"),
     ("done", "status_done"), ("unknown", "status_unknown")],
)  # fmt: skip
@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_asks_about_an_earlier_request(leuven, open_line, language, status, node_id):
    caller = Caller(leuven, open_line, results={"lookup_request": {"status": status}})
    caller.dial().choose(language).press("3")
    assert caller.node == "existing"
    assert caller.last.num_digits == 6
    caller.press("482913")
    assert caller.effects[-1].name == "lookup_request"
    assert caller.effects[-1].data == {"reference": "482913"}
    assert caller.says[0].text == caller.text(node_id)
    assert caller.node == "anything_else"


def test_an_unknown_reference_gets_an_answer_that_reveals_nothing(leuven, open_line):
    caller = Caller(leuven, open_line, results={"lookup_request": {"status": "unknown"}})
    caller.dial().choose("nl").press("3").press("111111")
    heard = caller.heard.lower()
    for revealing in ("ontvangen", "vrijwilliger", "afgehandeld", "bestaat niet", "111111"):
        assert revealing not in heard


def test_a_status_the_engine_does_not_know_is_treated_as_unknown(leuven, open_line):
    caller = Caller(leuven, open_line, results={"lookup_request": {"status": "archived"}})
    caller.dial().choose("nl").press("3").press("111111")
    assert caller.says[0].text == caller.text("status_unknown")


def test_after_hearing_the_status_the_caller_can_end_the_call_or_start_again(caller):
    caller.choose("nl").press("3").press("482913").press("1")
    assert caller.node == "main"
    caller.press("3").press("482913").press("2")
    assert caller.ended
    assert caller.node == "goodbye"


# -- volunteers ------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_volunteer_hears_where_to_register_and_leaves_name_and_area(caller, language):
    caller.choose(language).press("2")
    assert "www.leuven.be/vrijwilligers" in caller.heard
    assert "https" not in caller.heard
    assert caller.node == "volunteer_message"
    assert isinstance(caller.last, Record)
    caller.record()
    assert caller.effects[-1].name == "create_volunteer_lead"
    assert caller.effects[-1].data == {"language": language, "recording": True}
    assert caller.text("volunteer_thanks") in caller.heard
    assert caller.ended


# -- a person -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_during_opening_hours_0_connects_to_the_operators(caller, language):
    caller.choose(language).press("0")
    assert caller.says[-1].text == caller.text("operator_connect")
    assert caller.last == OPERATORS_DIAL


@pytest.mark.parametrize("language", LANGUAGES)
def test_when_no_operator_answers_the_caller_can_leave_a_message(caller, language):
    caller.choose(language).press("1").press("4").press("0").nobody_answers()
    assert caller.node == "callback_message"
    assert caller.says[0].text == caller.text("operator_unavailable")
    caller.record()
    assert caller.effects[-1].name == "create_callback_request"
    assert caller.effects[-1].data == {"language": language, "recording": True, "category": "dog"}
    assert caller.ended


def test_handle_input_at_the_dial_with_no_operator_available_is_the_same_fallback(
    leuven, open_line
):
    from dataclasses import replace

    from hotline.ivr import handle_input

    caller = Caller(leuven, open_line).dial().choose("nl").press("0")
    turn = handle_input(leuven, caller.state, replace(open_line, operator_available=False))
    assert turn.state["node"] == "callback_message"
    assert isinstance(turn.actions[-1], Record)


def test_after_talking_to_an_operator_the_caller_may_still_leave_a_message(caller):
    # The Dial's action after a conversation: the caller is only still there if they
    # pressed * (or the operator hung up first), so the promised message is offered.
    caller.choose("nl").press("0").wait()
    assert caller.node == "after_operator"
    assert isinstance(caller.last, Record)
    caller.record(spoke=True)
    assert [effect.name for effect in caller.effects][-1] == "leave_message"
    assert caller.node == "goodbye"
    assert caller.ended


def test_when_all_operators_are_busy_0_goes_straight_to_a_message(leuven, open_line):
    from dataclasses import replace

    busy = replace(open_line, operator_available=False)
    caller = Caller(leuven, busy).dial().choose("nl").press("0")
    assert caller.node == "callback_message"
    assert "zijn alle medewerkers in gesprek" in caller.heard
    assert not any(isinstance(action, Dial) for action in caller.actions)


@pytest.mark.parametrize("language", LANGUAGES)
def test_at_night_0_offers_a_message_and_a_call_back(leuven, closed_line, language):
    caller = Caller(leuven, closed_line).dial().choose(language).press("0")
    assert caller.says[0].text == caller.text("operator_closed")
    assert caller.node == "callback_message"
    caller.record(spoke=False)
    assert caller.effects[-1].data == {"language": language, "recording": False}
    assert caller.ended
