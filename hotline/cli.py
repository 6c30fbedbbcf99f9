"""The ``hotline`` command: demo, serve, worker, db, flow and more (a Flask CLI group)."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from hotline import create_app
from hotline.config import ConfigError, generate_secrets, load_settings
from hotline.logging_setup import configure_logging
from hotline.retention.cli import purge_command
from hotline.vault_commands import vault
from hotline.vocabulary import LANGUAGES


def _create_app() -> Flask:
    try:
        app = create_app()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    settings = app.extensions["hotline.settings"]
    # Before rq starts: it adds handlers of its own only where there are none.
    configure_logging(settings.log_level, settings.log_format)
    return app


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def cli() -> None:
    """Leuven Helpt hotline: IVR intake, call-centre UI and volunteer dispatch.

    Configuration comes from config.toml (or the file in HOTLINE_CONFIG) and
    HOTLINE_* environment variables; see the README's Configuration section.
    """


def main() -> None:
    """Entry point of the ``hotline`` console script."""
    cli.main(prog_name="hotline")


cli.add_command(purge_command)


# --- database ---------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Create or migrate the tables, then register the configured lines."""
    from hotline.db import get_engine, session_scope, sync_lines, upgrade
    from hotline.startup import check_reachable

    settings = current_app.extensions["hotline.settings"]
    try:
        check_reachable(settings, redis_too=False)  # migrations need the database only
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    upgrade(get_engine(), revision)
    with session_scope(get_engine()) as session:
        lines = sync_lines(session, settings)
    click.echo(f"database at revision {revision}; lines: {', '.join(line.slug for line in lines)}")


@db.command("current")
@with_appcontext
def db_current() -> None:
    """Show the schema revision the database is at."""
    from alembic import command

    from hotline.db import alembic_config, get_engine

    command.current(alembic_config(get_engine()))


# --- worker and server -------------------------------------------------------------------


@cli.command()
@click.option("--burst", is_flag=True, help="Run the jobs that are waiting, then stop.")
@click.option(
    "--queue",
    "-q",
    "queues",
    multiple=True,
    help="Queue to listen on (repeatable); default: all, most urgent first.",
)
@with_appcontext
def worker(burst: bool, queues: tuple[str, ...]) -> None:
    """Run an rq worker (with rq's scheduler) and the outbox relay, inside the app."""
    from hotline.worker import run_worker

    try:
        run_worker(current_app._get_current_object(), queues=queues or None, burst=burst)
    except ConfigError as error:  # no Redis server to run for the embedded default
        raise click.ClickException(str(error)) from None


# --- jobs -------------------------------------------------------------------------------


@cli.group(invoke_without_command=True)
@click.pass_context
@with_appcontext
def jobs(context: click.Context) -> None:
    """The work queues: what waits, what runs, what failed (and retrying it)."""
    if context.invoked_subcommand is not None:
        return
    from hotline.db import get_engine, session_scope
    from hotline.observability.checks import job_counts
    from hotline.outbox import pending_count
    from hotline.queue import QUEUE_NAMES, get_redis

    counts = job_counts(get_redis())
    states = ("queued", "started", "scheduled", "failed")
    click.echo(f"{'queue':<10} {'waiting':>8} {'running':>8} {'timed':>8} {'failed':>8}")
    for name in QUEUE_NAMES:
        click.echo(f"{name:<10} " + " ".join(f"{counts[name, state]:>8}" for state in states))
    with session_scope(get_engine()) as session:
        click.echo(f"outbox rows not yet queued: {pending_count(session)}")


@jobs.command("failed")
@with_appcontext
def jobs_failed() -> None:
    """List the jobs that used up their retries, with the last line of their error."""
    from hotline.queue import failed_jobs, get_redis

    found = failed_jobs(get_redis())
    for job in found:
        when = job.ended_at.strftime("%Y-%m-%d %H:%M:%S") if job.ended_at else "?"
        arguments = ", ".join(f"{key}={value}" for key, value in job.arguments.items())
        click.echo(f"{job.id}  {job.queue}  {when}  {job.function}({arguments})")
        click.echo(f"    {job.error}")
    click.echo(f"{len(found)} failed job(s); `hotline jobs retry --all` queues them again.")


@jobs.command("retry")
@click.argument("job_ids", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Every failed job.")
@with_appcontext
def jobs_retry(job_ids: tuple[str, ...], everything: bool) -> None:
    """Queue failed jobs again (they are idempotent: nothing happens twice)."""
    from hotline.queue import get_redis, retry_failed

    if not job_ids and not everything:
        raise click.UsageError("name the jobs to retry (see `hotline jobs failed`) or use --all")
    retried = retry_failed(get_redis(), None if everything else list(job_ids))
    unknown = sorted(set(job_ids) - set(retried))
    click.echo(f"{len(retried)} job(s) queued again.")
    if unknown:
        raise click.ClickException(f"not failed jobs: {', '.join(unknown)}")


@cli.command()
@click.option("--bind", default="127.0.0.1:5000", show_default=True, help="Address to listen on.")
@click.option("--workers", default=2, show_default=True, help="gunicorn sync worker processes.")
def serve(bind: str, workers: int) -> None:
    """Serve the web app with gunicorn (production). Run `hotline worker` beside it."""
    # Fail here, with a clear message, rather than in every gunicorn worker.
    settings = _create_app().extensions["hotline.settings"]
    if settings.mode == "production":
        from hotline.startup import check_reachable

        try:
            check_reachable(settings)
        except ConfigError as error:
            raise click.ClickException(str(error)) from None
    # gunicorn's own logs (and its access log) are formatted by hotline.gunicorn_conf,
    # which reads these: a value set in config.toml must reach it too.
    os.environ["HOTLINE_LOG_FORMAT"] = settings.log_format
    os.environ["HOTLINE_LOG_LEVEL"] = settings.log_level
    # gunicorn's workers are processes: /metrics adds up their counts from files in one
    # folder per server (two servers on one machine share the instance folder, not this).
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR",
        str(settings.instance_path / "metrics" / re.sub(r"[^\w.-]", "_", bind)),
    )
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config",
            "python:hotline.gunicorn_conf",
            "--bind",
            bind,
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            # One server per port: gunicorn's default control socket is one per user.
            "--no-control-socket",
            "hotline.wsgi:app",
        ],
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option(
    "--verbose", is_flag=True, help="Also print every request and job (default: URLs, SMS, calls)."
)
def demo(host: str, port: int, verbose: bool) -> None:
    """Try the hotline locally: web app + worker on SQLite and an embedded Redis, demo data.

    The terminal shows the addresses, the demo login, and the SMS and calls the sandbox
    would have sent. Stops cleanly on Ctrl-C: the worker and the embedded Redis stop with it.
    """
    from hotline.demo import run_demo

    try:
        run_demo(host=host, port=port, verbose=verbose)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


@cli.command("secrets")
def secrets_command() -> None:
    """Print freshly generated secrets as environment variables, for production."""
    generated = generate_secrets()
    click.echo(f"HOTLINE_SECRET_KEY={generated['secret_key']}")
    click.echo(f"HOTLINE_VAULT_KEY={generated['vault_key']}")
    click.echo(f"HOTLINE_HASH_PEPPER={generated['hash_pepper']}")
    click.echo("# TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN come from the Twilio console.")


# --- accounts ----------------------------------------------------------------------------


@cli.group()
def operator() -> None:
    """Call-centre accounts (operators and coordinators).

    These commands act as the installation's administrator: every line, every account
    (in the web UI a coordinator manages only the accounts of their own lines).
    """


@operator.command("add")
@click.argument("username")
@click.option("--name", "display_name", help="Full name shown in the UI (default: USERNAME).")
@click.option("--coordinator", is_flag=True, help="May manage accounts.")
@click.option(
    "--locale", type=click.Choice(list(LANGUAGES)), default="nl", show_default=True
)
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from standard input (scripts)."
)
@click.option(
    "--line",
    "lines",
    multiple=True,
    help="A line (from config.toml) this account works on; repeatable. Default: every line.",
)
@with_appcontext
def operator_add(
    username: str,
    display_name: str | None,
    coordinator: bool,
    locale: str,
    password_stdin: bool,
    lines: tuple[str, ...],
) -> None:
    """Create an account; the password is asked for (or read from stdin)."""
    from hotline.access.accounts import AccountError, create_operator
    from hotline.db import get_session

    configured = current_app.extensions["hotline.settings"].lines
    unknown = [slug for slug in lines if slug not in configured]
    if unknown:
        raise click.ClickException(
            f"no line '{unknown[0]}' in the configuration (lines: {', '.join(configured)})"
        )
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        created = create_operator(
            get_session(),
            username=username,
            display_name=display_name or username,
            password=password,
            role="coordinator" if coordinator else "operator",
            locale=locale,
            lines=list(lines),
        )
    except AccountError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"created {created.role} '{created.username}'")


@operator.command("lines")
@click.argument("username")
@click.option(
    "--line",
    "lines",
    multiple=True,
    help="A line (from config.toml) the account works on; repeatable.",
)
@click.option("--all-lines", is_flag=True, help="The account works on every line.")
@with_appcontext
def operator_lines(username: str, lines: tuple[str, ...], all_lines: bool) -> None:
    """Show or change the lines USERNAME works on (its API tokens follow at once); audited."""
    from sqlmodel import select

    from hotline.access.accounts import AccountError, update_account
    from hotline.db import get_engine, session_scope
    from hotline.models import Operator

    configured = current_app.extensions["hotline.settings"].lines
    unknown = [slug for slug in lines if slug not in configured]
    if unknown:
        raise click.ClickException(
            f"no line '{unknown[0]}' in the configuration (lines: {', '.join(configured)})"
        )
    if lines and all_lines:
        raise click.UsageError("give --line or --all-lines, not both")
    with session_scope(get_engine()) as session:
        account = session.exec(
            select(Operator).where(Operator.username == username.strip().lower())
        ).first()
        if account is None:
            raise click.ClickException(f"no account '{username}'")
        if lines or all_lines:
            try:  # as the administrator: changed_by None in the audit log
                update_account(session, operator=account, changed_by=None, lines=list(lines))
            except AccountError as error:
                raise click.ClickException(str(error)) from None
        click.echo(f"{account.username}: {', '.join(account.lines) or 'every line'}")


@operator.command("token")
@click.argument("username")
@click.option("--name", required=True, help="What the token is for, e.g. 'weekly report'.")
@with_appcontext
def operator_token(username: str, name: str) -> None:
    """Create a JSON API token for USERNAME and print it; it is shown only this once.

    The token acts as that account (changes are audited in its name) until it is
    revoked or the account is deactivated. Only a hash of it is stored.
    """
    from sqlmodel import select

    from hotline.access.api_tokens import TokenError, create_token
    from hotline.db import get_engine, session_scope
    from hotline.models import Operator

    with session_scope(get_engine()) as session:
        account = session.exec(
            select(Operator).where(Operator.username == username.strip().lower())
        ).first()
        if account is None:
            raise click.ClickException(f"no account '{username}'")
        try:
            raw = create_token(session, operator_id=account.id, name=name)
        except TokenError as error:
            raise click.ClickException(str(error)) from None
    click.echo(raw)
    click.echo(
        f"API token '{name}' for {account.username}: store it now, it cannot be shown again. "
        "Send it as 'Authorization: Bearer <token>'.",
        err=True,
    )


@operator.command("tokens")
@click.argument("username", required=False)
@with_appcontext
def operator_tokens(username: str | None) -> None:
    """List API tokens (all, or USERNAME's): id, name, account, created, last used, revoked."""
    from sqlmodel import select

    from hotline.access.api_tokens import list_tokens
    from hotline.db import get_engine, session_scope
    from hotline.models import Operator

    with session_scope(get_engine()) as session:
        accounts = {account.id: account.username for account in session.exec(select(Operator))}
        operator_id = None
        if username:
            operator_id = next(
                (i for i, name in accounts.items() if name == username.strip().lower()), None
            )
            if operator_id is None:
                raise click.ClickException(f"no account '{username}'")
        for token in list_tokens(session, operator_id=operator_id):
            used = (
                token.last_used_at.isoformat(timespec="minutes") if token.last_used_at else "never"
            )
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            click.echo(
                f"{token.id}\t{token.name}\t{accounts.get(token.operator_id, '?')}\t"
                f"created {token.created_at:%Y-%m-%d}\tlast used {used}\t{state}"
            )


@operator.command("revoke-token")
@click.argument("token_id", type=int)
@with_appcontext
def operator_revoke_token(token_id: int) -> None:
    """Revoke the API token TOKEN_ID (see `hotline operator tokens`) for good."""
    from hotline.access.api_tokens import TokenError, revoke_token
    from hotline.db import get_engine, session_scope

    with session_scope(get_engine()) as session:
        try:
            token = revoke_token(session, token_id=token_id)
        except TokenError as error:
            raise click.ClickException(str(error)) from None
        click.echo(f"revoked token {token.id} ('{token.name}')")


# --- IVR flows ---------------------------------------------------------------------------


@cli.group()
def flow() -> None:
    """The IVR menus in ivr_flows/: check, simulate, draw."""


@flow.command("check")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--timing", is_flag=True, help="Also print the seconds callers listen.")
def flow_check(paths: tuple[Path, ...], timing: bool) -> None:
    """Validate flow files (default: every file in the configured flows folder).

    Warns (without failing) when a menu's prompts take longer than the flow's
    menu_budget or the key-only path to the reference longer than its path_budget.
    """
    from hotline.ivr import FlowError, load_flow
    from hotline.ivr.timing import budget_warnings, timing_report

    try:
        settings = load_settings()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    files = list(paths) or sorted(settings.flows_dir.glob("*.toml"))
    if not files:
        raise click.ClickException(f"no flow files in {settings.flows_dir}")
    failed = 0
    for path in files:
        try:
            loaded = load_flow(path)
        except FlowError as error:
            failed += 1
            click.echo(f"error: {error}", err=True)
            continue
        click.echo(
            f"ok: {path} ({len(loaded.nodes)} nodes, languages {', '.join(loaded.languages)})"
        )
        context = _timing_context(settings, path)
        for warning in budget_warnings(loaded, context):
            click.echo(f"warning: {warning}", err=True)
        if timing:
            click.echo("\n".join(timing_report(loaded, context)))
    if failed:
        sys.exit(1)


def _timing_context(settings, path: Path):
    """The facts of the first line using this flow file (its postcodes), for measuring it."""
    from hotline.ivr import CallContext
    from hotline.models import utcnow
    from hotline.voice.calls import context_for

    for line in settings.lines.values():
        if line.flow == path.stem:
            return dataclasses.replace(context_for(line, utcnow()), within_opening_hours=True)
    return CallContext(within_opening_hours=True, postcodes={})


def _line_and_flow(line_slug: str | None):
    """The configured line (default: the first) and its loaded flow, or a clear CLI error."""
    from hotline.flows import load_for_settings

    try:
        settings = load_settings()
        flows = load_for_settings(settings)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    slug = line_slug or next(iter(settings.lines))
    if slug not in settings.lines:
        raise click.ClickException(
            f"no line '{slug}' in {settings.config_file} (lines: {', '.join(settings.lines)})"
        )
    line = settings.lines[slug]
    return line, flows[line.flow]


@cli.group()
def line() -> None:
    """The towns' lines in config.toml: add one."""


@line.command("add")
@click.argument("slug")
@click.option("--name", prompt="The line's name, as callers hear it (e.g. Tienen Helpt)")
@click.option("--number", prompt="The public number residents call (e.g. 016 80 57 00)")
@click.option(
    "--sms-from",
    default="",
    prompt="The mobile number that texts volunteers (empty: no SMS)",
    help="A mobile number (a geographic number cannot text); empty: no SMS.",
)
@click.option("--postcodes", prompt="Postcodes served (e.g. 3300=Tienen, 3320=Hoegaarden)")
@click.option("--languages", default="nl,fr,en", prompt="Languages, the first first")
@click.option("--opening-hours", default="08:00-20:00", prompt="Opening hours (HH:MM-HH:MM)")
@click.option("--register-url", default="", help="Where volunteers register (said by the menu).")
@click.option("--timezone", default="Europe/Brussels", show_default=True)
@click.option("--template", default="", help="The flow to copy (default: the first line's).")
def line_add(slug: str, name: str, number: str, sms_from: str, postcodes: str, languages: str,
             opening_hours: str, register_url: str, timezone: str, template: str) -> None:
    """Add the town SLUG: its table in the config file and a copy of a flow, both checked
    the way the app loads them (nothing is kept when a check fails); prints what to set in
    Twilio. Asks for whatever is not given as an option."""
    from hotline.config import DEFAULT_CONFIG_FILE
    from hotline.towns import NewLine, TownError, add_line, parse_postcodes

    config_file = Path(os.environ.get("HOTLINE_CONFIG") or DEFAULT_CONFIG_FILE)
    try:
        added = add_line(
            config_file,
            NewLine(
                slug=slug,
                name=name.strip(),
                phone_number=number.strip(),
                sms_from=sms_from.strip(),
                postcodes=parse_postcodes(postcodes),
                languages=tuple(code.strip() for code in languages.split(",") if code.strip()),
                opening_hours=opening_hours.strip(),
                register_url=register_url.strip(),
                timezone=timezone,
                template=template,
            ),
        )
    except TownError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"ok: [lines.{slug}] in {added.config_file}")
    click.echo(f"ok: its menu in {added.flow_file} (hotline flow check passes)")
    for warning in added.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo("\n".join(["", *added.twilio_settings, "",
                          "Then: restart `hotline serve` and the workers; add operators with "
                          f"`hotline operator add --line {slug}`."]))


@cli.command("fallback-twiml")
@click.option("--line", "line_slug", help="Line from config.toml (default: the first).")
def fallback_twiml_command(line_slug: str | None) -> None:
    """Print the TwiML for Twilio's fallback URL: callers still reach a person when this
    app is down (paste it into a TwiML Bin; see the README, Running in production).

    It dials the line's general_number; a line without one dials its operator_numbers,
    which then appear in the printed TwiML (and in the TwiML Bin): keep it private."""
    from hotline.config import load_settings
    from hotline.telephony import PROVIDERS
    from hotline.voice.fallback import fallback_twiml

    line, line_flow = _line_and_flow(line_slug)
    provider = PROVIDERS["twilio"](load_settings())
    click.echo(fallback_twiml(provider, line, line_flow))


@flow.command("simulate")
@click.option("--line", "line_slug", help="Line from config.toml (default: the first).")
@click.option("--lang", "language", help="Choose this language at the welcome menu (nl, fr, en).")
@click.option("--closed", is_flag=True, help="Pretend it is outside opening hours.")
@click.option(
    "--timing",
    is_flag=True,
    help="Show the seconds each answer takes to hear; at the end, per menu and per path.",
)
def flow_simulate(line_slug: str | None, language: str | None, closed: bool, timing: bool) -> None:
    """A console phone: hear the menus and answer by typing, through the real engine.

    Type keys (1, 0, *, 3000) or words for speech (apotheek); an empty line is
    silence; q hangs up. Requests are not stored: references are made up.
    """
    from hotline.ivr import simulate
    from hotline.models import utcnow
    from hotline.voice.calls import context_for

    line, loaded = _line_and_flow(line_slug)
    if language and language not in loaded.languages:
        raise click.ClickException(
            f"flow '{line.flow}' has no language '{language}' (has {', '.join(loaded.languages)})"
        )
    context = context_for(line, utcnow())
    if closed:
        import dataclasses

        context = dataclasses.replace(context, within_opening_hours=False)
    simulate(loaded, language=language, context=context, output=click.echo, timing=timing)
    if timing:
        from hotline.ivr.timing import timing_report

        languages = [language] if language else None
        click.echo("\n".join(timing_report(loaded, context, languages=languages)))


@flow.command("graph")
@click.option("--line", "line_slug", help="Line from config.toml (default: the first).")
@click.option("--lang", "language", default="nl", show_default=True, help="Language of labels.")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the SVG here (default: standard output).",
)
def flow_graph(line_slug: str | None, language: str, output: Path | None) -> None:
    """Draw the line's flow as an SVG picture."""
    from hotline.ivr import flow_to_svg

    _line, loaded = _line_and_flow(line_slug)
    if language not in loaded.languages:
        raise click.ClickException(f"the flow has no language '{language}'")
    svg = flow_to_svg(loaded, language=language)
    if output is None:
        click.echo(svg)
    else:
        output.write_text(svg, encoding="utf-8")
        click.echo(f"wrote {output}")


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    """Ask a child process to stop (SIGTERM), then insist (SIGKILL)."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


cli.add_command(vault)  # hotline vault check | rotate (hotline/vault_commands.py)

if __name__ == "__main__":
    main()
