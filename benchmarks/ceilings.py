"""The ceilings: the least work each case could cost, served exactly like the app.

One tiny Flask app (``benchmarks.ceilings:app``) runs under the same gunicorn command as
``hotline serve`` (same config module, sync workers, worker count, access log), on the
same database with the app's own engine settings (``hotline.db.make_engine``: WAL and
``synchronous=NORMAL`` on SQLite). Each route adds one thing to the one before:

- ``POST /bare/...``: a fixed TwiML string (bare Flask);
- ``POST /twiml/...``: the form parsed and the TwiML built with twilio's VoiceResponse;
- ``POST /update/...``: the same, plus one keyed UPDATE of the call's row (call_session);
- ``POST /insert/...``: the same TwiML, plus one SQLModel INSERT, committed;
- ``GET /page``: a bare Jinja page of 50 rows of help_request, newest first, from all.

``noop_job`` is the rq ceiling: a job that does nothing, run by the same worker class.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask import Flask, Response, render_template_string, request
from sqlmodel import Session
from twilio.twiml.voice_response import Gather, VoiceResponse

from hotline.db import make_engine
from hotline.models import AuditEvent, CallSession, HelpRequest, utcnow

FIXED_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/twilio/voice/step/2" '
    'numDigits="1" timeout="8"><Say language="nl-BE">Welkom bij Leuven Helpt.</Say></Gather>'
    "</Response>"
)
PAGE = """<!doctype html><html lang="nl"><head><title>Wachtrij</title></head><body>
<table><thead><tr><th>Ref</th><th>Tijd</th><th>Taal</th><th>Vraag</th><th>Postcode</th>
<th>Dringend</th><th>Status</th></tr></thead><tbody>
{% for row in rows %}<tr><td><a href="/requests/{{ row.id }}">{{ row.reference }}</a></td>
<td>{{ row.created_at.strftime("%d/%m %H:%M") }}</td><td>{{ row.language }}</td>
<td>{{ row.category }}</td><td>{{ row.postcode }}</td><td>{{ row.urgency }}</td>
<td>{{ row.status }}</td></tr>
{% endfor %}</tbody></table></body></html>"""

app = Flask(__name__)
# The run's database (benchmarks.servers sets it); without it only /bare and /twiml work.
_url = os.environ.get("BENCH_DATABASE_URL")
engine = make_engine(_url) if _url else None
help_request = HelpRequest.__table__


def _voice_response() -> str:
    """What a menu step answers, at its smallest: a Gather with three spoken options."""
    response = VoiceResponse()
    gather = Gather(action=f"/twilio/voice/step/{len(request.form)}", num_digits=1, timeout=8)
    for option in ("Boodschappen, druk 1.", "Een maaltijd, druk 2.", "Een medewerker, druk 0."):
        gather.say(option, language="nl-BE")
    response.append(gather)
    return str(response)


@app.post("/bare/<path:webhook>")
def bare(webhook: str) -> Response:
    """Bare Flask: a fixed TwiML answer."""
    return Response(FIXED_TWIML, mimetype="text/xml")


@app.post("/twiml/<path:webhook>")
def twiml(webhook: str) -> Response:
    """The form parsed and TwiML built with twilio's VoiceResponse."""
    return Response(_voice_response(), mimetype="text/xml")


@app.post("/update/<path:webhook>")
def update(webhook: str) -> Response:
    """VoiceResponse plus one keyed UPDATE of the call's row, committed."""
    with Session(engine) as session:
        session.execute(
            sa.update(CallSession)
            .where(CallSession.call_sid == request.form["CallSid"])
            .values(updated_at=utcnow())
        )
        session.commit()
    return Response(_voice_response(), mimetype="text/xml")


@app.post("/insert/<path:webhook>")
def insert(webhook: str) -> Response:
    """VoiceResponse plus one SQLModel INSERT, committed."""
    with Session(engine) as session:
        session.add(AuditEvent(action="bench:insert", detail={"call": request.form["CallSid"]}))
        session.commit()
    return Response(_voice_response(), mimetype="text/xml")


@app.get("/page")
def page() -> str:
    """A bare Jinja page of the 50 newest requests out of all of them."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                help_request.c.id,
                help_request.c.reference,
                help_request.c.created_at,
                help_request.c.language,
                help_request.c.category,
                help_request.c.postcode,
                help_request.c.urgency,
                help_request.c.status,
            )
            .order_by(help_request.c.created_at.desc())
            .limit(50)
        ).all()
    return render_template_string(PAGE, rows=rows)


def noop_job() -> None:
    """The rq ceiling: a job that does nothing."""
