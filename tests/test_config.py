"""Configuration: defaults for Leuven, overrides, secrets, and mistakes that explain themselves."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotline.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


MINIMAL_LINE = """
[lines.testdorp]
name = "Testdorp Helpt"
phone_number = "+32 16 00 00 00"
flow = "testdorp"
[lines.testdorp.postcodes]
3000 = "Leuven"
"""


def test_the_shipped_config_describes_the_leuven_line(tmp_path):
    settings = load_settings({"instance_path": str(tmp_path)}, environ={})
    leuven = settings.lines["leuven"]
    assert leuven.phone_number == "+3216272772"
    assert leuven.languages == ("nl", "fr", "en")
    assert leuven.timezone == "Europe/Brussels"
    assert leuven.postcodes == {
        "3000": "Leuven",
        "3001": "Heverlee",
        "3010": "Kessel-Lo",
        "3012": "Wilsele",
        "3018": "Wijgmaal",
    }
    assert settings.mode == "demo"
    assert settings.database_url == f"sqlite:///{tmp_path / 'hotline.sqlite3'}"
    assert settings.redis_url is None  # embedded Redis


def test_opening_hours_are_eight_to_eight_in_brussels_time(tmp_path):
    leuven = load_settings({"instance_path": str(tmp_path)}, environ={}).lines["leuven"]
    # 07:30 UTC in November is 08:30 in Brussels
    assert leuven.is_open(datetime(2026, 11, 26, 7, 30, tzinfo=UTC))
    assert not leuven.is_open(datetime(2026, 11, 26, 6, 30, tzinfo=UTC))
    assert not leuven.is_open(datetime(2026, 11, 26, 19, 30, tzinfo=UTC))


def test_hotline_config_points_at_another_file(tmp_path):
    path = write_config(tmp_path, MINIMAL_LINE)
    settings = load_settings(environ={"HOTLINE_CONFIG": str(path)})
    assert list(settings.lines) == ["testdorp"]
    assert settings.instance_path == tmp_path / "instance"


def test_environment_variables_override_the_file(tmp_path):
    environ = {
        "HOTLINE_PUBLIC_BASE_URL": "https://helpt.example.be/",
        "HOTLINE_TRUST_PROXY": "true",
        "HOTLINE_DATABASE_URL": "postgresql://db/hotline",
        "HOTLINE_REDIS_URL": "redis://cache:6379/0",
        "HOTLINE_INSTANCE_PATH": str(tmp_path),
    }
    settings = load_settings(environ=environ)
    assert settings.public_base_url == "https://helpt.example.be"
    assert settings.trust_proxy is True
    assert settings.database_url == "postgresql://db/hotline"
    assert settings.redis_url == "redis://cache:6379/0"


def test_demo_mode_generates_secrets_once_and_keeps_them(tmp_path):
    first = load_settings({"instance_path": str(tmp_path)}, environ={}).secrets
    second = load_settings({"instance_path": str(tmp_path)}, environ={}).secrets
    assert first == second
    assert (tmp_path / "demo-secrets.json").stat().st_mode & 0o777 == 0o600
    assert "hidden" in repr(first) and first.vault_key not in repr(first)


def test_secrets_from_the_environment_win(tmp_path):
    settings = load_settings(
        {"instance_path": str(tmp_path)}, environ={"TWILIO_AUTH_TOKEN": "from-the-environment"}
    )
    assert settings.secrets.twilio_auth_token == "from-the-environment"


def test_production_mode_without_a_secret_names_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="HOTLINE_SECRET_KEY is not set"):
        load_settings({"instance_path": str(tmp_path)}, environ={"HOTLINE_MODE": "production"})
    assert not (tmp_path / "demo-secrets.json").exists()


def test_a_vault_key_that_is_not_a_fernet_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="HOTLINE_VAULT_KEY is not a Fernet key"):
        load_settings({"instance_path": str(tmp_path)}, environ={"HOTLINE_VAULT_KEY": "short"})


def test_broken_toml_names_the_file_and_line(tmp_path):
    path = write_config(tmp_path, '[hotline]\nmode = "demo"\npublic_base_url = \n')
    with pytest.raises(ConfigError) as error:
        load_settings(environ={"HOTLINE_CONFIG": str(path)})
    message = str(error.value)
    assert str(path) in message and "line 3" in message
    assert "Traceback" not in message


def test_a_misspelt_key_names_the_file_line_and_key(tmp_path):
    path = write_config(tmp_path, '[hotline]\nmode = "demo"\npublic_base_ur = "x"\n' + MINIMAL_LINE)
    with pytest.raises(ConfigError, match=r"config.toml, line 3: key 'hotline.public_base_ur'"):
        load_settings(environ={"HOTLINE_CONFIG": str(path)})


def test_a_value_of_the_wrong_type_names_the_key(tmp_path):
    path = write_config(tmp_path, '[hotline]\ntrust_proxy = "maybe"\n' + MINIMAL_LINE)
    with pytest.raises(
        ConfigError, match=r"line 2: key 'hotline.trust_proxy': must be true or false"
    ):
        load_settings(environ={"HOTLINE_CONFIG": str(path)})


def test_an_environment_variable_of_the_wrong_type_is_named(tmp_path):
    with pytest.raises(ConfigError, match="HOTLINE_OUTBOX_RELAY_INTERVAL: must be a whole number"):
        load_settings(
            {"instance_path": str(tmp_path)}, environ={"HOTLINE_OUTBOX_RELAY_INTERVAL": "soon"}
        )


def test_credentials_in_the_file_are_refused(tmp_path):
    path = write_config(
        tmp_path, '[hotline]\ndatabase_url = "postgresql://u:secret@db/x"\n' + MINIMAL_LINE
    )
    with pytest.raises(ConfigError, match="set HOTLINE_DATABASE_URL in the environment"):
        load_settings(environ={"HOTLINE_CONFIG": str(path)})


@pytest.mark.parametrize(
    ("line_text", "expected"),
    [
        ('phone_number = "12"', "lines.testdorp.phone_number': not a valid phone number"),
        ('timezone = "Europe/Leuven"', "lines.testdorp.timezone': unknown time zone"),
        ('opening_hours = "20:00-08:00"', "closing time must be after opening time"),
        ('languages = ["klingon"]', "lines.testdorp.languages"),
        ('colour = "blue"', "lines.testdorp.colour': unknown key"),
    ],
)
def test_mistakes_in_a_line_name_the_key(tmp_path, line_text, expected):
    text = MINIMAL_LINE.replace('flow = "testdorp"', f'flow = "testdorp"\n{line_text}')
    if line_text.startswith("phone_number"):
        text = text.replace('phone_number = "+32 16 00 00 00"\n', "")
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError, match=expected):
        load_settings(environ={"HOTLINE_CONFIG": str(path)})


def test_opening_hours_can_differ_per_weekday(tmp_path):
    text = MINIMAL_LINE.replace(
        'flow = "testdorp"',
        'flow = "testdorp"\nopening_hours = { mon = "09:00-17:00", sun = "closed" }',
    )
    line = load_settings(environ={"HOTLINE_CONFIG": str(write_config(tmp_path, text))}).lines[
        "testdorp"
    ]
    monday_ten = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # 10:00 in Brussels
    sunday_ten = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    tuesday_ten = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # not listed: closed
    assert line.is_open(monday_ten)
    assert not line.is_open(sunday_ten)
    assert not line.is_open(tuesday_ten)


# --- SMS with volunteers -------------------------------------------------------------------

PRODUCTION_SECRETS = {
    "HOTLINE_MODE": "production",
    "HOTLINE_SECRET_KEY": "secret-key-0123456789-abcdefghijklm",
    "HOTLINE_VAULT_KEY": "x" * 43 + "=",
    "HOTLINE_HASH_PEPPER": "pepper-0123456789-abcdefghijklmnop",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "0123456789abcdef" * 2,
    # production also needs servers and an https address (tests/test_production_config.py)
    "HOTLINE_PUBLIC_BASE_URL": "https://helpt.example.be",
    "HOTLINE_DATABASE_URL": "postgresql://db/hotline",
    "HOTLINE_REDIS_URL": "redis://cache:6379/0",
}


def line_with(tmp_path: Path, extra: str) -> Path:
    """A config whose one line has ``extra`` keys (before its postcodes)."""
    return write_config(
        tmp_path,
        MINIMAL_LINE.replace("[lines.testdorp.postcodes]", extra + "\n[lines.testdorp.postcodes]"),
    )


def test_production_refuses_a_line_that_texts_volunteers_without_an_sms_sender(tmp_path):
    path = line_with(tmp_path, "")
    environ = {**PRODUCTION_SECRETS, "HOTLINE_CONFIG": str(path)}
    with pytest.raises(ConfigError) as error:
        load_settings(environ=environ)
    assert "key 'lines.testdorp.sms_from'" in str(error.value)
    assert "messaging_service_sid" in str(error.value)

    off = line_with(tmp_path, "volunteer_sms = false")
    assert (
        not load_settings(environ={**environ, "HOTLINE_CONFIG": str(off)})
        .lines["testdorp"]
        .sends_sms
    )


def test_a_geographic_number_cannot_be_the_sms_sender(tmp_path):
    path = line_with(tmp_path, 'sms_from = "016 27 27 72"')
    with pytest.raises(ConfigError, match=r"lines.testdorp.sms_from'.*must be a mobile number"):
        load_settings(environ={"HOTLINE_CONFIG": str(path)})


def test_a_messaging_service_is_checked_and_cannot_be_set_beside_a_number(tmp_path):
    good = line_with(tmp_path, 'messaging_service_sid = "MG' + "ab" * 16 + '"')
    line = load_settings(environ={"HOTLINE_CONFIG": str(good)}).lines["testdorp"]
    assert line.sends_sms and line.messaging_service_sid.startswith("MG")
    bad = line_with(tmp_path, 'messaging_service_sid = "MGnope"')
    with pytest.raises(ConfigError, match="must be a Messaging Service SID"):
        load_settings(environ={"HOTLINE_CONFIG": str(bad)})
    both = line_with(
        tmp_path, 'sms_from = "0470 27 27 72"\nmessaging_service_sid = "MG' + "ab" * 16 + '"'
    )
    with pytest.raises(ConfigError, match="not both"):
        load_settings(environ={"HOTLINE_CONFIG": str(both)})


def test_offer_timers_are_durations_per_urgency(tmp_path):
    path = line_with(
        tmp_path,
        'offer_expiry = { today = "45m", coming_days = "1d" }\nreminder_after = "3h"\n'
        'follow_up_after = "90s"\nmax_offers = 3\noffers_at_once = 2',
    )
    line = load_settings(environ={"HOTLINE_CONFIG": str(path)}).lines["testdorp"]
    assert line.offer_expiry_for("today") == 45 * 60
    assert line.offer_expiry_for("coming_days") == line.offer_expiry_for(None) == 86400
    assert line.reminder_after_for("today") == 3 * 3600
    assert (line.follow_up_after, line.max_offers, line.offers_at_once) == (90, 3, 2)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('offer_expiry = "soon"', r"offer_expiry'.*expected a duration"),
        ('offer_expiry = { tomorrow = "1h" }', r"offer_expiry'.*unknown urgency 'tomorrow'"),
        ('follow_up_after = "0m"', r"follow_up_after'.*expected a duration"),
        ("max_offers = 0", r"max_offers'.*at least 1"),
        ("max_offers = 2\noffers_at_once = 3", r"offers_at_once'.*cannot be more than max_offers"),
    ],
)
def test_a_wrong_offer_setting_names_the_key(tmp_path, extra, message):
    path = line_with(tmp_path, extra)
    with pytest.raises(ConfigError, match=message):
        load_settings(environ={"HOTLINE_CONFIG": str(path)})
