"""When this app cannot answer at all, Twilio's fallback URL still puts callers through.

`hotline fallback-twiml` prints a TwiML document for a TwiML Bin (hosted by Twilio):
the trouble said in every language of the line, the city's general number rung.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from hotline.cli import cli
from hotline.voice.texts import (
    FALLBACK_GOODBYE,
    FALLBACK_NOBODY,
    FALLBACK_PUT_THROUGH,
    FALLBACK_TROUBLE,
)
from tests.test_ivr_webhooks import CODE, VOICE, assert_documented_twiml

ROOT_CONFIG = """
[hotline]
flows_dir = "{flows}"

[lines.leuven]
name = "Leuven Helpt"
phone_number = "+32 16 27 27 72"
flow = "leuven"
languages = ["nl", "fr", "en"]
postcodes = {{ 3000 = "Leuven" }}
volunteer_sms = false
{extra}
"""


@pytest.fixture
def fallback(tmp_path, monkeypatch):
    """`hotline fallback-twiml` for a Leuven line with ``extra`` settings; the parsed TwiML."""
    from tests.conftest import ROOT

    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path / "instance"))

    def run(extra: str = "") -> ET.Element:
        config = tmp_path / "config.toml"
        config.write_text(ROOT_CONFIG.format(flows=ROOT / "ivr_flows", extra=extra))
        monkeypatch.setenv("HOTLINE_CONFIG", str(config))
        result = CliRunner().invoke(cli, ["fallback-twiml"], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return ET.fromstring(result.output.strip())

    return run


def says(root: ET.Element) -> list[tuple[str, str]]:
    return [(say.get("language"), "".join(say.itertext())) for say in root.iter("Say")]


def test_callers_hear_the_trouble_in_their_languages_and_reach_the_city(fallback):
    root = fallback('general_number = "016 27 20 00"')

    assert_documented_twiml(root)
    assert [child.tag for child in root] == ["Say"] * 6 + ["Dial"] + ["Say"] * 3 + ["Hangup"]
    expected = []
    for language in ("nl", "fr", "en"):  # each language says all it has to say in turn
        expected += [
            (CODE[language], FALLBACK_TROUBLE[language].format(line="Leuven Helpt")),
            (CODE[language], FALLBACK_PUT_THROUGH[language]),
        ]
    expected += [(CODE[language], FALLBACK_GOODBYE[language]) for language in ("nl", "fr", "en")]
    assert says(root) == expected
    assert [say.get("voice") for say in root.iter("Say")][:2] == [VOICE["nl"]] * 2
    dial = root.find("Dial")
    assert [number.text for number in dial.iter("Number")] == ["+3216272000"]
    assert dial.get("callerId") == "+3216272772"  # the line's number, as on every call
    # Nothing in it points back at this app, which is down when Twilio plays it.
    assert not [element for element in root.iter() if element.get("action") or element.get("url")]
    assert root.find("Redirect") is None


def test_without_a_general_number_the_operators_phones_ring(fallback):
    root = fallback('operator_numbers = ["016 27 20 01", "016 27 20 02"]')

    assert [n.text for n in root.find("Dial").iter("Number")] == ["+3216272001", "+3216272002"]


def test_with_nobody_to_ring_callers_are_asked_to_try_again_later(fallback):
    root = fallback()

    assert root.find("Dial") is None
    assert says(root)[-3:] == [(CODE[code], FALLBACK_NOBODY[code]) for code in ("nl", "fr", "en")]


def test_a_general_number_that_is_no_number_names_the_key(tmp_path, monkeypatch):
    from hotline.config import ConfigError, load_settings
    from tests.conftest import ROOT

    config = tmp_path / "config.toml"
    config.write_text(ROOT_CONFIG.format(flows=ROOT / "ivr_flows", extra='general_number = "x"'))
    with pytest.raises(ConfigError) as refused:
        load_settings({"config_file": config, "instance_path": str(tmp_path)})
    assert "lines.leuven.general_number" in str(refused.value)
