"""``hotline purge``: remove the personal data whose retention period is over, now."""

from __future__ import annotations

from dataclasses import asdict

import click
from flask import current_app
from flask.cli import with_appcontext

from hotline.db import get_engine, session_scope
from hotline.models import utcnow
from hotline.retention.due import RetentionError
from hotline.retention.plan import plan_purge
from hotline.retention.purging import purge
from hotline.telephony import get_provider

# What each count means, in plain words: (what it would do, what it did).
WORDS = {
    "requests": (
        "closed requests would be made anonymous (number, message, transcript, notes)",
        "closed requests made anonymous (number, message, transcript, notes)",
    ),
    "recordings": (
        "recordings would be deleted, also at the telephone provider",
        "recordings deleted, also at the telephone provider",
    ),
    "recordings_kept": (
        "",
        "recordings the telephone provider could not delete now: the next purge tries again",
    ),
    "sms": ("text messages would be emptied", "text messages emptied"),
    "call_sessions": ("calls' menu answers would be removed", "calls' menu answers removed"),
    "volunteers": (
        "volunteers who left would lose their name and number",
        "volunteers who left lost their name and number",
    ),
    "leads": (
        "volunteer leads' recordings and numbers would be removed",
        "volunteer leads' recordings and numbers removed",
    ),
    "contacts": (
        "phone numbers would be deleted from the vault",
        "phone numbers deleted from the vault",
    ),
}


def in_words(counts: dict[str, int], *, dry_run: bool) -> list[str]:
    """One line per kind of data that goes, e.g. "3 recordings deleted, ..."."""
    lines = []
    for kind, count in counts.items():
        words = WORDS.get(kind, (kind, kind))[0 if dry_run else 1]
        if count and words:
            lines.append(f"  {count} {words}")
    return lines or ["  nothing" + (" would be removed" if dry_run else " to remove")]


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.option("--line", "line_slug", help="Only this line (default: every line).")
@with_appcontext
def purge_command(dry_run: bool, line_slug: str | None) -> None:
    """Remove the personal data whose retention period is over (README, Retention).

    Per line ([lines.<slug>.retention] in config.toml): contact data, messages,
    transcripts and recordings of requests closed more than contact_days ago, and
    volunteers who left more than volunteer_days ago. The requests stay as anonymous
    rows, so the statistics do not change. The worker does this every night by itself.
    Staff sessions that ended over 30 days ago are deleted too.
    """
    settings = current_app.extensions["hotline.settings"]
    lines = [line_slug] if line_slug else None
    now = utcnow()
    with session_scope(get_engine()) as session:
        try:
            if dry_run:
                per_line = plan_purge(session, settings, now, lines=lines)
            else:
                per_line = purge(session, settings, get_provider(), now, lines=lines).removed
        except RetentionError as error:
            raise click.ClickException(str(error)) from None
    for slug, removed in per_line.items():
        line = settings.lines[slug]
        days = line.retention
        click.echo(
            f"{slug} ({line.name}; requests closed over {days.contact_days} days ago, "
            f"volunteers who left over {days.volunteer_days} days ago):"
        )
        for text in in_words(asdict(removed), dry_run=dry_run):
            click.echo(text)
