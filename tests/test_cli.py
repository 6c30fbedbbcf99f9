"""The `hotline` command line: flows can be checked, tried on a console phone and drawn."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline.cli import cli

ROOT = Path(__file__).resolve().parent.parent
BROKEN = sorted((ROOT / "tests/ivr/flows/broken").glob("*.toml"))


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path / "instance"))
    runner = CliRunner()
    return lambda *args, **kwargs: runner.invoke(cli, list(args), catch_exceptions=False, **kwargs)


def test_flow_check_accepts_the_shipped_flows(run):
    result = run("flow", "check")
    assert result.exit_code == 0, result.output
    assert "ok: " in result.output and "leuven.toml" in result.output


@pytest.mark.parametrize("broken", BROKEN, ids=[path.name for path in BROKEN])
def test_flow_check_refuses_a_broken_flow_and_names_the_file(run, broken):
    result = run("flow", "check", str(broken))
    assert result.exit_code == 1
    assert broken.name in result.output
    assert "Traceback" not in result.output


def test_a_console_caller_can_ask_for_groceries_and_hears_a_reference(run):
    # 1 help, 1 groceries, postcode 3000, 1 today, no message.
    result = run("flow", "simulate", "--lang", "nl", input="1\n1\n3000\n1\n\n")
    assert result.exit_code == 0, result.output
    assert "Boodschappen of apotheek, druk 1." in result.output
    assert "(call ended)" in result.output


def test_the_simulator_refuses_a_language_the_flow_does_not_speak(run):
    result = run("flow", "simulate", "--lang", "de")
    assert result.exit_code == 1
    assert "no language 'de'" in result.output


def test_flow_graph_draws_the_leuven_flow_as_svg(run, tmp_path):
    target = tmp_path / "leuven.svg"
    result = run("flow", "graph", "--lang", "fr", "-o", str(target))
    assert result.exit_code == 0, result.output
    root = ET.fromstring(target.read_text())
    assert root.tag.endswith("svg")
    assert "postcode" in target.read_text()


def test_a_broken_config_stops_the_command_with_file_and_key(run, tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text('[hotline]\nmode = "testing"\n[lines.x]\nname = "X"\n')
    monkeypatch.setenv("HOTLINE_CONFIG", str(config))
    result = run("flow", "simulate")
    assert result.exit_code == 1
    assert f"{config}, line 2: key 'hotline.mode'" in result.output


def test_db_upgrade_migrates_and_registers_the_configured_lines(run, database_url, monkeypatch):
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert "lines: leuven" in result.output
    current = run("db", "current")
    assert current.exit_code == 0
