"""Realistic data for the benchmarks, written fast and valid for the app.

Run as a subprocess with the benchmark's environment (``python -m benchmarks.seeding
KIND ...``), so that each run's app (database, Redis, secrets) lives in its own process.
It prints one JSON object on its last line.

Rows go in with SQLAlchemy core, thousands per statement, through the app's own tables
(so JSON columns and UTC times are stored as the app stores them). Every phone number is
in the vault like a real one: the keyed HMAC hash with the instance's pepper and a Fernet
token with its vault key; no table but ``contact`` holds anything derived from a number.
The generator is seeded: the same sizes give the same data.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets as token_source
import sys
import time
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from hotline.models import (
    Assignment,
    AuditEvent,
    CallSession,
    Contact,
    HelpRequest,
    OutboxMessage,
    SmsMessage,
    Volunteer,
    utcnow,
)
from hotline.vocabulary import CATEGORIES, LANGUAGES, URGENCIES

SEED = 20200317  # the day Leuven Helpt opened its line
CHUNK = 5000
OPERATOR = ("bench", "bench-leuven-helpt-2020")
# Belgian mobile numbers in ranges the benchmarks own: callers +32 471 ..., volunteers
# +32 472 ...; they are only ever encrypted into the vault.
CALLER_PREFIX = "+32471"
VOLUNTEER_PREFIX = "+32472"
# Most of a crisis line's requests are closed after a few weeks; the open ones are recent.
STATUS_WEIGHTS = {
    "new": 4,
    "triaged": 3,
    "assigned": 3,
    "accepted": 5,
    "done": 70,
    "cancelled": 15,
}
CATEGORY_WEIGHTS = (40, 15, 15, 8, 15, 7)  # groceries first, like Leuven in 2020
LANGUAGE_WEIGHTS = (85, 10, 5)
MESSAGES = (
    "",
    "",
    "Ik heb melk, brood en mijn medicijnen van de apotheek nodig.",
    "Kan iemand met mijn hond wandelen? Ik kan niet meer goed stappen.",
    "Je voudrais parler avec quelqu'un, je suis seule.",
    "I need someone to post a letter for me.",
)
NAMES = (
    "Marie",
    "Tom",
    "Sophie",
    "Jan",
    "An",
    "Pieter",
    "Els",
    "Lucas",
    "Sarah",
    "Wim",
    "Nora",
    "Bram",
    "Lotte",
    "Jonas",
    "Fien",
    "Amir",
    "Ines",
    "Koen",
    "Lise",
    "Youssef",
)
SURNAMES = (
    "Claes",
    "Wouters",
    "Dubois",
    "Peeters",
    "Janssens",
    "Maes",
    "Jacobs",
    "Mertens",
    "Willems",
    "Goossens",
    "Vermeulen",
    "Aerts",
    "El Amrani",
    "De Smet",
    "Lambert",
)


def _app():
    from hotline import create_app

    return create_app()


def _vault(app) -> tuple[Any, str]:
    """The app's Fernet vault and hash pepper (the instance's real secrets)."""
    from hotline.privacy import _vault as app_vault

    settings = app.extensions["hotline.settings"]
    return app_vault(settings.secrets.vault_keys), settings.secrets.hash_pepper


def _insert(connection: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        connection.execute(table.insert(), rows[start : start + CHUNK])


def _contacts(connection, app, numbers: list[str], now) -> list[tuple[int, str]]:
    """Vault entries for ``numbers``, as privacy.store_contact makes them: (id, hash) each."""
    from hotline.privacy import caller_hash

    fernet, pepper = _vault(app)
    rows = [
        {
            "caller_hash": caller_hash(number, pepper),
            "encrypted_number": fernet.encrypt(number.encode()).decode(),
            "created_at": now,
            "last_seen_at": now,
        }
        for number in numbers
    ]
    _insert(connection, Contact.__table__, rows)
    hashes = [row["caller_hash"] for row in rows]
    found: dict[str, int] = {}
    table = Contact.__table__
    for start in range(0, len(hashes), CHUNK):
        part = hashes[start : start + CHUNK]
        found.update(
            connection.execute(
                sa.select(table.c.caller_hash, table.c.id).where(table.c.caller_hash.in_(part))
            ).all()
        )
    return [(found[h], h) for h in hashes]


def _line(connection) -> tuple[int, dict[str, str]]:
    from hotline.config import load_settings

    line_id = connection.execute(sa.text("SELECT id FROM line WHERE slug = 'leuven'")).scalar_one()
    postcodes = load_settings().lines["leuven"].postcodes
    return line_id, dict(postcodes)


def seed_base(*, requests: int, volunteers: int, callers: int) -> dict:
    """The crisis-scale data: requests over 60 days from evenly spread callers, volunteers,
    assignments of the requests that have one, and one coordinator to log in with."""
    started = time.monotonic()
    rng = random.Random(SEED)
    app = _app()
    engine = app.extensions["hotline.engine"]
    now = utcnow()
    with engine.begin() as connection:
        line_id, postcodes = _line(connection)
        codes = sorted(postcodes)
        caller_numbers = [f"{CALLER_PREFIX}{index:06d}" for index in range(callers)]
        volunteer_numbers = [f"{VOLUNTEER_PREFIX}{index:06d}" for index in range(volunteers)]
        caller_contacts = _contacts(connection, app, caller_numbers, now)
        volunteer_contacts = [i for i, _ in _contacts(connection, app, volunteer_numbers, now)]

        volunteer_rows = []
        for index in range(volunteers):
            languages = ["nl"] + rng.sample(["fr", "en"], rng.choice((0, 0, 1, 2)))
            volunteer_rows.append(
                {
                    "line_id": line_id,
                    "name": f"{rng.choice(NAMES)} {rng.choice(SURNAMES)}",
                    "contact_id": volunteer_contacts[index],
                    "postcode": rng.choice(codes),
                    "languages": languages,
                    "skills": rng.sample(list(CATEGORIES), rng.randint(1, 4)),
                    "availability": {}
                    if rng.random() < 0.6
                    else {"mon": ["09:00-12:00"], "wed": ["14:00-18:00"], "sat": ["09:00-17:00"]},
                    "has_car": rng.random() < 0.3,
                    "safety_accepted_at": now - timedelta(days=rng.randint(1, 90)),
                    "insurance_registered_at": None,
                    "sms_opted_out_at": None,
                    "active": rng.random() < 0.95,
                    "created_at": now - timedelta(days=rng.randint(1, 90)),
                    "updated_at": now,
                    "purged_at": None,
                }
            )
        _insert(connection, Volunteer.__table__, volunteer_rows)
        volunteer_ids = list(
            connection.execute(sa.select(Volunteer.__table__.c.id).order_by("id")).scalars()
        )

        references = rng.sample(range(100_000, 1_000_000), requests)
        statuses = rng.choices(
            list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()), k=requests
        )
        request_rows = []
        for index in range(requests):
            caller, hashed = caller_contacts[index % len(caller_contacts)]  # spread evenly
            age = timedelta(seconds=rng.uniform(0, 60 * 24 * 3600))
            status = statuses[index]
            if age < timedelta(days=2) and status in ("done", "cancelled") and rng.random() < 0.7:
                status = rng.choice(("new", "triaged", "assigned", "accepted"))
            created = now - age
            assigned = status in ("assigned", "accepted", "done")
            request_rows.append(
                {
                    "line_id": line_id,
                    "reference": str(references[index]),
                    "source": rng.choices(("ivr", "callback", "live"), weights=(85, 10, 5))[0],
                    "status": status,
                    "language": rng.choices(LANGUAGES, weights=LANGUAGE_WEIGHTS)[0],
                    "category": rng.choices(CATEGORIES, weights=CATEGORY_WEIGHTS)[0],
                    "postcode": rng.choice(codes),
                    "urgency": rng.choice(URGENCIES),
                    "message": rng.choice(MESSAGES),
                    "transcript": None,
                    "recording_sid": None,
                    "notes": "",
                    "caller_hash": hashed,
                    "contact_id": caller,
                    "call_sid": f"CA{rng.getrandbits(128):032x}",
                    "duplicate_of_id": None,
                    "cancel_reason": "opgelost door familie" if status == "cancelled" else None,
                    "created_at": created,
                    "updated_at": created + min(age / 2, timedelta(hours=6)),
                    "announced_at": created + timedelta(seconds=1),
                    "assigned_at": created + timedelta(minutes=20) if assigned else None,
                    "no_volunteer_at": None,
                    "follow_up_at": None,
                    "purged_at": None,
                    "forgotten_at": None,
                }
            )
        _insert(connection, HelpRequest.__table__, request_rows)
        table = HelpRequest.__table__
        assigned_rows = connection.execute(
            sa.select(table.c.id, table.c.status, table.c.assigned_at).where(
                table.c.status.in_(("assigned", "accepted", "done"))
            )
        ).all()
        assignment_status = {"assigned": "offered", "accepted": "accepted", "done": "done"}
        assignment_rows = [
            {
                "help_request_id": request_id,
                "volunteer_id": rng.choice(volunteer_ids),
                "code": f"{rng.randint(1000, 9999)}",
                "status": assignment_status[status],
                "assigned_by_id": None,
                "created_at": assigned_at,
                "responded_at": None if status == "assigned" else assigned_at,
                "expires_at": assigned_at + timedelta(hours=6),
                "reminded_at": None,
            }
            for request_id, status, assigned_at in assigned_rows
        ]
        _insert(connection, Assignment.__table__, assignment_rows)

    operator_id = _operator(app)
    targets = _targets(engine)
    _analyze(engine)
    return {
        "requests": requests,
        "volunteers": volunteers,
        "callers": callers,
        "assignments": len(assignment_rows),
        "operator": {"username": OPERATOR[0], "password": OPERATOR[1], "id": operator_id},
        "targets": targets,
        "auth_token": app.extensions["hotline.settings"].secrets.twilio_auth_token,
        "seconds": round(time.monotonic() - started, 1),
    }


def _operator(app) -> int:
    from sqlmodel import Session, select

    from hotline.access.accounts import create_operator
    from hotline.models import Operator

    with Session(app.extensions["hotline.engine"]) as session:
        found = session.exec(select(Operator).where(Operator.username == OPERATOR[0])).first()
        if found is None:
            found = create_operator(
                session,
                username=OPERATOR[0],
                display_name="Bench Coordinator",
                password=OPERATOR[1],
                role="coordinator",
                locale="nl",
            )
            session.commit()
        return found.id


def _targets(engine: sa.Engine) -> dict[str, int]:
    """The requests whose pages are measured: an open one (suggestions computed) and a closed
    one (no suggestions), both recent, with a few history events like a real one."""
    table = HelpRequest.__table__
    with engine.begin() as connection:
        open_id = connection.execute(
            sa.select(table.c.id)
            .where(table.c.status == "new", table.c.category == "groceries")
            .order_by(table.c.created_at.desc())
            .limit(1)
        ).scalar_one()
        closed_id = connection.execute(
            sa.select(table.c.id)
            .where(table.c.status == "done", table.c.category == "groceries")
            .order_by(table.c.created_at.desc())
            .limit(1)
        ).scalar_one()
        now = utcnow()
        events = [
            {
                "help_request_id": request_id,
                "volunteer_id": None,
                "operator_id": None,
                "action": action,
                "detail": detail,
                "created_at": now,
            }
            for request_id in (open_id, closed_id)
            for action, detail in (("triaged", {"urgency": ["coming_days", "today"]}), ("note", {}))
        ]
        _insert(connection, AuditEvent.__table__, events)
    return {"open": open_id, "closed": closed_id}


def _analyze(engine: sa.Engine) -> None:
    """PostgreSQL's autovacuum would analyse the new rows within a minute: do it now."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("ANALYZE"))


def clone_calls(*, count: int, keys: list[str], first: int) -> dict:
    """``count`` calls standing where a real call is after pressing ``keys``.

    One call walks the menus through the real app (signed webhooks, Flask's test client);
    its call session is then copied for ``count`` new CallSids, each with its own caller
    in the vault (numbers from ``first`` on). Returns, for each call, the form of its next
    webhook and the step URL it goes to, ready to be signed.
    """
    import xml.etree.ElementTree as ET

    from twilio.request_validator import RequestValidator

    app = _app()
    settings = app.extensions["hotline.settings"]
    validator = RequestValidator(settings.secrets.twilio_auth_token)
    client = app.test_client()
    base = settings.public_base_url
    line_number = settings.lines["leuven"].phone_number.replace(" ", "")
    template_sid = "CA" + token_source.token_hex(16)
    template_caller = f"{CALLER_PREFIX}9{first:05d}"[:12]

    def post(path: str, form: dict[str, str]) -> ET.Element:
        signature = validator.compute_signature(base + path, form)
        response = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
        if response.status_code != 200:
            raise RuntimeError(f"{path}: HTTP {response.status_code}")
        return ET.fromstring(response.get_data(as_text=True))

    def action(root: ET.Element) -> str:
        found = [element.get("action") for element in root.iter() if element.get("action")]
        return found[-1].removeprefix(base)

    form = {
        "CallSid": template_sid,
        "From": template_caller,
        "To": line_number,
        "AccountSid": settings.secrets.twilio_account_sid,
    }
    root = post("/twilio/voice", {**form, "CallStatus": "ringing"})
    for pressed in keys:
        root = post(action(root), {**form, "Digits": pressed} if pressed else form)
    next_path = action(root)

    engine = app.extensions["hotline.engine"]
    table = CallSession.__table__
    now = utcnow()
    with engine.begin() as connection:
        template = (
            connection.execute(sa.select(table).where(table.c.call_sid == template_sid))
            .mappings()
            .one()
        )
        numbers = [f"{CALLER_PREFIX}{first + index:06d}" for index in range(count)]
        contact_ids = [i for i, _ in _contacts(connection, app, numbers, now)]
        sids = ["CA" + token_source.token_hex(16) for _ in range(count)]
        rows = []
        for sid, contact_id in zip(sids, contact_ids, strict=True):
            row = dict(template)
            row.pop("id")
            row.update(call_sid=sid, contact_id=contact_id, started_at=now, updated_at=now)
            if "call_key" in row["state"]:  # the engine's own key of the call: its CallSid
                row["state"] = {**row["state"], "call_key": sid}
            rows.append(row)
        _insert(connection, table, rows)
    calls = [
        {"path": next_path, "form": {**form, "CallSid": sid, "From": number}}
        for sid, number in zip(sids, numbers, strict=True)
    ]
    return {"calls": calls, "template_state": template["state"], "next_path": next_path}


def seed_offers(*, count: int) -> dict:
    """``count`` assignment offers waiting to be texted, as an operator's "assign" leaves
    them: a request assigned, the assignment offered, its SMS pending and its outbox row;
    then queued on rq exactly as the outbox relay queues them. Returns the job ids."""
    from rq import Callback, Queue

    from hotline.messaging.texts import assignment_offer_text
    from hotline.outbox import FAILED_JOB_TTL, JOB_RETRY, JOB_TIMEOUT, mark_completed
    from hotline.queue import get_redis

    rng = random.Random(SEED + 1)
    app = _app()
    engine = app.extensions["hotline.engine"]
    now = utcnow()
    with engine.begin() as connection:
        line_id, postcodes = _line(connection)
        volunteers = connection.execute(
            sa.select(Volunteer.__table__.c.id, Volunteer.__table__.c.languages)
            .where(Volunteer.__table__.c.active.is_(True))
            .order_by("id")
        ).all()
        taken = set(connection.execute(sa.text("SELECT reference FROM help_request")).scalars())
        free = [r for r in range(100_000, 1_000_000) if str(r) not in taken]
        references = [str(r) for r in rng.sample(free, count)]
        rows = [
            {
                "line_id": line_id,
                "reference": references[index],
                "source": "ivr",
                "status": "assigned",
                "language": "nl",
                "category": rng.choices(CATEGORIES, weights=CATEGORY_WEIGHTS)[0],
                "postcode": rng.choice(sorted(postcodes)),
                "urgency": "today",
                "message": "",
                "notes": "",
                "created_at": now,
                "updated_at": now,
                "announced_at": now,
                "assigned_at": now,
                "call_sid": None,
                "caller_hash": None,
                "contact_id": None,
            }
            for index in range(count)
        ]
        _insert(connection, HelpRequest.__table__, rows)
        request_ids = list(
            connection.execute(
                sa.select(HelpRequest.__table__.c.id, HelpRequest.__table__.c.reference).where(
                    HelpRequest.__table__.c.assigned_at == now
                )
            ).all()
        )
        assignments = []
        for index, (request_id, _reference) in enumerate(request_ids):
            volunteer_id, _languages = volunteers[index % len(volunteers)]
            assignments.append(
                {
                    "help_request_id": request_id,
                    "volunteer_id": volunteer_id,
                    "code": f"{rng.randint(1000, 9999)}",
                    "status": "offered",
                    "created_at": now,
                    "expires_at": now + timedelta(minutes=30),
                }
            )
        _insert(connection, Assignment.__table__, assignments)
        table = Assignment.__table__
        made = connection.execute(
            sa.select(
                table.c.id, table.c.help_request_id, table.c.volunteer_id, table.c.code
            ).where(table.c.created_at == now, table.c.status == "offered")
        ).all()
        reference_of = dict(request_ids)
        by_request = {r: p for r, p in zip((i for i, _ in request_ids), rows, strict=True)}
        texts = []
        for assignment_id, request_id, volunteer_id, code in made:
            seeded = by_request[request_id]
            texts.append(
                {
                    "line_id": line_id,
                    "volunteer_id": volunteer_id,
                    "help_request_id": request_id,
                    "assignment_id": assignment_id,
                    "direction": "out",
                    "kind": "offer",
                    "status": "pending",
                    "body": assignment_offer_text(
                        language="nl",
                        line_name="Leuven Helpt",
                        reference=reference_of[request_id],
                        code=code,
                        category=seeded["category"],
                        postcode=seeded["postcode"],
                        municipality=postcodes.get(seeded["postcode"]),
                        urgency="today",
                    ),
                    "created_at": now,
                    "updated_at": now,
                }
            )
        _insert(connection, SmsMessage.__table__, texts)
        sms_ids = list(
            connection.execute(
                sa.select(SmsMessage.__table__.c.id).where(
                    SmsMessage.__table__.c.created_at == now, SmsMessage.__table__.c.kind == "offer"
                )
            ).scalars()
        )
        outbox = [
            {
                "queue": "messages",
                "job": "hotline.jobs.send_sms",
                "payload": {"sms_id": sms_id},
                "created_at": now,
                "enqueued_at": now,
                "attempts": 1,
            }
            for sms_id in sms_ids
        ]
        _insert(connection, OutboxMessage.__table__, outbox)
        outbox_ids = list(
            connection.execute(
                sa.select(OutboxMessage.__table__.c.id, OutboxMessage.__table__.c.payload).where(
                    OutboxMessage.__table__.c.created_at == now
                )
            ).all()
        )
    queue = Queue("messages", connection=get_redis(app))
    jobs = [
        Queue.prepare_data(
            "hotline.jobs.send_sms",
            kwargs=payload,
            job_id=f"outbox-{outbox_id}",
            retry=JOB_RETRY,
            timeout=JOB_TIMEOUT,
            failure_ttl=FAILED_JOB_TTL,
            on_success=Callback(mark_completed),
        )
        for outbox_id, payload in outbox_ids
    ]
    job_ids = _enqueue_many(queue, jobs)
    return {"count": len(job_ids), "job_ids": job_ids}


def seed_noop_jobs(*, count: int) -> dict:
    """``count`` no-op jobs on the same queue, for the rq ceiling."""
    from rq import Queue

    from hotline.queue import get_redis

    app = _app()
    queue = Queue("messages", connection=get_redis(app))
    batch = token_source.token_hex(4)
    jobs = [
        # Ids of this batch only: rq's cleanup of an earlier batch's finished registry
        # would delete a job that reused one of its ids.
        Queue.prepare_data(
            "benchmarks.ceilings.noop_job", job_id=f"noop-{batch}-{index}", timeout=25
        )
        for index in range(count)
    ]
    return {"count": count, "job_ids": _enqueue_many(queue, jobs)}


def _enqueue_many(queue, jobs) -> list[str]:
    ids = []
    for start in range(0, len(jobs), 1000):
        with queue.connection.pipeline() as pipeline:
            made = queue.enqueue_many(jobs[start : start + 1000], pipeline=pipeline)
            pipeline.execute()
        ids += [job.id for job in made]
    return ids


def main(argv: list[str] | None = None) -> None:
    """Command line: ``base``, ``calls``, ``offers`` or ``noop``; prints JSON last."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.seeding")
    sub = parser.add_subparsers(dest="kind", required=True)
    base = sub.add_parser("base")
    base.add_argument("--requests", type=int, required=True)
    base.add_argument("--volunteers", type=int, required=True)
    base.add_argument("--callers", type=int, required=True)
    calls = sub.add_parser("calls")
    calls.add_argument("--count", type=int, required=True)
    calls.add_argument("--first", type=int, required=True)
    calls.add_argument("--keys", default="", help="comma-separated keys pressed before")
    offers = sub.add_parser("offers")
    offers.add_argument("--count", type=int, required=True)
    noop = sub.add_parser("noop")
    noop.add_argument("--count", type=int, required=True)
    options = parser.parse_args(argv)
    if options.kind == "base":
        result = seed_base(
            requests=options.requests, volunteers=options.volunteers, callers=options.callers
        )
    elif options.kind == "calls":
        keys = options.keys.split(",") if options.keys else []
        result = clone_calls(count=options.count, keys=keys, first=options.first)
    elif options.kind == "offers":
        result = seed_offers(count=options.count)
    else:
        result = seed_noop_jobs(count=options.count)
    sys.stdout.write("\n" + json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
