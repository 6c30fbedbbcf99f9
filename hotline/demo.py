"""``hotline demo``: the whole product on one machine, with nothing installed but Python."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys

import click
from werkzeug.serving import make_server

from hotline import create_app
from hotline.config import load_settings
from hotline.db import get_engine, session_scope, sync_lines, upgrade
from hotline.demo_data import create_demo_data, create_demo_login
from hotline.local_redis import embedded_redis
from hotline.privacy import redact_phone_numbers
from hotline.telephony.sandbox import start_sandbox


def _stop_on_sigterm(_signum, _frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (systemd, `timeout`, `kill`) stops as cleanly as Ctrl-C


def _print_sandbox_request(request) -> None:
    if request.status != 201:
        return
    to = redact_phone_numbers(request.form.get("To", ""))
    if request.resource == "Messages.json":
        click.echo(f"[Twilio sandbox] SMS to {to}: {request.form.get('Body', '')}")
    else:
        click.echo(f"[Twilio sandbox] call to {to} (an operator's call-back)")


# Without --verbose the terminal shows what a newcomer needs: the URLs, the login, and the
# SMS and calls of the sandbox; warnings and errors still come through.
QUIET_LEVEL = "WARNING"


def run_demo(*, host: str, port: int, verbose: bool = False) -> None:
    """Start an embedded Redis, a worker and the web app; stop all three on Ctrl-C or SIGTERM.

    ``verbose``: every log line of the web app and the worker too (each request, each job).
    """
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    base_url = f"http://{host}:{port}"
    overrides = {"public_base_url": base_url}
    if not verbose:
        overrides["log_level"] = QUIET_LEVEL
        logging.getLogger().setLevel(QUIET_LEVEL)
        # Werkzeug gives its request log a level of its own (INFO) unless one is set.
        logging.getLogger("werkzeug").setLevel(QUIET_LEVEL)
    settings = load_settings(overrides)
    redis_server = stop_sandbox = None
    # The worker watches this pid and stops if the demo vanishes without cleaning up.
    environment = dict(
        os.environ, HOTLINE_PUBLIC_BASE_URL=base_url, HOTLINE_WORKER_PARENT_PID=str(os.getpid())
    )
    if not verbose:
        environment["HOTLINE_LOG_LEVEL"] = QUIET_LEVEL
    if settings.redis_url is None:
        # This process owns the embedded Redis; the worker joins it through its socket,
        # so nothing but this process can shut it down, and Ctrl-C here stops it.
        redis_server = embedded_redis(settings.embedded_redis_path)
        overrides["redis_url"] = environment["HOTLINE_REDIS_URL"] = (
            f"unix://{redis_server.socket_file}"
        )
    twilio_note = "Twilio's cloud (TWILIO_ACCOUNT_SID is set)"
    if "TWILIO_ACCOUNT_SID" not in os.environ:
        # Demo credentials would only earn 401s from Twilio: SMS and calls go to a local
        # sandbox instead and are printed here, redacted. Nothing leaves this machine.
        sandbox, stop_sandbox = start_sandbox(
            account_sid=settings.secrets.twilio_account_sid,
            auth_token=settings.secrets.twilio_auth_token,
            on_request=_print_sandbox_request,
        )
        overrides["twilio_api_base_url"] = environment["HOTLINE_TWILIO_API_BASE_URL"] = sandbox.url
        twilio_note = f"a local sandbox at {sandbox.url} (SMS and calls are printed below)"
    settings = load_settings(overrides)
    worker = server = None
    try:
        app = create_app(settings)
        with app.app_context():
            upgrade(get_engine())
            with session_scope(get_engine()) as session:
                sync_lines(session, settings)
                created = create_demo_data(session, settings)
                username, password = create_demo_login(session)
        worker = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "worker"],
            env=environment,
            start_new_session=True,  # Ctrl-C reaches it through us, in order
        )
        server = make_server(host, port, app, threaded=True)
        line = next(iter(settings.lines.values()))
        click.echo(
            f"\nLeuven Helpt demo is running ({created} demo requests created).\n"
            f"  Call centre:      {base_url}/  (log in as {username} / {password}; in Dutch,\n"
            "                    French or English: the switch is at the top of every page)\n"
            f"  Voice webhook:    {base_url}/twilio/voice  (Twilio: 'A call comes in', POST)\n"
            f"  Status callback:  {base_url}/twilio/voice/status\n"
            f"  Line:             {line.name}, {line.phone_number}\n"
            f"  Twilio REST:      {twilio_note}\n"
            f"  Data:             {settings.instance_path}\n"
            "Try the menus in a terminal: hotline flow simulate\n"
            + ("" if verbose else "Every request and job here too: hotline demo --verbose\n")
            + "Press Ctrl-C to stop.\n"
        )
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("\nStopping...")
    finally:
        if worker is not None:
            from hotline.cli import stop_process

            stop_process(worker)
        if server is not None:
            server.server_close()
        if redis_server is not None:
            redis_server.shutdown(save=True)
        if stop_sandbox is not None:
            stop_sandbox()
        click.echo("Stopped: web app, worker and embedded Redis.")
