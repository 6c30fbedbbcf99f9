"""Load, merge and validate the hotline's configuration.

Precedence, lowest first: ``config.toml`` (or the file named by ``HOTLINE_CONFIG``),
``HOTLINE_*`` environment variables, then the mapping given to ``create_app``.
Secrets come only from the environment; in demo mode missing ones are generated
once and kept in the instance folder so that restarts keep working.
A mistake is reported as a :class:`ConfigError` that names the key and where its value
came from: the file and line, the environment variable or the ``create_app`` mapping.
Production mode is stricter: it needs a database and a Redis server (unless
``allow_embedded``), an https public address and secrets of real strength.
"""

from __future__ import annotations

import json
import os
import re
import secrets as secrets_module
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from cryptography.fernet import Fernet
from limits import parse_many  # Flask-Limiter's own parser: what it takes, [limits] takes
from redis.connection import parse_url as parse_redis_url
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_FILE = PROJECT_ROOT / "config.toml"
MODES = ("demo", "production")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# key -> (type, default). Every key of the [hotline] table may also be set as HOTLINE_<KEY>.
GENERAL_KEYS: dict[str, tuple[type, Any]] = {
    "mode": (str, "demo"),
    "public_base_url": (str, "http://127.0.0.1:5000"),
    "instance_path": (str, "instance"),
    "trust_proxy": (bool, False),
    "twilio_api_base_url": (str, "https://api.twilio.com"),
    "flows_dir": (str, "ivr_flows"),
    "outbox_relay_interval": (int, 5),
    "log_level": (str, "INFO"),
    "log_format": (str, "text"),
    # Production mode refuses to fall back to the SQLite file and the embedded Redis
    # unless this says that a single-machine install is meant.
    "allow_embedded": (bool, False),
    # Staff sessions end after this long without a click (background refreshes do not count)
    # and, however active, this long after the login: a shift, then log in again.
    "session_idle_timeout": (str, "2h"),
    "session_max_age": (str, "12h"),
}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")
# Settings that may carry credentials: environment (or create_app) only, never the file.
ENVIRONMENT_ONLY_KEYS = ("database_url", "redis_url", "metrics_token")
# name of the environment variable -> attribute of Secrets
SECRET_VARIABLES = {
    "HOTLINE_SECRET_KEY": "secret_key",
    "HOTLINE_VAULT_KEY": "vault_key",
    "HOTLINE_HASH_PEPPER": "hash_pepper",
    "TWILIO_ACCOUNT_SID": "twilio_account_sid",
    "TWILIO_AUTH_TOKEN": "twilio_auth_token",
}
LINE_KEYS: dict[str, tuple[type, Any]] = {
    "name": (str, None),
    "phone_number": (str, None),
    "country": (str, "BE"),
    "flow": (str, None),
    "languages": (list, ["nl"]),
    "timezone": (str, "Europe/Brussels"),
    "opening_hours": (object, "08:00-20:00"),
    "register_url": (str, ""),
    "postcodes": (dict, None),
    "operator_numbers": (list, []),
    "general_number": (str, ""),
    "transcribe": (bool, False),
    # SMS with volunteers (README, "Volunteers answer by SMS")
    "volunteer_sms": (bool, True),
    "sms_from": (str, ""),
    "messaging_service_sid": (str, ""),
    "auto_offer": (bool, True),
    "max_offers": (int, 5),
    "offers_at_once": (int, 1),
    "offer_expiry": (object, {"today": "30m", "coming_days": "6h"}),
    "reminder_after": (object, {"today": "6h", "coming_days": "2d"}),
    "follow_up_after": (str, "1d"),
    # [lines.<slug>.retention]: when personal data goes (hotline.retention, README "Retention")
    "retention": (dict, {}),
    # Volunteers sign up on /<line>/volunteer (README, "Volunteers sign up"): the safety
    # instructions (a path pattern with {line} and {language}; empty: the shipped files),
    # the insurance's text (one, or a table per language) and link.
    "volunteer_signup": (bool, True),
    "safety_instructions": (str, ""),
    "insurance_text": (object, ""),
    "insurance_url": (str, ""),
}
# The shipped safety instructions: <line>.<language>.md, else default.<language>.md.
SAFETY_INSTRUCTIONS_DIR = PROJECT_ROOT / "safety_instructions"
SIGNUP_LANGUAGES = ("nl", "fr", "en")
# key -> default of a line's [retention] table
RETENTION_KEYS: dict[str, Any] = {"contact_days": 30, "volunteer_days": 365, "purge_at": "03:00"}
# [limits]: rate limits against abuse (hotline.abuse.limits), "N per period" and several
# joined with ";". key -> default. HOTLINE_RATE_LIMITS (true/false) overrides "enabled".
LIMIT_KEYS: dict[str, Any] = {
    "enabled": True,
    "calls_per_caller": "10 per 10 minutes; 30 per day",
    "sms_per_sender": "20 per 10 minutes",
    "logins_per_ip": "10 per minute",
    "logins_per_username": "5 per minute",
    # Volunteer sign-up: SMS codes sent to one number, and sign-ups sent from one address.
    "signup_codes_per_number": "3 per 10 minutes; 6 per day",
    "signup_codes_per_ip": "10 per hour",
}
URGENCY_KEYS = ("today", "coming_days")
DURATION = re.compile(r"(\d+)\s*(s|m|h|d)")
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MESSAGING_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
# Production secrets: long enough to resist guessing, and not "xxxx..." or "abab...".
SECRET_MIN_LENGTH = 32
SECRET_MIN_DISTINCT_CHARACTERS = 8
TWILIO_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
TWILIO_AUTH_TOKEN = re.compile(r"[0-9a-fA-F]{32}")


class ConfigError(Exception):
    """A configuration mistake, with a message that names the file, line and key."""


@dataclass(frozen=True)
class Secrets:
    """Secret values; never logged, never written to config.toml."""

    secret_key: str
    vault_key: str  # one Fernet key, or several separated by commas, newest first
    hash_pepper: str
    twilio_account_sid: str
    twilio_auth_token: str

    def __repr__(self) -> str:  # keep secrets out of tracebacks and debug output
        return "Secrets(<hidden>)"

    @property
    def vault_keys(self) -> tuple[str, ...]:
        """The vault's Fernet keys, newest (the one that encrypts) first."""
        return tuple(key.strip() for key in self.vault_key.split(","))


@dataclass(frozen=True)
class RetentionSettings:
    """How long a line keeps personal data (hotline.retention)."""

    # Days after a request is closed (done, cancelled) before its contact, message,
    # transcript, recording and SMS bodies are removed; the anonymous row stays.
    contact_days: int = 30
    # Days after a volunteer left (deactivated) before their name and number are removed.
    volunteer_days: int = 365
    purge_at: time = time(3, 0)  # the line's local time of the daily purge


@dataclass(frozen=True)
class RateLimits:
    """How often one caller, sender, address or username may come (hotline.abuse.limits)."""

    enabled: bool = True
    calls_per_caller: str = LIMIT_KEYS["calls_per_caller"]  # first webhook of a call
    sms_per_sender: str = LIMIT_KEYS["sms_per_sender"]
    logins_per_ip: str = LIMIT_KEYS["logins_per_ip"]  # failed logins count, not good ones
    logins_per_username: str = LIMIT_KEYS["logins_per_username"]
    signup_codes_per_number: str = LIMIT_KEYS["signup_codes_per_number"]
    signup_codes_per_ip: str = LIMIT_KEYS["signup_codes_per_ip"]


@dataclass(frozen=True)
class LineSettings:
    """One help line (tenant): its public number, languages, hours and area."""

    slug: str
    name: str
    phone_number: str  # the hotline's own public number, E.164
    country: str
    flow: str
    languages: tuple[str, ...]
    timezone: str
    opening_hours: dict[int, tuple[time, time] | None]  # weekday (0 = Monday) -> open, close
    register_url: str
    postcodes: dict[str, str]  # postcode -> municipality
    operator_numbers: tuple[str, ...] = ()
    # The city's general number (E.164): said when the line cannot help, dialled by the
    # fallback TwiML when this app is down. Empty: none.
    general_number: str = ""
    transcribe: bool = False  # ask Twilio to transcribe recorded messages (paid, per account)
    # SMS: a geographic number (016...) cannot text, so the line has an SMS sender of its own:
    # a mobile number or a Twilio Messaging Service (MG...). Empty when SMS is off.
    volunteer_sms: bool = True
    sms_from: str = ""
    messaging_service_sid: str = ""
    auto_offer: bool = True  # a declined, expired or undelivered offer goes to the next volunteer
    max_offers: int = 5  # offers per request before it goes back to the queue
    offers_at_once: int = 1  # offer to the best N together; the first JA wins
    # seconds, per urgency ("today", "coming_days"; "" for a request without urgency)
    offer_expiry: dict[str, int] = field(default_factory=lambda: {"": 6 * 3600})
    reminder_after: dict[str, int] = field(default_factory=lambda: {"": 2 * 86400})
    follow_up_after: int = 86400  # seconds after the reminder before operators follow up
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    # Volunteer sign-up (hotline.volunteers.signup): on or off; the safety instructions'
    # file per language; the insurance's text per language (empty: none) and link.
    volunteer_signup: bool = True
    safety_instructions: dict[str, Path] = field(default_factory=dict)
    insurance_text: dict[str, str] = field(default_factory=dict)
    insurance_url: str = ""

    @property
    def sends_sms(self) -> bool:
        """Whether volunteers' SMS is on and the line has a sender to send it from."""
        return self.volunteer_sms and bool(self.sms_from or self.messaging_service_sid)

    def offer_expiry_for(self, urgency: str | None) -> int:
        """Seconds an offer for a request of ``urgency`` waits for an answer."""
        return self.offer_expiry.get(urgency or "", self.offer_expiry[""])

    def reminder_after_for(self, urgency: str | None) -> int:
        """Seconds after JA before a volunteer who has not texted KLAAR gets a reminder."""
        return self.reminder_after.get(urgency or "", self.reminder_after[""])

    def is_open(self, at: datetime) -> bool:
        """Whether operators are on duty at the (timezone-aware) moment ``at``."""
        local = at.astimezone(ZoneInfo(self.timezone))
        hours = self.opening_hours.get(local.weekday())
        return hours is not None and hours[0] <= local.time() < hours[1]


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one hotline installation."""

    config_file: Path
    mode: str
    public_base_url: str
    instance_path: Path
    trust_proxy: bool
    twilio_api_base_url: str
    flows_dir: Path
    outbox_relay_interval: int
    log_level: str
    log_format: str  # text | json (one JSON object per line, for log collectors)
    database_url: str
    redis_url: str | None  # None: an embedded Redis in the instance folder
    lines: dict[str, LineSettings]
    secrets: Secrets = field(repr=False)
    # Bearer token for /metrics and /ready's details; None: loopback and private networks.
    metrics_token: str | None = field(default=None, repr=False)
    session_idle_seconds: int = 2 * 3600
    session_max_age_seconds: int = 12 * 3600
    limits: RateLimits = field(default_factory=RateLimits)

    @property
    def embedded_redis_path(self) -> Path:
        """The data file of the embedded Redis server (its socket lives beside it)."""
        return self.instance_path / "redis.db"

    def line_for_number(self, called_number: str | None) -> LineSettings:
        """The line whose public number was dialled; the first line when none matches."""
        return self.line_dialled(called_number) or next(iter(self.lines.values()))

    def line_dialled(self, called_number: str | None) -> LineSettings | None:
        """The line whose public number was dialled, or None: no line has that number."""
        normalised = normalise_number(called_number or "", "BE")
        for line in self.lines.values():
            if normalised and line.phone_number == normalised:
                return line
        return None

    def line_texted(self, to: str | None, messaging_service_sid: str | None) -> LineSettings | None:
        """The line an SMS was sent to (its Messaging Service, its SMS number, then its voice
        number), or None: no line has that number or service."""
        for line in self.lines.values():
            if messaging_service_sid and line.messaging_service_sid == messaging_service_sid:
                return line
        normalised = normalise_number(to or "", "BE")
        for line in self.lines.values():
            if normalised and line.sms_from == normalised:
                return line
        return self.line_dialled(to)

    def line_for_sms(self, to: str | None, messaging_service_sid: str | None) -> LineSettings:
        """The line an SMS was sent to; the first line when none matches."""
        return self.line_texted(to, messaging_service_sid) or next(iter(self.lines.values()))


def normalise_number(raw: str, country: str) -> str | None:
    """E.164 form of a phone number, or None when it is not a valid number."""
    try:
        parsed = phonenumbers.parse(raw, country)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read the config file, apply environment and ``overrides``, validate, return Settings."""
    environ = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    config_file = Path(
        overrides.pop("config_file", None) or environ.get("HOTLINE_CONFIG") or DEFAULT_CONFIG_FILE
    ).resolve()
    document = _read_toml(config_file)
    source = _Source(config_file)

    unknown_tables = set(document) - {"hotline", "lines", "limits"}
    if unknown_tables:
        raise source.error(sorted(unknown_tables)[0], "unknown table or key")
    general = document.get("hotline", {})
    if not isinstance(general, dict):
        raise source.error("hotline", "must be a table: [hotline]")
    for key in general:
        if key in ENVIRONMENT_ONLY_KEYS:
            raise source.error(
                f"hotline.{key}",
                f"may hold credentials: set HOTLINE_{key.upper()} in the environment instead",
            )
        if key not in GENERAL_KEYS:
            raise source.error(f"hotline.{key}", f"unknown key (known: {', '.join(GENERAL_KEYS)})")

    values: dict[str, Any] = {}
    origins: dict[str, str] = {}  # key -> where its value came from, for error messages
    for key, (kind, default) in GENERAL_KEYS.items():
        name = f"HOTLINE_{key.upper()}"
        if key in overrides:
            origins[key] = f"create_app(config) key '{key}'"
            values[key] = _coerce(overrides.pop(key), kind, origins[key])
        elif name in environ:
            origins[key] = f"environment variable {name}"
            values[key] = _coerce(environ[name], kind, origins[key])
        elif key in general:
            origins[key] = source.where(f"hotline.{key}")
            values[key] = _coerce(general[key], kind, origins[key])
        else:
            origins[key] = f"{config_file}: key 'hotline.{key}' (not set, default {default!r})"
            values[key] = default
    for key in ENVIRONMENT_ONLY_KEYS:
        name = f"HOTLINE_{key.upper()}"
        from_overrides = bool(overrides.get(key))
        origins[key] = (
            f"create_app(config) key '{key}'" if from_overrides else f"environment variable {name}"
        )
        values[key] = overrides.pop(key, None) or environ.get(name) or None
    secret_overrides = overrides.pop("secrets", {})
    limits = _load_limits(document.get("limits", {}), source, environ, overrides.pop("limits", {}))
    if overrides:
        raise ConfigError(f"create_app(config): unknown key '{sorted(overrides)[0]}'")

    if values["mode"] not in MODES:
        raise ConfigError(
            f"{origins['mode']}: must be one of {', '.join(MODES)}, got '{values['mode']}'"
        )
    _check_general_values(values, origins)
    base = config_file.parent
    instance_path = (base / values["instance_path"]).resolve()
    flows_dir = (base / values["flows_dir"]).resolve()
    lines = _load_lines(document.get("lines"), source, values["mode"])
    secrets = _load_secrets(values["mode"], instance_path, environ, secret_overrides)
    if values["mode"] == "production":
        _check_production(values, origins, instance_path)
    database_url = values["database_url"] or f"sqlite:///{instance_path / 'hotline.sqlite3'}"
    return Settings(
        config_file=config_file,
        mode=values["mode"],
        public_base_url=values["public_base_url"].rstrip("/"),
        instance_path=instance_path,
        trust_proxy=values["trust_proxy"],
        twilio_api_base_url=values["twilio_api_base_url"].rstrip("/"),
        flows_dir=flows_dir,
        outbox_relay_interval=values["outbox_relay_interval"],
        log_level=values["log_level"].upper(),
        log_format=values["log_format"].lower(),
        database_url=database_url,
        redis_url=values["redis_url"],
        metrics_token=values["metrics_token"],
        session_idle_seconds=parse_duration(values["session_idle_timeout"]),
        session_max_age_seconds=parse_duration(values["session_max_age"]),
        limits=limits,
        lines=lines,
        secrets=secrets,
    )


def _check_general_values(values: dict[str, Any], origins: dict[str, str]) -> None:
    """Refuse [hotline] values that could only fail later, naming where each came from."""
    for key in ("public_base_url", "twilio_api_base_url"):
        problem = _web_address_problem(values[key])
        if problem:
            raise ConfigError(f"{origins[key]}: {problem}")
    if values["log_level"].upper() not in LOG_LEVELS:
        raise ConfigError(
            f"{origins['log_level']}: must be one of {', '.join(LOG_LEVELS)}, "
            f"got {values['log_level']!r}"
        )
    if values["log_format"].lower() not in LOG_FORMATS:
        raise ConfigError(
            f"{origins['log_format']}: must be one of {', '.join(LOG_FORMATS)}, "
            f"got {values['log_format']!r}"
        )
    for key in ("session_idle_timeout", "session_max_age"):
        if parse_duration(values[key]) is None:
            raise ConfigError(
                f'{origins[key]}: must be a duration such as "30m", "8h" or "1d", '
                f"got {values[key]!r}"
            )
    if parse_duration(values["session_idle_timeout"]) > parse_duration(values["session_max_age"]):
        raise ConfigError(
            f"{origins['session_idle_timeout']}: must not be longer than session_max_age "
            f"({values['session_max_age']})"
        )
    # The two URLs may hold passwords: their problems are described, never echoed.
    if values["database_url"]:
        try:
            make_url(values["database_url"]).get_dialect()
        except NoSuchModuleError:  # a kind of ArgumentError: caught first
            raise ConfigError(
                f"{origins['database_url']}: unknown kind of database "
                "(use postgresql://… or sqlite:///…)"
            ) from None
        except (ArgumentError, ValueError):  # ValueError: a port that is not a number
            raise ConfigError(
                f"{origins['database_url']}: not a database URL "
                "(e.g. postgresql://hotline:…@db:5432/hotline)"
            ) from None
    token = values["metrics_token"]
    if token and (len(token) < 32 or len(set(token)) < 8):
        raise ConfigError(
            f"{origins['metrics_token']}: too weak for a bearer token (at least 32 characters, "
            "at least 8 different; e.g. python3 -c 'import secrets; print(secrets.token_hex(24))')"
        )
    if values["redis_url"]:
        try:
            parse_redis_url(values["redis_url"])
        except ValueError as error:
            raise ConfigError(
                f"{origins['redis_url']}: not a Redis URL ({error}; e.g. redis://redis:6379/0)"
            ) from None


def _web_address_problem(value: str) -> str | None:
    """What is wrong with ``value`` as the base of web addresses, or None."""
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - urllib parses the port only when it is read
    except ValueError:
        return f"has a port that is not a number, got {value!r}"
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"\s", value):
        return f"must be an http:// or https:// address with a host name, got {value!r}"
    if parts.query or parts.fragment:
        return f"must not have a query ('?…') or fragment ('#…'), got {value!r}"
    return None


def _check_production(values: dict[str, Any], origins: dict[str, str], instance: Path) -> None:
    """What production needs beyond valid values: https, a database and a Redis server."""
    if urlsplit(values["public_base_url"]).scheme != "https":
        # Over http, operators' session cookies (Secure only on https) and Twilio's
        # webhooks would travel in the clear. No exception for localhost: Twilio
        # cannot reach it, so a production install on it could never take a call.
        raise ConfigError(
            f"{origins['public_base_url']}: production needs the https:// address Twilio "
            f"calls (webhook signatures are checked against it), got {values['public_base_url']!r}"
        )
    if values["allow_embedded"]:
        return
    escape_hatch = (
        "set allow_embedded = true in [hotline] (or HOTLINE_ALLOW_EMBEDDED=1) "
        "to accept that on a single machine"
    )
    if not values["database_url"]:
        raise ConfigError(
            "production mode needs HOTLINE_DATABASE_URL (e.g. postgresql://hotline:…@db:5432/"
            f"hotline); without it the hotline would run on a SQLite file in {instance}: "
            + escape_hatch
        )
    if not values["redis_url"]:
        raise ConfigError(
            "production mode needs HOTLINE_REDIS_URL (e.g. redis://redis:6379/0); without it "
            f"the hotline would start an embedded Redis in {instance}: " + escape_hatch
        )


class _Source:
    """Points at keys in one config file, with line numbers where they can be found."""

    def __init__(self, path: Path):
        self.path = path
        self.lines = path.read_text(encoding="utf-8").splitlines()

    def line_of(self, dotted_key: str) -> int | None:
        last = dotted_key.rsplit(".", 1)[-1]
        pattern = re.compile(rf"^\s*(\[.*\b{re.escape(last)}\]|\"?{re.escape(last)}\"?\s*=)")
        for number, text in enumerate(self.lines, start=1):
            if pattern.search(text):
                return number
        return None

    def where(self, dotted_key: str) -> str:
        line = self.line_of(dotted_key)
        at = f", line {line}" if line else ""
        return f"{self.path}{at}: key '{dotted_key}'"

    def error(self, dotted_key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where(dotted_key)}: {problem}")


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: configuration file not found (set HOTLINE_CONFIG to its path)"
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None


def _coerce(value: Any, kind: type, where: str) -> Any:
    """Convert environment strings; check the type of values from TOML."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in (
            "1",
            "true",
            "yes",
            "on",
            "0",
            "false",
            "no",
            "off",
        ):
            return value.lower() in ("1", "true", "yes", "on")
        raise ConfigError(f"{where}: must be true or false, got {value!r}")
    if kind is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: must be a whole number, got {value!r}")
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: must be a whole number, got {value!r}") from None
        if number <= 0:
            raise ConfigError(f"{where}: must be greater than 0, got {number}")
        return number
    if kind is str and not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string, got {value!r}")
    return value


def _load_lines(table: Any, source: _Source, mode: str) -> dict[str, LineSettings]:
    if not isinstance(table, dict) or not table:
        raise source.error("lines", "at least one line is needed, e.g. [lines.leuven]")
    lines = {}
    for slug, raw in table.items():
        prefix = f"lines.{slug}"
        if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", slug):
            raise source.error(prefix, "a line's name must be lower-case letters, digits or '-'")
        if not isinstance(raw, dict):
            raise source.error(prefix, "must be a table")
        for key in raw:
            if key not in LINE_KEYS:
                raise source.error(
                    f"{prefix}.{key}", f"unknown key (known: {', '.join(LINE_KEYS)})"
                )
        values = {}
        for key, (kind, default) in LINE_KEYS.items():
            if key not in raw:
                if default is None:
                    raise source.error(f"{prefix}.{key}", "is required")
                values[key] = default
                continue
            value = raw[key]
            if kind is not object and not isinstance(value, kind):
                raise source.error(f"{prefix}.{key}", f"must be a {kind.__name__}, got {value!r}")
            values[key] = value
        country = values["country"].upper()
        number = normalise_number(values["phone_number"], country)
        if number is None:
            raise source.error(f"{prefix}.phone_number", f"not a valid phone number in {country}")
        operators = []
        for raw_number in values["operator_numbers"]:
            operator = normalise_number(str(raw_number), country)
            if operator is None:
                raise source.error(f"{prefix}.operator_numbers", "holds an invalid phone number")
            operators.append(operator)
        general = ""
        if values["general_number"]:
            general = normalise_number(values["general_number"], country) or ""
            if not general:
                raise source.error(
                    f"{prefix}.general_number", f"not a valid phone number in {country}"
                )
        try:
            ZoneInfo(values["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            zone = values["timezone"]
            raise source.error(f"{prefix}.timezone", f"unknown time zone {zone!r}") from None
        postcodes = {str(code): str(name) for code, name in values["postcodes"].items()}
        if not postcodes or not all(re.fullmatch(r"\d{4}", code) for code in postcodes):
            raise source.error(f"{prefix}.postcodes", 'needs four-digit postcodes: 3000 = "Leuven"')
        languages = tuple(values["languages"])
        if not languages or not all(lang in ("nl", "fr", "en", "de") for lang in languages):
            raise source.error(f"{prefix}.languages", "languages are among nl, fr, en, de")
        lines[slug] = LineSettings(
            slug=slug,
            name=values["name"],
            phone_number=number,
            country=country,
            flow=values["flow"],
            languages=languages,
            timezone=values["timezone"],
            opening_hours=_parse_opening_hours(values["opening_hours"], source, prefix),
            register_url=values["register_url"],
            postcodes=postcodes,
            operator_numbers=tuple(operators),
            general_number=general,
            transcribe=values["transcribe"],
            retention=_retention_settings(values["retention"], source, f"{prefix}.retention"),
            **_sms_settings(values, source, prefix, country, mode),
            **_signup_settings(values, source, prefix, slug, languages),
        )
    _require_own_numbers(lines, source)
    return lines


def _require_own_numbers(lines: dict[str, LineSettings], source: _Source) -> None:
    """Each line has its own numbers: the dialled number (or the SMS sender) chooses the
    line, so two towns sharing one would answer each other's residents."""
    owners: dict[str, str] = {}
    for slug, line in lines.items():
        for key, number in (("phone_number", line.phone_number), ("sms_from", line.sms_from)):
            if not number:
                continue
            other = owners.setdefault(number, f"{slug}.{key}")
            if other != f"{slug}.{key}" and not other.startswith(f"{slug}."):
                raise source.error(
                    f"lines.{slug}.{key}",
                    f"the same number as lines.{other}: every line needs numbers of its own",
                )


def _signup_settings(
    values: dict[str, Any], source: _Source, prefix: str, slug: str, languages: tuple[str, ...]
) -> dict[str, Any]:
    """A line's sign-up keys: its safety instructions' files (each language's, found now, so
    that a missing file stops start-up rather than a volunteer), the insurance's words."""
    pattern = values["safety_instructions"]
    wanted = [lang for lang in languages if lang in SIGNUP_LANGUAGES] or ["nl"]
    files: dict[str, Path] = {}
    for language in wanted:
        if pattern:
            try:
                name = pattern.format(line=slug, language=language)
            except (KeyError, IndexError, ValueError):
                raise source.error(
                    f"{prefix}.safety_instructions",
                    "a path with {line} and {language}, e.g. "
                    '"safety_instructions/{line}.{language}.md"',
                ) from None
            path = (source.path.parent / name).resolve()
            if not path.is_file():
                raise source.error(
                    f"{prefix}.safety_instructions", f"{path}: no such file ({language})"
                )
        else:
            path = SAFETY_INSTRUCTIONS_DIR / f"{slug}.{language}.md"
            if not path.is_file():
                path = SAFETY_INSTRUCTIONS_DIR / f"default.{language}.md"
        files[language] = path
    insurance = values["insurance_text"]
    if isinstance(insurance, str):
        insurance_text = {lang: insurance for lang in wanted} if insurance.strip() else {}
    elif isinstance(insurance, dict) and all(isinstance(v, str) for v in insurance.values()):
        unknown = set(insurance) - set(SIGNUP_LANGUAGES)
        if unknown:
            raise source.error(
                f"{prefix}.insurance_text",
                f"unknown language {sorted(unknown)[0]!r} (use {', '.join(SIGNUP_LANGUAGES)})",
            )
        insurance_text = {lang: text for lang, text in insurance.items() if text.strip()}
    else:
        raise source.error(
            f"{prefix}.insurance_text", "must be a text, or a table of texts per language"
        )
    url = values["insurance_url"].strip()
    if url and urlsplit(url).scheme not in ("https", "http"):
        raise source.error(f"{prefix}.insurance_url", f"must be an https:// address, got {url!r}")
    return {
        "volunteer_signup": values["volunteer_signup"],
        "safety_instructions": files,
        "insurance_text": insurance_text,
        "insurance_url": url,
    }


def _retention_settings(table: dict[str, Any], source: _Source, prefix: str) -> RetentionSettings:
    """A line's [retention] table: whole numbers of days (at least 1), a local time."""
    for key in table:
        if key not in RETENTION_KEYS:
            raise source.error(
                f"{prefix}.{key}", f"unknown key (known: {', '.join(RETENTION_KEYS)})"
            )
    values = {**RETENTION_KEYS, **table}
    for key in ("contact_days", "volunteer_days"):
        days = values[key]
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise source.error(
                f"{prefix}.{key}", f"must be a whole number of days, at least 1, got {days!r}"
            )
    purge_at = values["purge_at"]
    match = re.fullmatch(
        r"([01]\d|2[0-3]):([0-5]\d)", purge_at if isinstance(purge_at, str) else ""
    )
    if not match:
        raise source.error(f"{prefix}.purge_at", f'must be a local time "HH:MM", got {purge_at!r}')
    return RetentionSettings(
        contact_days=values["contact_days"],
        volunteer_days=values["volunteer_days"],
        purge_at=time(int(match[1]), int(match[2])),
    )


def _load_limits(
    table: Any, source: _Source, environ: Mapping[str, str], overrides: Mapping[str, Any]
) -> RateLimits:
    """The [limits] table, then HOTLINE_RATE_LIMITS, then create_app's "limits" mapping."""
    if not isinstance(table, dict):
        raise source.error("limits", "must be a table: [limits]")
    values, origins = dict(LIMIT_KEYS), {}
    for key in LIMIT_KEYS:
        origins[key] = source.where(f"limits.{key}")
    for key, value in table.items():
        if key not in LIMIT_KEYS:
            raise source.error(f"limits.{key}", f"unknown key (known: {', '.join(LIMIT_KEYS)})")
        values[key] = value
    if "HOTLINE_RATE_LIMITS" in environ:
        origins["enabled"] = "environment variable HOTLINE_RATE_LIMITS"
        values["enabled"] = environ["HOTLINE_RATE_LIMITS"]
    for key, value in overrides.items():
        if key not in LIMIT_KEYS:
            raise ConfigError(f"create_app(config): unknown key 'limits.{key}'")
        origins[key], values[key] = f"create_app(config) key 'limits.{key}'", value
    values["enabled"] = _coerce(values["enabled"], bool, origins["enabled"])
    for key in LIMIT_KEYS.keys() - {"enabled"}:
        try:
            if not isinstance(values[key], str) or not parse_many(values[key]):
                raise ValueError
        except ValueError:
            raise ConfigError(
                f'{origins[key]}: must be a rate such as "10 per minute" or '
                f'"10 per 10 minutes; 30 per day", got {values[key]!r}'
            ) from None
    return RateLimits(**values)


def parse_duration(text: str) -> int | None:
    """Seconds in "45s", "30m", "6h" or "2d"; None when ``text`` is not such a duration."""
    match = DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match or int(match[1]) <= 0:
        return None
    return int(match[1]) * DURATION_UNITS[match[2]]


def _durations(value: Any, source: _Source, key: str) -> dict[str, int]:
    """One duration for every urgency ("6h"), or a table per urgency ({today = "30m", ...})."""
    per_urgency = {urgency: value for urgency in URGENCY_KEYS} if isinstance(value, str) else value
    if not isinstance(per_urgency, dict):
        raise source.error(key, 'must be a duration such as "30m" or a table per urgency')
    seconds = {}
    for urgency, text in per_urgency.items():
        if urgency not in URGENCY_KEYS:
            raise source.error(key, f"unknown urgency {urgency!r} (use {', '.join(URGENCY_KEYS)})")
        parsed = parse_duration(text)
        if parsed is None:
            raise source.error(
                key, f'{urgency}: expected a duration like "45s", "30m", "6h" or "2d", got {text!r}'
            )
        seconds[urgency] = parsed
    # A request without urgency waits like the least urgent one.
    seconds[""] = max(seconds.values()) if seconds else 6 * 3600
    return seconds


def _sms_settings(
    values: dict[str, Any], source: _Source, prefix: str, country: str, mode: str
) -> dict[str, Any]:
    """The SMS keys of a line: sender, offers, timers. Refuses what cannot work."""
    sms_from = ""
    if values["sms_from"]:
        try:
            parsed = phonenumbers.parse(values["sms_from"], country)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is None or not phonenumbers.is_valid_number(parsed):
            raise source.error(f"{prefix}.sms_from", f"not a valid phone number in {country}")
        if phonenumbers.number_type(parsed) not in (
            phonenumbers.PhoneNumberType.MOBILE,
            phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        ):
            raise source.error(
                f"{prefix}.sms_from",
                "must be a mobile number: Twilio cannot send SMS from a geographic number "
                "(or set messaging_service_sid instead)",
            )
        sms_from = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    service = values["messaging_service_sid"]
    if service and not MESSAGING_SERVICE_SID.fullmatch(service):
        raise source.error(
            f"{prefix}.messaging_service_sid",
            "must be a Messaging Service SID: MG and 32 hex digits",
        )
    if sms_from and service:
        raise source.error(
            f"{prefix}.messaging_service_sid",
            "set either sms_from or messaging_service_sid, not both",
        )
    if mode == "production" and values["volunteer_sms"] and not (sms_from or service):
        raise source.error(
            f"{prefix}.sms_from",
            "volunteers' SMS is on (volunteer_sms) but the line has no SMS sender: set sms_from "
            "(a mobile number) or messaging_service_sid (MG...), or volunteer_sms = false",
        )
    for key in ("max_offers", "offers_at_once"):
        if isinstance(values[key], bool) or values[key] < 1:
            raise source.error(
                f"{prefix}.{key}", f"must be a whole number of at least 1, got {values[key]!r}"
            )
    if values["offers_at_once"] > values["max_offers"]:
        raise source.error(f"{prefix}.offers_at_once", "cannot be more than max_offers")
    follow_up = parse_duration(values["follow_up_after"])
    if follow_up is None:
        raise source.error(
            f"{prefix}.follow_up_after",
            f'expected a duration like "12h" or "1d", got {values["follow_up_after"]!r}',
        )
    return {
        "volunteer_sms": values["volunteer_sms"],
        "sms_from": sms_from,
        "messaging_service_sid": service,
        "auto_offer": values["auto_offer"],
        "max_offers": values["max_offers"],
        "offers_at_once": values["offers_at_once"],
        "offer_expiry": _durations(values["offer_expiry"], source, f"{prefix}.offer_expiry"),
        "reminder_after": _durations(values["reminder_after"], source, f"{prefix}.reminder_after"),
        "follow_up_after": follow_up,
    }


def _parse_opening_hours(
    value: Any, source: _Source, prefix: str
) -> dict[int, tuple[time, time] | None]:
    """ "08:00-20:00" for every day, or a table {mon = "08:00-20:00", sun = ""} (empty: closed)."""
    key = f"{prefix}.opening_hours"
    per_day = {day: value for day in WEEKDAYS} if isinstance(value, str) else value
    if not isinstance(per_day, dict):
        raise source.error(key, 'must be "HH:MM-HH:MM" or a table of weekdays')
    hours: dict[int, tuple[time, time] | None] = {}
    for day, span in per_day.items():
        if day not in WEEKDAYS:
            raise source.error(key, f"unknown weekday {day!r} (use {', '.join(WEEKDAYS)})")
        if span in ("", "closed"):
            hours[WEEKDAYS.index(day)] = None
            continue
        match = re.fullmatch(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})", str(span))
        if not match:
            raise source.error(key, f'{day}: expected "HH:MM-HH:MM", got {span!r}')
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        try:
            opens, closes = time(h1, m1), time(h2, m2) if (h2, m2) != (24, 0) else time.max
        except ValueError:
            raise source.error(key, f"{day}: not a time of day: {span!r}") from None
        if closes <= opens:
            raise source.error(key, f"{day}: closing time must be after opening time")
        hours[WEEKDAYS.index(day)] = (opens, closes)
    return hours


def _load_secrets(
    mode: str, instance_path: Path, environ: Mapping[str, str], overrides: Mapping[str, str]
) -> Secrets:
    values = {
        attr: overrides.get(attr) or environ.get(var) for var, attr in SECRET_VARIABLES.items()
    }
    missing = [var for var, attr in SECRET_VARIABLES.items() if not values[attr]]
    if missing and mode == "production":
        raise ConfigError(
            f"environment variable {missing[0]} is not set; production mode needs "
            f"{', '.join(SECRET_VARIABLES)} (see README, Configuration)"
        )
    if missing:
        stored = _demo_secrets(instance_path)
        for var in missing:
            values[SECRET_VARIABLES[var]] = stored[SECRET_VARIABLES[var]]
    values["vault_key"] = _checked_vault_keys(values["vault_key"])
    if mode == "production":
        for var, attr in SECRET_VARIABLES.items():
            problem = _secret_problem(attr, values[attr])
            if problem:
                where = (
                    f"create_app(config) secrets['{attr}']"
                    if overrides.get(attr)
                    else f"environment variable {var}"
                )
                raise ConfigError(f"{where} {problem}")
    return Secrets(**values)


def _checked_vault_keys(value: str) -> str:
    """HOTLINE_VAULT_KEY: one Fernet key, or several separated by commas, newest first.

    The newest encrypts; all decrypt, so that a key can be replaced without losing the
    vault (README, "Rotating the vault key"). Returned without spaces around the commas.
    """
    keys = [key.strip() for key in value.split(",")]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            which = "" if len(keys) == 1 else f" (key {position} of {len(keys)}, newest first)"
            raise ConfigError(
                f"environment variable HOTLINE_VAULT_KEY is not a Fernet key{which}: "
                "32 url-safe base64-encoded bytes; make one with `hotline secrets`; "
                "several keys are separated by commas"
            ) from None
    if len(set(keys)) != len(keys):
        raise ConfigError("environment variable HOTLINE_VAULT_KEY names the same key twice")
    return ",".join(keys)


def _secret_problem(attr: str, value: str) -> str | None:
    """What makes a production secret too weak or malformed, without repeating its value."""
    if attr in ("secret_key", "hash_pepper"):
        if len(value) < SECRET_MIN_LENGTH:
            return (
                f"is shorter than {SECRET_MIN_LENGTH} characters; production needs a random "
                "value (make one with `hotline secrets`)"
            )
        if len(set(value)) < SECRET_MIN_DISTINCT_CHARACTERS:
            return (
                f"has fewer than {SECRET_MIN_DISTINCT_CHARACTERS} different characters; "
                "production needs a random value (make one with `hotline secrets`)"
            )
    if attr == "twilio_account_sid" and not TWILIO_ACCOUNT_SID.fullmatch(value):
        return "is not a Twilio account SID: AC and 32 hex digits (Twilio console, Account Info)"
    if attr == "twilio_auth_token" and not TWILIO_AUTH_TOKEN.fullmatch(value):
        return "is not a Twilio auth token: 32 hex digits (Twilio console, Account Info)"
    return None


def generate_secrets() -> dict[str, str]:
    """Fresh random values for every secret (Twilio's are placeholders for demo use)."""
    return {
        "secret_key": secrets_module.token_urlsafe(32),
        "vault_key": Fernet.generate_key().decode(),
        "hash_pepper": secrets_module.token_urlsafe(32),
        "twilio_account_sid": "AC" + secrets_module.token_hex(16),
        "twilio_auth_token": secrets_module.token_hex(16),
    }


def _demo_secrets(instance_path: Path) -> dict[str, str]:
    """Secrets generated on first start in demo mode and kept, so restarts can read the vault."""
    path = instance_path / "demo-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    instance_path.mkdir(parents=True, exist_ok=True)
    generated = generate_secrets()
    # Write aside, then link into place: when web and worker start together,
    # exactly one set wins and nobody reads a half-written file.
    spare = path.with_name(f".{path.name}.{os.getpid()}")
    spare.write_text(json.dumps(generated))
    spare.chmod(0o600)
    try:
        os.link(spare, path)
    except FileExistsError:
        generated = json.loads(path.read_text())
    finally:
        spare.unlink()
    return generated
