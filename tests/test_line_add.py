"""`hotline line add`: a new town in the config file and a menu of its own, checked first."""

from __future__ import annotations

import shutil

from click.testing import CliRunner

from hotline.cli import cli
from hotline.config import load_settings
from tests.conftest import ROOT

OTTIGNIES = [
    "ottignies",
    "--name", "Ottignies-LLN Solidaire",
    "--number", "010 47 47 47",
    "--sms-from", "0470 10 47 47",
    "--postcodes", "1340=Ottignies, 1341=Céroux-Mousty, 1348=Louvain-la-Neuve",
    "--languages", "fr,nl,en",
    "--opening-hours", "09:00-17:00",
]  # fmt: skip


def a_copy_of_the_project(tmp_path):
    shutil.copy(ROOT / "config.toml", tmp_path / "config.toml")
    shutil.copytree(ROOT / "ivr_flows", tmp_path / "ivr_flows")
    return tmp_path / "config.toml"


def test_a_french_speaking_town_is_added_with_its_own_menu_and_keeps_the_file_readable(tmp_path):
    config = a_copy_of_the_project(tmp_path)
    before = config.read_text()
    result = CliRunner().invoke(
        cli, ["line", "add", *OTTIGNIES], env={"HOTLINE_CONFIG": str(config)}
    )
    assert result.exit_code == 0, result.output
    assert (
        "A call comes in: Webhook, HTTP POST, http://127.0.0.1:5000/twilio/voice" in result.output
    )
    assert (
        "A message comes in: Webhook, HTTP POST, http://127.0.0.1:5000/twilio/sms" in result.output
    )
    text = config.read_text()
    assert text.startswith(before.rstrip("\n").split("[limits]")[0][:200])  # comments kept
    assert "# Rate limits against abuse" in text
    settings = load_settings({"config_file": config})
    line = settings.lines["ottignies"]
    assert (line.phone_number, line.sms_from, line.languages) == (
        "+3210474747",
        "+32470104747",
        ("fr", "nl", "en"),
    )
    assert line.postcodes["1348"] == "Louvain-la-Neuve"
    assert settings.line_dialled("+3210474747") is line
    assert settings.line_dialled("+3216272772").slug == "leuven"
    flow = (tmp_path / "ivr_flows" / "ottignies.toml").read_text()
    assert 'say.fr = "Bienvenue chez Ottignies-LLN Solidaire."' in flow
    assert "Leuven" not in flow.split("\n", 3)[-1]
    assert 'default_language = "fr"' in flow
    # French is key 1 in the language menu, and what silence chooses.
    welcome = flow.split("[nodes.welcome.options.1]")[1].split("[nodes.welcome.options.2]")[0]
    assert 'language = "fr"' in welcome
    checked = CliRunner().invoke(cli, ["flow", "check"], env={"HOTLINE_CONFIG": str(config)})
    assert checked.exit_code == 0, checked.output


def test_a_new_line_takes_a_call_in_french_at_its_own_number(tmp_path):
    from hotline import create_app
    from hotline.towns import NewLine, add_line, parse_postcodes

    config = a_copy_of_the_project(tmp_path)
    add_line(config, NewLine(
        slug="ottignies", name="Ottignies-LLN Solidaire", phone_number="+32 10 47 47 47",
        postcodes=parse_postcodes("1348=Louvain-la-Neuve"), languages=("fr", "nl"),
    ))  # fmt: skip
    app = create_app({
        "config_file": config, "instance_path": str(tmp_path / "instance"),
        "database_url": f"sqlite:///{tmp_path / 'h.sqlite3'}", "public_base_url":
        "https://hotline.example.org", "mode": "demo", "limits": {"enabled": False},
    })  # fmt: skip
    from hotline.db import upgrade

    upgrade(app.extensions["hotline.engine"])
    from tests.conftest import Twilio

    answer = Twilio(app).post("/twilio/voice", {
        "CallSid": "CA" + "1" * 32, "From": "+32470000001", "To": "+3210474747",
        "AccountSid": "AC" + "0" * 32, "CallStatus": "ringing", "Direction": "inbound",
    })  # fmt: skip
    assert answer.status_code == 200
    assert "Bienvenue chez Ottignies-LLN Solidaire" in answer.get_data(as_text=True)


def test_a_number_another_town_has_is_refused_and_nothing_is_written(tmp_path):
    config = a_copy_of_the_project(tmp_path)
    before = config.read_text()
    args = [*OTTIGNIES]
    args[args.index("--number") + 1] = "016 27 27 72"  # Leuven's
    result = CliRunner().invoke(cli, ["line", "add", *args], env={"HOTLINE_CONFIG": str(config)})
    assert result.exit_code != 0
    assert "the same number as lines.leuven.phone_number" in result.output
    assert str(config) in result.output and ".new" not in result.output
    assert config.read_text() == before
    assert not (tmp_path / "ivr_flows" / "ottignies.toml").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "instance", "ivr_flows"]


def test_a_postcode_list_that_is_not_one_says_how_to_write_it(tmp_path):
    config = a_copy_of_the_project(tmp_path)
    args = [*OTTIGNIES]
    args[args.index("--postcodes") + 1] = "Ottignies"
    result = CliRunner().invoke(cli, ["line", "add", *args], env={"HOTLINE_CONFIG": str(config)})
    assert result.exit_code != 0
    assert 'expected "3300=Tienen, 3320=Hoegaarden"' in result.output
