"""``hotline vault``: which keys the contact vault needs, and moving it to the newest key.

HOTLINE_VAULT_KEY holds one Fernet key or several, comma-separated, newest first. To
replace a key: put a new one in front, restart, run ``hotline vault rotate``, check with
``hotline vault check``, then remove the old key (README, "Rotating the vault key").
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from hotline.db import get_engine, session_scope
from hotline.privacy import check_vault, rotate_vault

BATCH_SIZE = 500


@click.group()
def vault() -> None:
    """The contact vault's keys (HOTLINE_VAULT_KEY: comma-separated, newest first)."""


def _unreadable(ids: list[int]) -> str:
    shown = ", ".join(str(i) for i in ids[:10]) + (", ..." if len(ids) > 10 else "")
    return (
        f"{len(ids)} vault entries (ids {shown}) cannot be decrypted with any key in "
        "HOTLINE_VAULT_KEY: put back the key they were encrypted with, then run this again"
    )


@vault.command("check")
@click.option("--batch-size", default=BATCH_SIZE, show_default=True, help="Entries per batch.")
@with_appcontext
def vault_check(batch_size: int) -> None:
    """Count the vault entries each key decrypts; changes nothing.

    Exits with 1 when an entry needs a key that is not configured.
    """
    secrets = current_app.extensions["hotline.settings"].secrets
    with session_scope(get_engine()) as session:
        count = check_vault(session, secrets, batch_size=batch_size)
    keys = len(secrets.vault_keys)
    click.echo(f"{count.entries} vault entries, {keys} key(s) configured")
    for position in range(keys):
        label = "newest key" if position == 0 else f"older key {position + 1}"
        click.echo(f"  {label}: {count.by_key.get(position, 0)} entries")
    if count.on_old_keys:
        click.echo(
            f"{count.on_old_keys} entries still need an older key: run `hotline vault rotate` "
            "before removing it"
        )
    elif keys > 1 and not count.unreadable:
        click.echo("no entry needs an older key: they can be removed from HOTLINE_VAULT_KEY")
    if count.unreadable:
        raise click.ClickException(_unreadable(count.unreadable))


@vault.command("rotate")
@click.option("--batch-size", default=BATCH_SIZE, show_default=True, help="Entries per batch.")
@with_appcontext
def vault_rotate(batch_size: int) -> None:
    """Re-encrypt every vault entry with the newest key (the first in HOTLINE_VAULT_KEY).

    Commits a batch at a time; safe to stop and run again (entries already on the newest
    key are skipped) and safe while the hotline runs. Exits with 1 when an entry cannot be
    decrypted with any configured key.
    """
    secrets = current_app.extensions["hotline.settings"].secrets
    with session_scope(get_engine()) as session:
        count = rotate_vault(session, secrets, batch_size=batch_size)
    click.echo(
        f"re-encrypted {count.rotated} vault entries with the newest key; "
        f"{count.already_current} already were"
    )
    if count.unreadable:
        raise click.ClickException(_unreadable(count.unreadable))
    if len(secrets.vault_keys) > 1:
        click.echo("the older keys can now be removed from HOTLINE_VAULT_KEY")
