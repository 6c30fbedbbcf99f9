"""Speech recognition tuned for Flemish and French ears, as set in the flow file.

Each language of ivr_flows/leuven.toml names its recogniser (Twilio's speechModel);
the flow waits a few seconds of silence before it takes an answer as finished (older
callers pause mid-sentence: not "auto"); each menu sends its own hints. These tests
post signed webhooks and read the <Gather> Twilio would get.
"""

from __future__ import annotations

import pytest

from hotline.models import HelpRequest
from tests.test_ivr_webhooks import (  # noqa: F401 (fixtures: the open Leuven line)
    CODE,
    FLOW,
    WELCOME_KEY,
    app_config,
    leuven,
)

LANGUAGES = ["nl", "fr", "en"]
MODEL = {"nl": "deepgram_nova-2", "fr": "googlev2_long", "en": "googlev2_telephony"}


def test_the_flow_file_sets_a_recogniser_per_language_and_a_patient_speech_timeout():
    assert {key: FLOW["languages"][key]["speech_model"] for key in LANGUAGES} == MODEL
    assert FLOW["flow"]["speech_timeout"] == 3


def test_the_welcome_listens_in_dutch_with_the_dutch_recogniser(leuven):  # noqa: F811
    gather = leuven.call().dial().gather
    assert gather.get("language") == "nl-BE"
    assert gather.get("speechModel") == "deepgram_nova-2"
    assert gather.get("speechTimeout") == "3"  # seconds of silence, never "auto"
    assert "nederlands" in gather.get("hints").split(", ")


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_menu_listens_in_the_callers_language_with_its_model_and_hints(
    leuven,  # noqa: F811
    language,
):
    call = leuven.call()
    call.dial()
    menus = [call.press(WELCOME_KEY[language]), call.press("1"), call.press("1")]
    for answer in menus:
        gather = answer.gather
        assert gather.get("language") == CODE[language]
        assert gather.get("speechModel") == MODEL[language]
        assert gather.get("speechTimeout") == "3"
    # The category menu hints at its own words; the postcode at numbers said in groups.
    category_hints = menus[1].gather.get("hints").split(", ")
    assert FLOW["nodes"]["category"]["options"]["1"]["speech"][language][0] in category_hints
    postcode_hints = menus[2].gather.get("hints").split(", ")
    assert FLOW["nodes"]["postcode"]["hints"][language][0] in postcode_hints
    assert {"drieduizend", "trois mille", "three thousand"} & set(postcode_hints) == {
        FLOW["nodes"]["postcode"]["hints"][language][0]
    }


@pytest.mark.parametrize(
    ("language", "words"),
    [("nl", "drieduizend"), ("nl", "dertig nul nul"), ("nl", "drie nul nul nul"),
     ("fr", "trois mille"), ("en", "three thousand")],
)  # fmt: skip
def test_a_postcode_said_in_groups_is_understood(leuven, language, words):  # noqa: F811
    call = leuven.call()
    call.dial()
    call.press(WELCOME_KEY[language])
    call.press("1")
    call.press("1")
    answer = call.speak(words)
    assert FLOW["nodes"]["urgency"]["say"][language] in answer.gather_says
    call.press("1")
    call.record("RE" + "2" * 32)
    assert leuven.one(HelpRequest).postcode == "3000"
