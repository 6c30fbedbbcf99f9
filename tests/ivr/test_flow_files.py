"""Loading flow files, and refusing the ones a caller could get lost in."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.ivr import FlowError, load_flow, load_flows
from hotline.ivr.schema import DialNode, MenuNode

from .conftest import LEUVEN_FILE, TEST_FLOWS

BROKEN = TEST_FLOWS / "broken"
MINIMAL = (TEST_FLOWS / "minimal.toml").read_text(encoding="utf-8")


def test_the_leuven_flow_offers_dutch_french_and_english(leuven):
    assert leuven.name == "Leuven Helpt"
    assert list(leuven.languages) == ["nl", "fr", "en"]
    assert leuven.start == "recognise"  # volunteers and helped residents first
    assert isinstance(leuven.nodes["category"], MenuNode)
    assert isinstance(leuven.nodes["operator_connect"], DialNode)


def test_the_flows_folder_holds_only_the_real_lines():
    assert list(load_flows(LEUVEN_FILE.parent)) == ["leuven"]


def test_load_flows_keys_each_flow_by_its_file_name():
    flows = load_flows(TEST_FLOWS)  # not the broken/ subfolder
    assert sorted(flows) == ["klokje", "minimal", "testdorp"]
    assert flows["testdorp"].name == "Testdorp Helpt"


@pytest.mark.parametrize(
    ("file_name", "expected"),
    [
        ("unknown_goto", "node 'menu', key 'options.7.goto': unknown node 'nope'"),
        ("reserved_key", "node 'menu', key 'options.0': key '0' is reserved"),
        ("missing_translation", "node 'menu', key 'options.2.label.en': missing text"),
        ("unknown_type", "node 'voicemail', key 'type': unknown node type 'voicemail'"),
        ("unknown_key", "node 'babbel', key 'gotoo': unknown key"),
        ("dead_end", "node 'bericht', key 'goto': dead end"),
        ("loop_without_input", "loop that never waits for the caller: info -> meer_info -> info"),
        ("unknown_placeholder", "node 'menu', key 'options.2.label': unknown placeholder {phone}"),
        ("unreachable", "node 'vergeten', key 'type': is never reached from the start node"),
        ("missing_start", "key 'flow.start': unknown node 'begin'"),
    ],
)  # fmt: skip
def test_a_broken_flow_file_is_refused_with_file_node_and_key(file_name, expected):
    path = BROKEN / f"{file_name}.toml"
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert expected in str(caught.value)


def test_a_toml_syntax_error_names_the_file_and_the_line():
    path = BROKEN / "syntax_error.toml"
    with pytest.raises(FlowError, match=r"syntax_error\.toml: not valid TOML: .*line 7"):
        load_flow(path)


def test_a_folder_with_one_broken_file_is_refused(tmp_path):
    (tmp_path / "good.toml").write_text(MINIMAL, encoding="utf-8")
    (tmp_path / "bad.toml").write_text(MINIMAL.replace('goto = "dag"', 'goto = "nergens"', 1))
    with pytest.raises(FlowError, match=r"bad\.toml: node 'menu'"):
        load_flows(tmp_path)


def test_a_missing_file_is_a_flow_error(tmp_path):
    with pytest.raises(FlowError, match="cannot be read"):
        load_flow(tmp_path / "nowhere.toml")


def variant(tmp_path: Path, old: str, new: str) -> Path:
    assert old in MINIMAL, old
    path = tmp_path / "variant.toml"
    path.write_text(MINIMAL.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('no_input = { nl = "Niets gehoord.", en = "Nothing heard." }',
         'no_input = { nl = "Niets gehoord." }',
         "key 'messages.no_input.en': missing text"),
        ('repeat = { label = { nl = "Om te herhalen", en = "To repeat" } }', "",
         "key 'keys.repeat': is required"),
        ('say = { nl = "Tot ziens.", en = "Goodbye." }',
         'say = { nl = "Tot ziens.", en = "Goodbye.", de = "Tschüss." }',
         "node 'dag', key 'say.de': language 'de' is not offered by this flow"),
        ('default_language = "nl"', 'default_language = "fr"',
         "key 'flow.default_language': language 'fr' is not in [languages]"),
        ('operator = "mens"', 'operator = "niemand"',
         "key 'flow.operator': unknown node 'niemand'"),
        ('[flow]\n', '[flow]\nspeaking_rate = "slow"\n',
         "key 'flow.speaking_rate': must look like"),
        ('[flow]\n', '[flow]\ntimeout = true\n', "key 'flow.timeout': must be a whole number"),
        ('code = "nl-BE"', 'code = "Dutch"', "key 'languages.nl.code': must look like \"nl-BE\""),
        ('press = "{label}, druk {key}."', 'press = "druk {key}"',
         "key 'languages.nl.press': must contain {label} and {key}"),
        ('type = "menu"', 'type = "menu"\nno_input = "5"',
         "node 'menu', key 'no_input': '5' is not one of this menu's options"),
        ('target = "operators"', 'target = "operators"\nsay = "Even wachten"',
         "node 'mens', key 'say': must be a table of texts per language"),
        ('[nodes.mens]\ntype = "dial"\ntarget = "operators"\ngoto = "dag"\nunavailable = "dag"',
         '[nodes.mens]\ntype = "say"\ngoto = "dag"', "node 'mens', key 'say': is required"),
        ('[flow]\n', '[flow]\nreminders = "sometimes"\n',
         "key 'flow.reminders': unknown value 'sometimes' (expected one of: every_menu, once"),
        ('[flow]\n', '[flow]\nspeech_timeout = 0\n',
         "key 'flow.speech_timeout': must be a positive number"),
        ('code = "nl-BE"', 'code = "nl-BE"\nspeech_language = "vlaams"',
         "key 'languages.nl.speech_language': must look like \"nl-BE\""),
        ('unavailable = "dag"', 'unavailable = "dag"\nrounds = 3',
         "node 'mens', key 'rounds': is no longer used: the caller waits in a queue"),
        ('unavailable = "dag"', 'unavailable = "dag"\nring_seconds = 8',
         "node 'mens', key 'ring_seconds': is no longer used: the caller waits in a queue"),
        ('unavailable = "dag"', 'unavailable = "dag"\nplace = { nl = "Nummer {plaats}.", '
         'en = "Number {plaats}." }\nplace_first = { nl = "U bent eerst.", en = "Next." }',
         "node 'mens', key 'place.nl': must say the caller's place with {position}"),
        ('unavailable = "dag"', 'unavailable = "dag"\nplace = { nl = "Nummer {position}.", '
         'en = "Number {position}." }',
         "node 'mens', key 'place': needs place_first too"),
        ('target = "operators"', 'target = "resident"\nwait_every = 8',
         "node 'mens', key 'wait_every': only a dial to operators waits in a queue"),
        ('unavailable = "dag"', 'unavailable = "dag"\nmax_wait = 5\nwait_every = 8',
         "node 'mens', key 'max_wait': must be at least wait_every (8 s)"),
        ('[nodes.menu.options.1]', '[nodes.menu.options.1]\nlanguage = "de"',
         "node 'menu', key 'options.1.language': language 'de' is not offered"),
        ('[nodes.mens]\ntype = "dial"\ntarget = "operators"\ngoto = "dag"\nunavailable = "dag"',
         '[nodes.mens]\ntype = "branch"\nif = "sunny"\nthen = "dag"\nelse = "dag"',
         "node 'mens', key 'if': unknown condition 'sunny'"),
    ],
)  # fmt: skip
def test_validation_names_what_is_wrong(tmp_path, old, new, expected):
    path = variant(tmp_path, old, new)
    with pytest.raises(FlowError) as caught:
        load_flow(path)
    assert expected in str(caught.value)


def test_an_effect_may_only_hand_over_facts_that_are_collected(tmp_path):
    effect = (
        'goto = "opslaan"\n\n[nodes.opslaan]\ntype = "effect"\neffect = "create_request"\n'
        'data = ["language", "postcode"]\ngoto = "dag"\n'
    )
    path = variant(tmp_path, 'goto = "dag"\n', effect)
    with pytest.raises(FlowError, match="node 'opslaan', key 'data': 'postcode' is never"):
        load_flow(path)


def test_a_digits_check_needs_somewhere_to_send_a_rejected_number(tmp_path):
    digits = (
        'goto = "postcode"\n\n[nodes.postcode]\ntype = "digits"\n'
        'say = { nl = "Postcode?", en = "Postcode?" }\nlength = 4\nstore = "postcode"\n'
        'check = "postcode"\ngoto = "dag"\n'
    )
    path = variant(tmp_path, 'goto = "dag"\n', digits)
    with pytest.raises(FlowError, match="node 'postcode', key 'invalid': is required"):
        load_flow(path)


def test_the_minimal_flow_is_valid_so_each_broken_file_fails_for_its_own_reason():
    assert load_flow(TEST_FLOWS / "minimal.toml").name == "Kapot"


def test_a_menu_whose_options_say_it_all_needs_no_question(tmp_path):
    question = 'say = { nl = "Waarmee kunnen we helpen?", en = "How can we help?" }\n'
    path = variant(tmp_path, question, "")
    assert load_flow(path).nodes["menu"].say == ()
