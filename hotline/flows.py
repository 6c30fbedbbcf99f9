"""The IVR flows of this installation, loaded and validated once at start-up."""

from __future__ import annotations

from flask import Flask, current_app

from hotline.config import ConfigError, Settings
from hotline.ivr import Flow, FlowError, load_flows


def load_for_settings(settings: Settings) -> dict[str, Flow]:
    """Load every flow file and check that each configured line has a flow for its languages."""
    if not settings.flows_dir.is_dir():
        where = f"{settings.config_file}: key 'hotline.flows_dir'"
        raise ConfigError(f"{where}: folder {settings.flows_dir} not found")
    try:
        flows = load_flows(settings.flows_dir)
    except FlowError as error:
        raise ConfigError(str(error)) from None
    for line in settings.lines.values():
        where = f"{settings.config_file}: key 'lines.{line.slug}.flow'"
        if line.flow not in flows:
            raise ConfigError(f"{where}: no flow '{line.flow}' in {settings.flows_dir}")
        missing = set(line.languages) - set(flows[line.flow].languages)
        if missing:
            raise ConfigError(
                f"{where}: flow '{line.flow}' has no prompts in {', '.join(sorted(missing))}"
            )
    return flows


def init_app(app: Flask, settings: Settings) -> None:
    """Load the flows into the app; a broken flow file stops start-up with a clear message."""
    app.extensions["hotline.flows"] = load_for_settings(settings)


def get_flow(name: str) -> Flow:
    """The loaded flow ``name``."""
    return current_app.extensions["hotline.flows"][name]
