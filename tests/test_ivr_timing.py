"""The IVR measured in seconds: what a caller listens to before they hear their reference.

The estimate (hotline.ivr.timing) is words at 150 a minute times the flow's speaking
rate, plus pauses. It is checked by hand on a tiny flow, then used as the city's
promise for the Leuven flow: a caller who presses the right keys and listens to every
prompt hears their reference within 90 seconds, in Dutch, French and English, counted
on the TwiML the app really sends through signed webhooks.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline import ivr
from hotline.cli import cli
from hotline.ivr import CallContext, load_flow
from hotline.ivr.timing import (
    Listening,
    budget_warnings,
    listening,
    menu_costs,
    path_to_reference,
    seconds_per_word,
    wait_costs,
)
from hotline.models import HelpRequest
from tests.test_ivr_webhooks import (  # noqa: F401 (fixtures: the open Leuven line)
    CODE,
    FLOW,
    WELCOME_KEY,
    app_config,
    leuven,
)

ROOT = Path(__file__).resolve().parent.parent
KLOKJE = ROOT / "tests" / "ivr" / "flows" / "klokje.toml"
LANGUAGES = ["nl", "fr", "en"]
NO_POSTCODES = CallContext(within_opening_hours=True, postcodes={})


# -- the estimate, by hand -------------------------------------------------------------------


def test_a_word_takes_0_44_seconds_at_90_percent_and_0_4_at_100():
    assert seconds_per_word("90%") == pytest.approx(0.444, abs=0.001)
    assert seconds_per_word("100%") == pytest.approx(0.4)


def test_words_and_pauses_are_counted_inside_and_outside_a_gather():
    actions = [
        ivr.Say("Bij een noodgeval: bel 1 1 2.", "nl-BE"),  # 7 words
        ivr.Gather(
            actions=[ivr.Pause(1), ivr.Say("Hulp, druk 1.", "nl-BE")],  # 1 s, 3 words
            num_digits=1,
            finish_on_key=None,
            timeout=8,
            speech_hints=[],
            language="nl-BE",
        ),
    ]
    assert listening(actions) == Listening(words=10, pause_seconds=1, pauses=1)
    assert listening(actions).seconds("100%") == pytest.approx(10 * 0.4 + 1)


def test_the_count_stops_at_the_last_digit_of_the_first_reading_of_the_reference():
    digits = [ivr.Say(digit, "nl-BE") for digit in "4829"]
    spoken = [ivr.Say("Uw nummer is:", "nl-BE"), *digits, ivr.Say("Ik herhaal:", "nl-BE"), *digits]
    assert listening(spoken, until_reference="4829").words == 3 + 4


def test_the_small_flow_costs_what_the_hand_count_says():
    flow = load_flow(KLOKJE)
    # welkom: "Welkom." + "Hulp, druk 1." + "Medewerker, druk 0." + "Herhalen, druk 9."
    #   = 10 words x 0.4 s + 2 pauses = 6.0 s (9 is explained here, once; * cannot work yet)
    # code: "Toets de code." + "Medewerker, druk 0." + "Terug, druk sterretje."
    #   = 9 words x 0.4 s + 1 pause = 4.6 s (9 was explained already; * is new here)
    costs = {menu.node: menu.seconds for menu in menu_costs(flow, "nl", NO_POSTCODES)}
    assert costs == {"welkom": 6.0, "code": 4.6}
    # The reference: "Uw nummer is" + 6 digits with 5 pauses between them = 9 x 0.4 + 5 = 8.6 s;
    # "Tot ziens." after it is not counted: the caller has their number by then.
    path = path_to_reference(flow, "nl", NO_POSTCODES)
    assert path.keys == ("1", "12")
    assert (path.listening.words, path.listening.pauses) == (10 + 9 + 9, 2 + 1 + 5)
    assert path.seconds == pytest.approx(6.0 + 4.6 + 8.6)


def test_flow_check_warns_about_a_long_menu_and_a_long_way_to_the_reference():
    warnings = budget_warnings(load_flow(KLOKJE), NO_POSTCODES)
    assert warnings == [
        f"{KLOKJE}: node 'welkom' [nl]: its prompts take 6.0 s, more than menu_budget (5 s)",
        f"{KLOKJE}: [nl] the key-only path to the reference takes 19.2 s, "
        "more than path_budget (19 s)",
    ]


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_waiting_for_an_operator_hears_something_every_7_to_10_seconds(language):
    (wait,) = wait_costs(load_flow(ROOT / "ivr_flows" / "leuven.toml"), language)
    assert wait.node == "operator_connect"
    assert len(wait.turns) == 7  # silence, then the three wait texts with the place between
    assert 7 <= wait.shortest <= wait.longest <= 10, wait.turns


def test_flow_check_warns_about_a_wait_where_the_caller_hears_nothing_for_long(tmp_path):
    text = (ROOT / "ivr_flows" / "leuven.toml").read_text(encoding="utf-8")
    slow = tmp_path / "slow.toml"
    slow.write_text(text.replace("wait_every = 8", "wait_every = 15"), encoding="utf-8")
    warnings = [w for w in budget_warnings(load_flow(slow), NO_POSTCODES) if "waiting" in w]
    assert len(warnings) == 3  # one per language
    assert re.search(
        r"slow\.toml: node 'operator_connect' \[nl\]: a waiting caller hears something every "
        r"1[45]\.\d to 1[45]\.\d s, not every 7 to 10 s",
        warnings[0],
    )


def test_hotline_flow_check_timing_prints_menus_paths_and_the_seconds_to_the_reference(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(cli, ["flow", "check", "--timing", str(KLOKJE)])
    assert result.exit_code == 0, result.output  # budgets warn, they do not fail the check
    assert "warning: " in result.output and "more than menu_budget (5 s)" in result.output
    assert re.search(r"welkom +6\.0 s  \(10 words, 2 pauses\)", result.output)
    assert "[nl] until the reference: 19.2 s (28 words, 8 pauses; budget 19 s)" in result.output


def test_the_shipped_flows_stay_within_their_budgets(tmp_path, monkeypatch):
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(cli, ["flow", "check"])
    assert result.exit_code == 0, result.output
    assert "warning" not in result.output


# -- the Leuven flow: the key-only happy path, on the TwiML sent ---------------------------


def heard_in(twiml: ET.Element) -> list[ivr.Say | ivr.Pause]:
    """The Say and Pause verbs of one TwiML answer, in order, as the engine's actions."""
    found: list[ivr.Say | ivr.Pause] = []
    for element in twiml.iter():
        if element.tag == "Say":
            found.append(ivr.Say("".join(element.itertext()), element.get("language")))
        elif element.tag == "Pause":
            found.append(ivr.Pause(int(element.get("length"))))
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_leuven_caller_hears_their_reference_within_90_seconds(leuven, language):  # noqa: F811
    flow = load_flow(ROOT / "ivr_flows" / "leuven.toml")
    postcodes = leuven.app.extensions["hotline.settings"].lines["leuven"].postcodes
    path = path_to_reference(flow, language, CallContext(True, postcodes=postcodes))
    assert path.keys[0] == WELCOME_KEY[language]

    call = leuven.call()
    answers = [call.dial()]
    for pressed in path.keys:
        if pressed == "message":
            answers.append(call.record("RE" + "1" * 32))
        else:
            answers.append(call.press(pressed))
        gathers = list(answers[-2].root.iter("Gather"))
        if gathers:  # 0 reaches a person, and is said so, in every menu on the way
            said = [say.find("prosody").text for say in gathers[-1].iter("Say")]
            operator = FLOW["keys"]["operator"]["label"][language]
            assert any(line.startswith(operator) and "0" in line for line in said), said
    reference = leuven.one(HelpRequest).reference
    heard = [action for answer in answers for action in heard_in(answer.root)]
    assert {say.language for say in heard[-20:] if isinstance(say, ivr.Say)} == {CODE[language]}

    cost = listening(heard, until_reference=reference)
    seconds = cost.seconds(FLOW["flow"]["speaking_rate"])
    assert seconds <= 90, f"{language}: {seconds:.1f} s ({cost.words} words, {cost.pauses} pauses)"
    # What `hotline flow check --timing` prints is what the TwiML makes callers hear.
    assert seconds == pytest.approx(path.seconds, abs=0.05)
    assert cost == path.listening


def test_simulate_timing_shows_the_seconds_of_each_answer_and_the_total(tmp_path, monkeypatch):
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(
        cli, ["flow", "simulate", "--lang", "nl", "--timing"], input="1\n1\n3000\n1\nbrood\n"
    )
    assert result.exit_code == 0, result.output
    assert re.search(r"\(~\d+\.\d s to hear; \d+\.\d s since the call began\)", result.output)
    assert "[nl] until the reference: " in result.output
    assert "[fr]" not in result.output  # only the language asked for
