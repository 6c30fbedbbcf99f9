"""A new town on the installation (`hotline line add`): its table in the config file and its
IVR menu, copied from another line's flow, both checked before anything is kept.

The config file keeps its comments and layout (tomlkit): a town's clerk reads it after us.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import tomlkit
from tomlkit.items import Array, String, Table

from hotline.config import ConfigError, Settings, load_settings, normalise_number

SLUG = re.compile(r"[a-z0-9][a-z0-9-]*")


class TownError(Exception):
    """A new line that cannot be added as asked; the message says what to change."""


@dataclass(frozen=True)
class NewLine:
    """What a town tells us about its line."""

    slug: str  # the line's key in the config file, and its public page /<slug>/
    name: str  # said in the menu ("Welkom bij Tienen Helpt") and shown on the pages
    phone_number: str  # the public number residents call
    postcodes: dict[str, str]  # postcode -> municipality
    languages: tuple[str, ...]  # the first is the menu's first and the pages' default
    opening_hours: str = "08:00-20:00"
    sms_from: str = ""  # a mobile number that texts volunteers; empty: no SMS
    template: str = ""  # the flow to copy (a file in flows_dir, without .toml); "" = first line's
    timezone: str = "Europe/Brussels"
    country: str = "BE"
    register_url: str = ""
    general_number: str = ""


@dataclass(frozen=True)
class AddedLine:
    """What `line add` wrote, and what the town still has to do at Twilio."""

    config_file: Path
    flow_file: Path
    twilio_settings: list[str]
    warnings: list[str] = field(default_factory=list)


def parse_postcodes(text: str) -> dict[str, str]:
    """``"3300=Tienen, 3320=Hoegaarden"`` as {postcode: municipality}; a clear error otherwise."""
    postcodes = {}
    for part in filter(None, (piece.strip() for piece in re.split(r"[,;\n]", text))):
        code, _, municipality = part.partition("=")
        code, municipality = code.strip(), municipality.strip()
        if not re.fullmatch(r"\d{4}", code) or not municipality:
            raise TownError(f'postcodes: expected "3300=Tienen, 3320=Hoegaarden", got {part!r}')
        postcodes[code] = municipality
    if not postcodes:
        raise TownError('postcodes: at least one is needed, e.g. "3300=Tienen"')
    return postcodes


def add_line(config_file: Path, new: NewLine) -> AddedLine:
    """Add ``new`` to ``config_file`` with a copy of a template flow; check both with the
    installation's own loaders and keep nothing unless everything passes."""
    settings = _settings(config_file)
    if not SLUG.fullmatch(new.slug):
        raise TownError(f"{new.slug!r}: a line's name is lower-case letters, digits or '-'")
    if new.slug in settings.lines:
        raise TownError(f"{settings.config_file} already has a line '{new.slug}'")
    template = new.template or next(iter(settings.lines.values())).flow
    template_file = settings.flows_dir / f"{template}.toml"
    if not template_file.is_file():
        raise TownError(f"no flow {template!r} to copy: {template_file} does not exist")
    flow_file = settings.flows_dir / f"{new.slug}.toml"
    if flow_file.exists():
        raise TownError(f"{flow_file} exists already: remove it, or choose another name")
    for label, number in (("number", new.phone_number), ("SMS sender", new.sms_from)):
        if number and normalise_number(number, new.country) is None:
            raise TownError(f"{label} {number!r} is not a valid phone number in {new.country}")

    template_line = next(
        (line for line in settings.lines.values() if line.flow == template), None
    )
    old_places = set(template_line.postcodes.values()) if template_line else set()
    flow_text = copied_flow(template_file.read_text(encoding="utf-8"), new, old_places)
    config_text = _with_line(settings.config_file.read_text(encoding="utf-8"), new)

    candidate = settings.config_file.with_name(f".{settings.config_file.name}.{new.slug}.new")
    flow_file.write_text(flow_text, encoding="utf-8")
    try:
        candidate.write_text(config_text, encoding="utf-8")
        warnings = _check(candidate, flow_file, settings.config_file)
        os.replace(candidate, settings.config_file)
    except BaseException:
        flow_file.unlink(missing_ok=True)
        candidate.unlink(missing_ok=True)
        raise
    return AddedLine(
        config_file=settings.config_file,
        flow_file=flow_file,
        twilio_settings=twilio_settings(settings.public_base_url, new),
        warnings=warnings,
    )


def _settings(config_file: Path) -> Settings:
    try:
        return load_settings({"config_file": config_file})
    except ConfigError as error:
        raise TownError(f"the config file has a mistake already: {error}") from None


def _check(candidate: Path, flow_file: Path, config_file: Path) -> list[str]:
    """The new config and flow as the app would load them; budget warnings for the flow."""
    from hotline.flows import load_for_settings
    from hotline.ivr import FlowError
    from hotline.ivr.timing import budget_warnings
    from hotline.models import utcnow
    from hotline.voice.calls import context_for

    try:
        settings = load_settings({"config_file": candidate})
        flows = load_for_settings(settings)
    except (ConfigError, FlowError) as error:
        # Name the real file in the message, not the candidate beside it.
        message = str(error).replace(str(candidate), str(config_file))
        raise TownError(f"the new line does not pass the checks: {message}") from None
    line = next(line for line in settings.lines.values() if line.flow == flow_file.stem)
    context = context_for(line, utcnow())
    return list(budget_warnings(flows[line.flow], context))


def copied_flow(template_text: str, new: NewLine, old_places: set[str]) -> str:
    """The template flow for ``new``'s town: its name wherever the template says its own,
    speech hints naming the new municipalities, and the language menu in the town's order."""
    document = tomlkit.parse(template_text)
    old_name = str(document["flow"]["name"])
    _rename(document, old_name, new.name)
    _new_places(document, old_places, list(dict.fromkeys(new.postcodes.values())))
    _languages_in_order(document, new.languages)
    text = tomlkit.dumps(document)
    header = (
        f"# {new.name}: the telephone menu of the line, as data; copied from another line's\n"
        f"# flow by `hotline line add`. Read every text before going live.\n"
    )
    return header + text.split("\n", 1)[1] if text.startswith("#") else header + text


def _rename(container, old: str, new: str) -> None:
    """Every string that says the template town's name says the new one."""
    items = container.items() if isinstance(container, dict) else enumerate(container)
    for key, value in list(items):
        if isinstance(value, (String, str)) and old in str(value):
            container[key] = str(value).replace(old, new)
        elif isinstance(value, (dict, list)):
            _rename(value, old, new)


def _new_places(container, old_places: set[str], places: list[str]) -> None:
    """Speech hints that list the template's municipalities list the new town's instead."""
    if isinstance(container, dict):
        for key, value in list(container.items()):
            if key == "hints" and isinstance(value, dict):
                for language, hints in list(value.items()):
                    if isinstance(hints, (Array, list)) and old_places & set(map(str, hints)):
                        value[language] = places
            elif isinstance(value, (dict, list)):
                _new_places(value, old_places, places)
    elif isinstance(container, list):
        for value in container:
            _new_places(value, old_places, places)


def _languages_in_order(document, languages: tuple[str, ...]) -> None:
    """The language menu offers the town's languages, its first on key 1 (also what silence
    chooses), and the flow's default language is the town's first."""
    document["flow"]["default_language"] = languages[0]
    for node in document.get("nodes", {}).values():
        options = node.get("options") if isinstance(node, Table) else None
        if not options or not all("language" in option for option in options.values()):
            continue
        by_language = {str(option["language"]): option for option in options.values()}
        ordered = [by_language[code] for code in languages if code in by_language]
        if not ordered:
            continue
        fresh = tomlkit.table(is_super_table=True)
        for key, option in enumerate(ordered, start=1):
            fresh.append(str(key), option)
        node["options"] = fresh
        if "no_input" in node:
            node["no_input"] = "1"


def _with_line(config_text: str, new: NewLine) -> str:
    """The config file's text with ``new``'s [lines.<slug>] table appended, commented."""
    document = tomlkit.parse(config_text)
    table = tomlkit.table()
    table.add(tomlkit.comment(f"{new.name}: added by `hotline line add`; see README, "
                              "\"Add your town in ten minutes\"."))
    table.add("name", new.name)
    table.add("phone_number", new.phone_number)
    table.add("country", new.country)
    table.add("flow", new.slug)
    table.add("languages", list(new.languages))
    table.add("timezone", new.timezone)
    table.add("opening_hours", new.opening_hours)
    table.add("register_url", new.register_url)
    table.add(tomlkit.comment("Operators' phones that 0 rings; empty: callers leave a message."))
    table.add("operator_numbers", [])
    if new.general_number:
        table.add("general_number", new.general_number)
    table.add("volunteer_sms", bool(new.sms_from))
    if new.sms_from:
        table.add("sms_from", new.sms_from)
    postcodes = tomlkit.table()
    for code, municipality in new.postcodes.items():
        postcodes.add(code, municipality)
    postcodes.add(tomlkit.nl())
    table.add("postcodes", postcodes)
    lines = document.get("lines")
    if lines is None:
        lines = tomlkit.table(is_super_table=True)
        document.add("lines", lines)
    lines.add(new.slug, table)
    return tomlkit.dumps(document)


def twilio_settings(public_base_url: str, new: NewLine) -> list[str]:
    """What to fill in at Twilio for the new line's numbers, line by line."""
    base = public_base_url.rstrip("/")
    settings = [
        f"Twilio console, Phone Numbers, {new.phone_number} (Voice Configuration):",
        f"  A call comes in: Webhook, HTTP POST, {base}/twilio/voice",
        f"  Call status changes: HTTP POST, {base}/twilio/voice/status",
        f"  Primary handler fails: a TwiML Bin with `hotline fallback-twiml --line {new.slug}`",
    ]
    if new.sms_from:
        settings += [
            f"Twilio console, Phone Numbers, {new.sms_from} (Messaging Configuration):",
            f"  A message comes in: Webhook, HTTP POST, {base}/twilio/sms",
        ]
    else:
        settings.append("No SMS sender: volunteers get no offers by SMS (set sms_from later).")
    return settings
