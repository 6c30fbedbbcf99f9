"""The console phone: a scripted caller goes through the real engine."""

from __future__ import annotations

from hotline.ivr import simulate


def script(*answers: str):
    """An input function that answers the prompts in order and records them."""
    remaining = list(answers)
    asked = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return remaining.pop(0)

    answer.asked = asked
    return answer


def test_a_simulated_caller_asks_for_groceries_and_hears_the_reference(leuven, open_line):
    printed: list[str] = []
    effects = []

    def app(effect):
        effects.append(effect)
        return {"reference": "482913"}

    turns = simulate(
        leuven,
        context=open_line,
        input_func=script("1", "1", "1", "3000", "1", "ik heb brood nodig"),
        output=printed.append,
        effects=app,
    )
    assert printed[0] == "[nl-BE] Welkom bij Leuven Helpt."
    assert "[fr-BE] Français, tapez 2." in printed
    assert [effect.name for effect in effects] == ["recognise_caller", "create_request"]
    assert effects[1].data["recording"] is True
    assert printed.count("[nl-BE] 4") == 2
    assert printed[-1] == "(call ended)"
    assert turns[-1].ended


def test_simulate_can_choose_the_language_for_the_caller(leuven, open_line):
    printed: list[str] = []
    simulate(
        leuven, language="en", context=open_line, input_func=script("q"), output=printed.append
    )
    assert "(presses 3: en)" in printed
    assert "[en-GB] In an emergency, call 1 1 2." in printed
    assert "[en-GB] Help for you or someone else, press 1." in printed
    assert printed[-1] == "(caller hung up)"


def test_an_empty_line_is_silence_and_words_are_speech(leuven, open_line):
    printed: list[str] = []
    turns = simulate(
        leuven,
        language="fr",
        context=open_line,
        input_func=script("", "1", "pharmacie", "q"),
        output=printed.append,
    )
    assert "[fr-BE] Je n'ai rien entendu. Pas de souci, je répète." in printed
    assert turns[-1].state["collected"]["category"] == "groceries"
    assert turns[-1].state["node"] == "postcode"


def test_a_simulated_operator_who_does_not_answer_leads_to_a_call_back(leuven, open_line):
    printed: list[str] = []
    names = []
    simulate(
        leuven,
        language="nl",
        context=open_line,
        input_func=script("0", "n", ""),
        output=printed.append,
        effects=lambda effect: names.append(effect.name) or {},
    )
    assert "(connecting to operators)" in printed
    assert "[nl-BE] Op dit moment zijn alle medewerkers in gesprek." in printed
    assert names == ["recognise_caller", "create_callback_request"]
    assert printed[-1] == "(call ended)"


def test_the_default_app_answers_with_a_made_up_six_digit_reference(leuven, open_line):
    turns = simulate(
        leuven, language="nl", context=open_line, input_func=script("1", "1", "3000", "1", ""),
        output=lambda line: None,
    )  # fmt: skip
    reference = turns[-1].state["collected"]["reference"]
    assert len(reference) == 6 and reference.isdigit()


def test_end_of_input_hangs_up(leuven, open_line):
    def no_more(prompt: str) -> str:
        raise EOFError

    printed: list[str] = []
    simulate(leuven, context=open_line, input_func=no_more, output=printed.append)
    assert printed[-1] == "(caller hung up)"
