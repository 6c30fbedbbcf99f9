"""A production install refuses to start wrong: missing servers, weak secrets, bad values.

Every refusal is one line that names the setting and where it came from (the file and
line, or the environment variable) and never repeats a secret or a password.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from hotline.config import ConfigError, load_settings
from hotline.startup import check_reachable, masked_redis_url
from hotline.telephony.sandbox import ACCOUNT_SID, AUTH_TOKEN

ROOT = Path(__file__).resolve().parent.parent
# 127.0.0.1:1 refuses connections at once: nothing listens on port 1.
UNREACHABLE_POSTGRESQL = "postgresql://hotline:s3cret-pw@127.0.0.1:1/hotline"
UNREACHABLE_REDIS = "redis://:s3cret-pw@127.0.0.1:1/0"
A_LINE_WITHOUT_SMS = """
[lines.testdorp]
name = "Testdorp Helpt"
phone_number = "+32 16 00 00 00"
flow = "testdorp"
volunteer_sms = false
[lines.testdorp.postcodes]
3000 = "Leuven"
"""


@pytest.fixture
def production(tmp_path) -> dict[str, str]:
    """The environment of a complete production install (its servers are never contacted)."""
    return {
        "HOTLINE_MODE": "production",
        "HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOTLINE_PUBLIC_BASE_URL": "https://helpt.example.be",
        "HOTLINE_DATABASE_URL": "postgresql://hotline:pw@db:5432/hotline",
        "HOTLINE_REDIS_URL": "redis://redis:6379/0",
        "HOTLINE_SECRET_KEY": "Yq3v9R_kd0XbTz2mN4pL7wHs8eJc1uGf6aQ5",
        "HOTLINE_HASH_PEPPER": "nW8rT2xK5mQ9bV1cZ7yH3jF6dS0gL4pA",
        "HOTLINE_VAULT_KEY": Fernet.generate_key().decode(),
        # the Twilio sandbox's credentials are shaped like real ones
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
    }


def refusal(environ: dict[str, str], overrides: dict | None = None) -> str:
    """The message load_settings refuses ``environ`` with."""
    with pytest.raises(ConfigError) as error:
        load_settings(overrides, environ=environ)
    message = str(error.value)
    assert "\n" not in message
    return message


def config_file(tmp_path: Path, hotline_table: str) -> str:
    """A config file with ``hotline_table`` as its [hotline] table, and one line."""
    path = tmp_path / "config.toml"
    path.write_text(f"[hotline]\n{hotline_table}\n{A_LINE_WITHOUT_SMS}")
    return str(path)


def test_a_complete_production_install_starts(production):
    settings = load_settings(environ=production)
    assert settings.mode == "production"
    assert settings.database_url == production["HOTLINE_DATABASE_URL"]
    assert settings.redis_url == production["HOTLINE_REDIS_URL"]


# --- servers: no quiet fall-back to SQLite and the embedded Redis ---------------------------


def test_a_production_install_without_a_database_url_is_refused_naming_the_variable(production):
    del production["HOTLINE_DATABASE_URL"]
    message = refusal(production)
    assert "production mode needs HOTLINE_DATABASE_URL" in message
    assert "SQLite" in message and "allow_embedded = true" in message


def test_a_production_install_without_a_redis_url_is_refused_naming_the_variable(production):
    del production["HOTLINE_REDIS_URL"]
    message = refusal(production)
    assert "production mode needs HOTLINE_REDIS_URL" in message
    assert "HOTLINE_ALLOW_EMBEDDED=1" in message


def test_a_single_machine_install_may_allow_sqlite_and_the_embedded_redis(production, tmp_path):
    del production["HOTLINE_DATABASE_URL"], production["HOTLINE_REDIS_URL"]
    settings = load_settings(environ={**production, "HOTLINE_ALLOW_EMBEDDED": "1"})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.redis_url is None

    in_the_file = config_file(tmp_path, "allow_embedded = true")
    settings = load_settings(environ={**production, "HOTLINE_CONFIG": in_the_file})
    assert settings.redis_url is None


def test_a_database_url_given_to_create_app_counts_as_set(production):
    del production["HOTLINE_DATABASE_URL"]
    settings = load_settings({"database_url": "postgresql://db/other"}, environ=production)
    assert settings.database_url == "postgresql://db/other"


# --- secrets of real strength ---------------------------------------------------------------


def test_a_one_character_secret_key_is_refused(production):
    production["HOTLINE_SECRET_KEY"] = "x"
    message = refusal(production)
    assert "environment variable HOTLINE_SECRET_KEY is shorter than 32 characters" in message
    assert "hotline secrets" in message


@pytest.mark.parametrize(
    ("variable", "weak_value", "problem"),
    [
        ("HOTLINE_SECRET_KEY", "hunter2", "is shorter than 32 characters"),
        ("HOTLINE_SECRET_KEY", "z" * 64, "has fewer than 8 different characters"),
        ("HOTLINE_HASH_PEPPER", "pepper" * 8, "has fewer than 8 different characters"),
        ("HOTLINE_HASH_PEPPER", "short-pepper", "is shorter than 32 characters"),
        ("TWILIO_ACCOUNT_SID", "ACnot-a-sid", "is not a Twilio account SID"),
        ("TWILIO_ACCOUNT_SID", "0123456789abcdef" * 2, "is not a Twilio account SID"),
        ("TWILIO_AUTH_TOKEN", "my-twilio-password", "is not a Twilio auth token"),
        ("TWILIO_AUTH_TOKEN", "0123456789abcdef" * 3, "is not a Twilio auth token"),
    ],
)
def test_a_weak_or_malformed_secret_names_the_variable_but_not_the_value(
    production, variable, weak_value, problem
):
    production[variable] = weak_value
    message = refusal(production)
    assert f"environment variable {variable} {problem}" in message
    assert weak_value not in message


def test_a_vault_key_is_still_checked_to_be_a_fernet_key(production):
    production["HOTLINE_VAULT_KEY"] = "not-a-fernet-key"
    assert "HOTLINE_VAULT_KEY is not a Fernet key" in refusal(production)


def test_a_secret_given_to_create_app_is_named_as_such(production):
    message = refusal(production, {"secrets": {"secret_key": "tiny"}})
    assert "create_app(config) secrets['secret_key'] is shorter than 32" in message


def test_demo_mode_keeps_accepting_made_up_secrets(tmp_path):
    settings = load_settings(
        {"instance_path": str(tmp_path)},
        environ={"HOTLINE_SECRET_KEY": "x", "TWILIO_AUTH_TOKEN": "whatever"},
    )
    assert settings.secrets.secret_key == "x"


# --- every value names its key and where it came from ---------------------------------------


def test_public_base_url_not_a_url_names_the_key_and_the_file_line(production, tmp_path):
    del production["HOTLINE_PUBLIC_BASE_URL"]
    path = config_file(tmp_path, 'mode = "production"\npublic_base_url = "not a url"')
    message = refusal({**production, "HOTLINE_CONFIG": path})
    assert f"{path}, line 3: key 'hotline.public_base_url'" in message
    assert "must be an http:// or https:// address with a host name, got 'not a url'" in message


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("helpt.example.be", "must be an http:// or https:// address"),
        ("https://", "must be an http:// or https:// address"),
        ("ftp://helpt.example.be", "must be an http:// or https:// address"),
        ("https://helpt.example.be/?line=leuven", "must not have a query"),
        ("https://helpt.example.be/#top", "must not have a query ('?…') or fragment"),
        ("https://helpt.example.be:https", "port that is not a number"),
    ],
)
def test_a_malformed_public_base_url_names_the_environment_variable(production, address, problem):
    production["HOTLINE_PUBLIC_BASE_URL"] = address
    message = refusal(production)
    assert message.startswith("environment variable HOTLINE_PUBLIC_BASE_URL: ")
    assert problem in message


def test_production_needs_an_https_public_base_url_even_on_localhost(production, tmp_path):
    production["HOTLINE_PUBLIC_BASE_URL"] = "http://helpt.example.be"
    assert "production needs the https:// address Twilio calls" in refusal(production)
    production["HOTLINE_PUBLIC_BASE_URL"] = "http://127.0.0.1:5000"
    assert "HOTLINE_PUBLIC_BASE_URL: production needs the https://" in refusal(production)

    # Not set at all: the message says the default was used, and which file lacks the key.
    del production["HOTLINE_PUBLIC_BASE_URL"]
    path = config_file(tmp_path, 'mode = "production"')
    message = refusal({**production, "HOTLINE_CONFIG": path})
    assert "key 'hotline.public_base_url' (not set, default 'http://127.0.0.1:5000')" in message

    # Demo mode runs on this machine: plain http is fine there.
    demo = load_settings(
        {"instance_path": str(tmp_path)}, environ={"HOTLINE_PUBLIC_BASE_URL": "http://0.0.0.0:8000"}
    )
    assert demo.public_base_url == "http://0.0.0.0:8000"


def test_log_level_loud_names_the_key(production, tmp_path):
    production["HOTLINE_LOG_LEVEL"] = "LOUD"
    message = refusal(production)
    assert "environment variable HOTLINE_LOG_LEVEL: must be one of DEBUG, INFO, WARNING" in message
    assert "got 'LOUD'" in message

    del production["HOTLINE_LOG_LEVEL"]
    path = config_file(tmp_path, 'log_level = "LOUD"')
    assert f"{path}, line 2: key 'hotline.log_level'" in refusal(
        {**production, "HOTLINE_CONFIG": path}
    )

    production["HOTLINE_LOG_LEVEL"] = "debug"
    assert load_settings(environ=production).log_level == "DEBUG"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("HOTLINE_MODE", "staging", "environment variable HOTLINE_MODE: must be one of demo"),
        ("HOTLINE_OUTBOX_RELAY_INTERVAL", "0", "HOTLINE_OUTBOX_RELAY_INTERVAL: must be greater"),
        ("HOTLINE_TWILIO_API_BASE_URL", "api.twilio.com", "HOTLINE_TWILIO_API_BASE_URL: must be"),
        ("HOTLINE_ALLOW_EMBEDDED", "sure", "HOTLINE_ALLOW_EMBEDDED: must be true or false"),
    ],
)
def test_a_wrong_setting_in_the_environment_names_the_variable(
    production, variable, value, expected
):
    production[variable] = value
    assert expected in refusal(production)


def test_twilio_api_base_url_may_be_a_local_stand_in(production):
    production["HOTLINE_TWILIO_API_BASE_URL"] = "http://127.0.0.1:8081"
    assert load_settings(environ=production).twilio_api_base_url == "http://127.0.0.1:8081"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("hunter2", "not a database URL"),
        ("postgresql://hotline:hunter2@db:fivefour/hotline", "not a database URL"),
        ("mongodb://hotline:hunter2@db/hotline", "unknown kind of database"),
    ],
)
def test_a_database_url_sqlalchemy_cannot_read_is_refused_without_echoing_it(
    production, url, problem
):
    production["HOTLINE_DATABASE_URL"] = url
    message = refusal(production)
    assert f"environment variable HOTLINE_DATABASE_URL: {problem}" in message
    assert "hunter2" not in message


def test_a_redis_url_of_another_scheme_is_refused_without_echoing_it(production):
    production["HOTLINE_REDIS_URL"] = "http://:hunter2@cache:6379/0"
    message = refusal(production)
    assert "environment variable HOTLINE_REDIS_URL: not a Redis URL" in message
    assert "hunter2" not in message
    production["HOTLINE_REDIS_URL"] = "unix:///run/redis/redis.sock"
    assert load_settings(environ=production).redis_url == "unix:///run/redis/redis.sock"


# --- start-up: servers that do not answer ----------------------------------------------------


def run_hotline(*args: str, environ: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    """Run the real `hotline` command in a clean environment; stdout and stderr together."""
    clean = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("HOTLINE_", "TWILIO_", "FLASK_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "hotline.cli", *args],
        env={**clean, "FLASK_SKIP_DOTENV": "1", **environ},
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # on a bug the check passes and gunicorn starts: fail the test instead of hanging
        timeout=60,
    )


def assert_one_line_error(result: subprocess.CompletedProcess) -> str:
    """The output of a refused start: non-zero exit, one line, no traceback."""
    assert result.returncode != 0
    assert len(result.stdout.strip().splitlines()) == 1, result.stdout
    assert "Traceback" not in result.stdout
    return result.stdout


def test_hotline_serve_with_an_unreachable_postgresql_prints_one_line_and_exits_non_zero(
    production, tmp_path
):
    production["HOTLINE_DATABASE_URL"] = UNREACHABLE_POSTGRESQL
    output = assert_one_line_error(run_hotline("serve", environ=production, cwd=tmp_path))
    assert (
        "cannot reach the database at postgresql://hotline:***@127.0.0.1:1/hotline "
        "(connection refused); check HOTLINE_DATABASE_URL"
    ) in output
    assert "s3cret-pw" not in output


def test_hotline_serve_with_an_unreachable_redis_prints_one_line_and_exits_non_zero(
    production, tmp_path
):
    production["HOTLINE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'hotline.sqlite3'}"
    production["HOTLINE_REDIS_URL"] = UNREACHABLE_REDIS
    output = assert_one_line_error(run_hotline("serve", environ=production, cwd=tmp_path))
    assert (
        "cannot reach Redis at redis://:***@127.0.0.1:1/0 (connection refused); "
        "check HOTLINE_REDIS_URL"
    ) in output
    assert "s3cret-pw" not in output


def test_hotline_serve_with_log_level_loud_prints_one_line(production, tmp_path):
    production["HOTLINE_LOG_LEVEL"] = "LOUD"
    output = assert_one_line_error(run_hotline("serve", environ=production, cwd=tmp_path))
    assert "HOTLINE_LOG_LEVEL: must be one of" in output


def test_hotline_db_upgrade_with_an_unreachable_database_prints_one_line(tmp_path):
    environ = {
        "HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
        "HOTLINE_DATABASE_URL": UNREACHABLE_POSTGRESQL,
    }
    output = assert_one_line_error(run_hotline("db", "upgrade", environ=environ, cwd=tmp_path))
    assert "cannot reach the database at postgresql://hotline:***@127.0.0.1:1/hotline" in output
    assert "s3cret-pw" not in output


def test_check_reachable_is_quiet_when_the_database_and_redis_answer(
    production, database_url, redis_url
):
    settings = load_settings(
        {"database_url": database_url, "redis_url": redis_url}, environ=production
    )
    check_reachable(settings)


def test_a_redis_password_is_masked_with_or_without_a_user_name():
    assert masked_redis_url("redis://:pw@cache:6379/0") == "redis://:***@cache:6379/0"
    assert masked_redis_url("rediss://app:pw@cache:6380") == "rediss://app:***@cache:6380"
    assert masked_redis_url("unix:///run/redis.sock") == "unix:///run/redis.sock"


def test_a_weak_metrics_token_is_refused_without_echoing_it(tmp_path):
    from hotline.config import ConfigError, load_settings

    with pytest.raises(ConfigError) as refused:
        load_settings({"instance_path": str(tmp_path)}, environ={"HOTLINE_METRICS_TOKEN": "secret"})
    assert "HOTLINE_METRICS_TOKEN" in str(refused.value)
    assert "secret'" not in str(refused.value) and ": secret" not in str(refused.value)
