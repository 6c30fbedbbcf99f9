"""Data that goes away: a month after a request closed, its resident's number, words and
recording are gone (at Twilio too), volunteers who left lose name and number, and every
statistic adds up exactly as before. Nightly, through a real rq worker, or `hotline purge`.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from rq import Queue
from sqlmodel import Session, select

from hotline import worker
from hotline.abuse.blocking import block_caller, is_blocked
from hotline.access.sessions import end_session, start_session
from hotline.audit import record
from hotline.cli import cli
from hotline.config import ConfigError, load_settings
from hotline.db import line_row
from hotline.dispatch import assign_volunteer, record_assignment_reply
from hotline.intake import create_help_request
from hotline.models import (
    Assignment,
    AuditEvent,
    BlockedCaller,
    CallSession,
    Contact,
    HelpRequest,
    OutboxMessage,
    PurgeRun,
    SmsMessage,
    StaffSession,
    Volunteer,
    utcnow,
)
from hotline.outbox import add_work
from hotline.overview import dashboard
from hotline.privacy import caller_hash, reveal_number, store_contact
from hotline.retention import daily, plan_purge, purge, schedule_daily_purges
from hotline.statistics import median_time_to_assign
from hotline.telephony import get_provider
from hotline.triage import cancel_request, triage_request
from hotline.volunteers import set_volunteer_active
from hotline.worker import relay_once
from tests.conftest import LEUVEN_NUMBER, ROOT
from tests.volunteers_helpers import make_volunteer

pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

ANNA, BERT, CARLA = "+32470123401", "+32470123402", "+32470123403"
ANNAS_WORDS = "Anna Peeters needs bread, Naamsestraat 12"
ANNAS_TRANSCRIPT = "hello this is Anna from the Naamsestraat"
ANNAS_NOTES = "Anna is hard of hearing; ring twice"
CARLAS_REASON = "Carla found help from her daughter Els"
TIMEZONE = "Europe/Brussels"


@pytest.fixture
def app_config(app_config, fake_twilio):
    return fake_twilio.configure(app_config)


@pytest.fixture
def session(app):
    with Session(app.extensions["hotline.engine"], expire_on_commit=False) as session:
        yield session


def settings_of(app):
    return app.extensions["hotline.settings"]


def call_in(
    app, session, fake_twilio, number: str, message: str, transcript: str | None = None
) -> HelpRequest:
    """A resident's call: their number in the vault, a recording at "Twilio", a request."""
    settings = settings_of(app)
    help_request = create_help_request(
        session,
        line=line_row(session, settings, "leuven"),
        contact=store_contact(session, settings.secrets, number),
        call_sid="CA" + secrets.token_hex(16),
        language="nl",
        category="groceries",
        postcode="3000",
        urgency="today",
        recording_sid=fake_twilio.add_recording(),
        message=message,
    )
    help_request.transcript = transcript  # Twilio's transcription, when the line asks for one
    call = CallSession(
        call_sid=help_request.call_sid,
        line_id=help_request.line_id,
        contact_id=help_request.contact_id,
        help_request_id=help_request.id,
        state={"collected": {"callback_number": number[1:]}, "language": "nl"},
        last_response=f"<Response><Say>{message}</Say></Response>",
    )
    session.add(call)
    session.commit()
    return help_request


class Town:
    """Leuven a month from now: Anna was helped (done), Carla cancelled, Bert still waits;
    Carla has called again since and waits too. Vera helped Anna by SMS."""

    def __init__(self, app, session, fake_twilio, staff, work):
        settings = settings_of(app)
        self.app, self.session = app, session
        self.operator_id = staff["olga"]
        self.leuven = settings.lines["leuven"]
        self.vera = make_volunteer(app, session, name="Vera Volunteer", skills=["groceries"])
        self.anna = call_in(
            app, session, fake_twilio, ANNA, ANNAS_WORDS, transcript=ANNAS_TRANSCRIPT
        )
        triage_request(
            session,
            help_request=self.anna,
            operator_id=self.operator_id,
            line=self.leuven,
            changes={"notes": ANNAS_NOTES},
        )
        session.commit()
        self.assignment = assign_volunteer(
            session,
            help_request=self.anna,
            volunteer=self.vera,
            operator_id=self.operator_id,
            line=self.leuven,
        )
        work()  # the offer SMS goes out through "Twilio"
        record_assignment_reply(session, assignment=self.assignment, reply="done")
        session.commit()
        self.carla = call_in(app, session, fake_twilio, CARLA, "Carla needs a lift")
        cancel_request(
            session, help_request=self.carla, reason=CARLAS_REASON, operator_id=self.operator_id
        )
        self.bert = call_in(app, session, fake_twilio, BERT, "Bert's dog needs a walk")
        self.carla_again = call_in(app, session, fake_twilio, CARLA, "Carla again")
        self.later = utcnow() + timedelta(days=31)
        for each in (self.anna, self.carla, self.bert, self.carla_again):
            session.refresh(each)

    def figures(self):
        """Everything the dashboard and the API's statistics show, at the same moment."""
        line_id = self.anna.line_id
        since = self.later - timedelta(days=60)
        return (
            dashboard(self.session, now=self.later, timezone=TIMEZONE, line_id=line_id, days=60),
            dashboard(self.session, now=self.later, timezone=TIMEZONE, days=60),
            median_time_to_assign(self.session, since=since, until=self.later, line_id=line_id),
        )


@pytest.fixture
def town(app, session, fake_twilio, staff, work) -> Town:
    return Town(app, session, fake_twilio, staff, work)


def closed_forty_days_ago(session) -> None:
    """The closed requests of the town were closed 40 days before now (the real clock)."""
    session.execute(
        sa.update(HelpRequest)
        .where(HelpRequest.status.in_(("done", "cancelled")))
        .values(updated_at=utcnow() - timedelta(days=40))
    )
    session.commit()


def snapshot(session) -> dict[str, list]:
    """Every row of the tables a purge touches, as plain values."""
    tables = ("help_request", "contact", "sms_message", "call_session", "volunteer", "outbox")
    with session.get_bind().connect() as connection:
        return {
            table: [
                tuple(row)
                for row in connection.execute(sa.text(f"SELECT * FROM {table} ORDER BY id"))
            ]
            for table in tables
        }


def test_a_purge_removes_what_closed_a_month_ago_and_the_statistics_stay_the_same(
    app, session, town, fake_twilio
):
    settings = settings_of(app)
    figures_before = town.figures()
    recordings = {r.id: r.recording_sid for r in (town.anna, town.carla, town.bert)}
    vault_before = session.exec(select(sa.func.count()).select_from(Contact)).one()
    annas_texts = session.exec(
        select(SmsMessage).where(SmsMessage.help_request_id == town.anna.id)
    ).all()
    assert annas_texts and all(text.body for text in annas_texts)

    plan = plan_purge(session, settings, town.later)["leuven"]
    assert plan.requests == 2  # Anna's (done) and Carla's first (cancelled)
    assert plan.recordings == 2
    assert plan.contacts == 1  # Anna's number; Carla's is still needed for her open request
    assert plan.sms == len(annas_texts)
    assert plan.call_sessions == 2  # the calls that made these two requests

    with app.app_context():
        removed = purge(session, settings, get_provider(), town.later).removed["leuven"]
    assert removed == plan

    # Deleted at "Twilio" through its REST API, Bert's recording left alone.
    assert sorted(fake_twilio.deleted_recordings) == sorted(
        [recordings[town.anna.id], recordings[town.carla.id]]
    )
    assert recordings[town.bert.id] in fake_twilio.recordings

    anna = session.get(HelpRequest, town.anna.id, populate_existing=True)
    assert (anna.message, anna.transcript, anna.notes, anna.recording_sid) == ("", None, "", None)
    assert (anna.caller_hash, anna.contact_id, anna.call_sid) == (None, None, None)
    assert anna.purged_at is not None and anna.forgotten_at is None
    # What the statistics count stays.
    assert (anna.status, anna.category, anna.postcode, anna.urgency, anna.language) == (
        "done",
        "groceries",
        "3000",
        "today",
        "nl",
    )
    assert anna.created_at == town.anna.created_at and anna.assigned_at == town.anna.assigned_at
    carla = session.get(HelpRequest, town.carla.id, populate_existing=True)
    assert carla.cancel_reason is None and carla.caller_hash is None
    assert session.get(Assignment, town.assignment.id).status == "done"  # kept, anonymous

    # Bert and Carla's new request: untouched, their numbers still in the vault.
    for untouched in (town.bert, town.carla_again):
        now = session.get(HelpRequest, untouched.id, populate_existing=True)
        assert (now.message, now.recording_sid, now.contact_id, now.caller_hash, now.purged_at) == (
            untouched.message,
            untouched.recording_sid,
            untouched.contact_id,
            untouched.caller_hash,
            None,
        )
    hashes = set(session.exec(select(Contact.caller_hash)))
    pepper = settings.secrets.hash_pepper
    assert caller_hash(ANNA, pepper) not in hashes
    assert {caller_hash(BERT, pepper), caller_hash(CARLA, pepper)} <= hashes
    assert session.exec(select(sa.func.count()).select_from(Contact)).one() == vault_before - 1

    for text in session.exec(select(SmsMessage).where(SmsMessage.help_request_id == anna.id)):
        assert (text.body, text.response) == ("", "")
    for call in session.exec(select(CallSession).where(CallSession.help_request_id == anna.id)):
        assert (call.state, call.last_response, call.contact_id) == ({}, "", None)

    # The audit log keeps who did what, not the words typed about Anna and Carla.
    audit = json.dumps([event.detail for event in session.exec(select(AuditEvent))])
    for words in (ANNAS_NOTES, CARLAS_REASON, ANNAS_WORDS):
        assert words not in audit
    [entry] = session.exec(select(AuditEvent).where(AuditEvent.action == "retention:purge")).all()
    assert entry.operator_id is None
    assert entry.detail["requests"] == 2 and entry.detail["line"] == "leuven"

    assert town.figures() == figures_before


def test_a_dry_run_changes_nothing_and_a_second_purge_finds_nothing(
    app, session, town, fake_twilio
):
    settings = settings_of(app)
    before = snapshot(session)
    plan_purge(session, settings, town.later)
    assert snapshot(session) == before
    assert fake_twilio.deleted_recordings == []

    with app.app_context():
        first = purge(session, settings, get_provider(), town.later).removed["leuven"]
        again = purge(session, settings, get_provider(), town.later).removed["leuven"]
    assert first and not again
    assert len(fake_twilio.deleted_recordings) == 2
    assert not plan_purge(session, settings, town.later)["leuven"]


def test_open_requests_and_recent_ones_are_kept(app, session, town, fake_twilio):
    settings = settings_of(app)
    a_week_after = utcnow() + timedelta(days=7)
    with app.app_context():
        removed = purge(session, settings, get_provider(), a_week_after).removed["leuven"]
    assert not removed
    assert fake_twilio.deleted_recordings == []
    assert session.get(HelpRequest, town.anna.id, populate_existing=True).message == ANNAS_WORDS


def test_a_recording_twilio_cannot_delete_now_is_kept_for_the_next_purge(
    app, session, town, fake_twilio
):
    settings = settings_of(app)
    fake_twilio.fail_next("Recordings", status=503, code=20503, message="Service unavailable")
    with app.app_context():
        first = purge(session, settings, get_provider(), town.later).removed["leuven"]
    assert first.requests == 2 and first.recordings == 0 and first.recordings_kept == 2
    kept = session.exec(
        select(HelpRequest.recording_sid).where(
            HelpRequest.purged_at.is_not(None), HelpRequest.recording_sid.is_not(None)
        )
    ).all()
    assert len(kept) == 2  # personal data gone, the sids wait for Twilio

    assert plan_purge(session, settings, town.later)["leuven"].recordings == 2
    with app.app_context():
        second = purge(session, settings, get_provider(), town.later).removed["leuven"]
    assert (second.requests, second.recordings, second.recordings_kept) == (0, 2, 0)
    assert sorted(fake_twilio.deleted_recordings) == sorted(kept)


def test_volunteers_who_left_a_year_ago_lose_name_and_number_and_keep_their_assignments(
    app, session, town, staff
):
    settings = settings_of(app)
    set_volunteer_active(session, volunteer=town.vera, active=False, operator_id=staff["cor"])
    wim = make_volunteer(app, session, name="Wim Actief")
    with app.app_context():
        too_soon = purge(session, settings, get_provider(), town.later).removed["leuven"]
        assert too_soon.volunteers == 0
        a_year_later = utcnow() + timedelta(days=366)
        removed = purge(session, settings, get_provider(), a_year_later).removed["leuven"]
    assert removed.volunteers == 1
    vera = session.get(Volunteer, town.vera.id, populate_existing=True)
    assert (vera.name, vera.contact_id, vera.active) == ("", None, False)
    assert vera.purged_at is not None
    assert session.get(Assignment, town.assignment.id).volunteer_id == vera.id
    assert session.get(Volunteer, wim.id, populate_existing=True).name == "Wim Actief"
    audit = json.dumps([e.detail for e in session.exec(select(AuditEvent))])
    assert "Vera Volunteer" not in audit


def test_the_daily_purge_runs_once_per_day_through_a_real_worker_in_short_jobs(
    app, session, town, fake_twilio, work, monkeypatch
):
    settings = settings_of(app)
    closed_forty_days_ago(session)  # as the worker sees it: now
    # Jobs that do one request each and queue the rest: many short jobs, never one long one.
    monkeypatch.setattr(daily, "JOB_TIME_BUDGET", 0.0)
    monkeypatch.setattr(daily, "BATCH_SIZE", 1)
    noon = datetime.now(ZoneInfo(TIMEZONE)).replace(hour=12, minute=0)
    early = noon.replace(hour=2)

    assert schedule_daily_purges(session, settings, early) == []  # before purge_at (03:00)
    [run_id] = schedule_daily_purges(session, settings, noon)
    # Another worker, with its own memory, a moment later: the day's run exists already.
    assert schedule_daily_purges(session, settings, noon + timedelta(minutes=1)) == []
    assert session.exec(select(sa.func.count()).select_from(PurgeRun)).one() == 1

    # The worker that scheduled it died before relaying it: a new one picks it up.
    work()
    run = session.get(PurgeRun, run_id, populate_existing=True)
    assert run.finished_at is not None
    assert run.removed["requests"] == 2 and run.removed["recordings"] == 2
    purge_jobs = session.exec(
        select(OutboxMessage).where(OutboxMessage.job == daily.DAILY_PURGE_JOB)
    ).all()
    assert len(purge_jobs) > 2 and all(job.completed_at for job in purge_jobs)
    assert len(fake_twilio.deleted_recordings) == 2
    assert session.get(HelpRequest, town.anna.id, populate_existing=True).purged_at is not None
    assert session.get(HelpRequest, town.bert.id, populate_existing=True).purged_at is None
    # Many steps, one audit entry for the line's run, with its totals.
    [entry] = session.exec(select(AuditEvent).where(AuditEvent.action == "retention:purge")).all()
    assert entry.detail["requests"] == 2 and entry.detail["recordings"] == 2

    # The next day the worker's own relay schedules it, by its clock: not at 02:00, at noon.
    tomorrow = noon + timedelta(days=1)
    runs = session.exec(select(sa.func.count()).select_from(PurgeRun)).one()
    relay_once(app, daily=True, now=tomorrow.replace(hour=2))
    assert session.exec(select(sa.func.count()).select_from(PurgeRun)).one() == runs
    relay_once(app, daily=True, now=tomorrow)
    [new_run] = session.exec(select(PurgeRun).where(PurgeRun.day == tomorrow.date())).all()
    assert session.exec(select(sa.func.count()).select_from(PurgeRun)).one() == runs + 1
    [its_job] = session.exec(
        select(OutboxMessage).where(
            OutboxMessage.job == daily.DAILY_PURGE_JOB,
            OutboxMessage.payload["purge_run_id"].as_integer() == new_run.id,
        )
    ).all()
    assert its_job.enqueued_at is not None  # relayed to rq by the same tick


def test_two_workers_scheduling_the_same_day_at_the_same_moment_make_one_run(app, session):
    """Both ask "is there a run today?" and hear "no"; the second to write it gives way."""
    settings = settings_of(app)
    noon = datetime.now(ZoneInfo(TIMEZONE)).replace(hour=12, minute=0)
    other_workers_runs: list[int] = []
    with Session(app.extensions["hotline.engine"], expire_on_commit=False) as other:

        def the_other_worker_writes_it_after_our_question(state):
            if other_workers_runs or not state.is_select or "purge_run" not in str(state.statement):
                return None
            answer = state.invoke_statement().freeze()  # our question answered: no run yet
            other_workers_runs.extend(schedule_daily_purges(other, settings, noon))
            return answer()

        sa.event.listen(session, "do_orm_execute", the_other_worker_writes_it_after_our_question)
        ours = schedule_daily_purges(session, settings, noon)
        sa.event.remove(session, "do_orm_execute", the_other_worker_writes_it_after_our_question)
    assert len(other_workers_runs) == 1 and ours == []  # our insert met theirs: given way
    assert session.exec(select(sa.func.count()).select_from(PurgeRun)).one() == 1
    jobs = session.exec(
        select(OutboxMessage).where(OutboxMessage.job == daily.DAILY_PURGE_JOB)
    ).all()
    assert [job.payload["purge_run_id"] for job in jobs] == other_workers_runs
    # And our session carries on working (rolled back cleanly).
    assert schedule_daily_purges(session, settings, noon + timedelta(minutes=1)) == []


@pytest.fixture
def hotline(app, monkeypatch, database_url, redis_url, fake_twilio):
    """Runs `hotline ...` as an installation's operator would, on this test's services."""
    settings = settings_of(app)
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    for name, value in {
        "HOTLINE_INSTANCE_PATH": str(settings.instance_path),
        "HOTLINE_DATABASE_URL": database_url,
        "HOTLINE_REDIS_URL": redis_url,
        "HOTLINE_TWILIO_API_BASE_URL": fake_twilio.url,
        "TWILIO_ACCOUNT_SID": fake_twilio.account_sid,
        "TWILIO_AUTH_TOKEN": fake_twilio.auth_token,
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args))


def test_hotline_purge_prints_what_it_would_remove_and_then_removes_it(
    app, session, town, fake_twilio, hotline
):
    closed_forty_days_ago(session)
    before = snapshot(session)
    dry = hotline("purge", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "leuven (Leuven Helpt; requests closed over 30 days ago" in dry.output
    assert "2 closed requests would be made anonymous" in dry.output
    assert "2 recordings would be deleted, also at the telephone provider" in dry.output
    assert "1 phone numbers would be deleted from the vault" in dry.output
    assert snapshot(session) == before

    done = hotline("purge", "--line", "leuven")
    assert done.exit_code == 0, done.output
    assert "2 closed requests made anonymous" in done.output
    assert "2 recordings deleted" in done.output
    assert len(fake_twilio.deleted_recordings) == 2

    again = hotline("purge")
    assert "nothing to remove" in again.output
    unknown = hotline("purge", "--line", "atlantis")
    assert unknown.exit_code != 0 and "no line 'atlantis'" in unknown.output


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("contact_days = 0", "lines.leuven.retention.contact_days"),
        ('volunteer_days = "a year"', "lines.leuven.retention.volunteer_days"),
        ('purge_at = "25:00"', "lines.leuven.retention.purge_at"),
        ("keep_for_ever = true", "lines.leuven.retention.keep_for_ever"),
    ],
)
def test_a_wrong_retention_setting_names_its_key_and_file(tmp_path, table, problem):
    config = tmp_path / "config.toml"
    original = (ROOT / "config.toml").read_text()
    start = original.index("[lines.leuven.retention]")
    end = original.index("\n[", start + 1)
    config.write_text(original[:start] + f"[lines.leuven.retention]\n{table}\n" + original[end:])
    with pytest.raises(ConfigError) as error:
        load_settings({"config_file": config, "instance_path": str(tmp_path / "instance")})
    assert str(config) in str(error.value) and problem in str(error.value)


def test_a_daily_purge_job_delivered_twice_does_its_work_once(
    app, session, town, fake_twilio, work, monkeypatch, redis_conn
):
    settings = settings_of(app)
    closed_forty_days_ago(session)
    monkeypatch.setattr(daily, "JOB_TIME_BUDGET", 0.0)  # many short steps
    monkeypatch.setattr(daily, "BATCH_SIZE", 1)
    noon = datetime.now(ZoneInfo(TIMEZONE)).replace(hour=12, minute=0)
    [run_id] = schedule_daily_purges(session, settings, noon)
    [first_step] = session.exec(
        select(OutboxMessage).where(OutboxMessage.job == daily.DAILY_PURGE_JOB)
    ).all()
    # rq delivers the first step twice: a copy (the sweep thought it lost) beside the original.
    Queue("default", connection=redis_conn).enqueue(daily.DAILY_PURGE_JOB, **first_step.payload)
    # ... and a third copy arrives while the first one is at work.
    copies_during_the_work: list[bool] = []
    purge_itself = daily.purge

    def purge_while_a_copy_arrives(*args, **kwargs):
        if not copies_during_the_work:
            copies_during_the_work.append(daily.daily_purge(run_id, 0))
        return purge_itself(*args, **kwargs)

    monkeypatch.setattr(daily, "purge", purge_while_a_copy_arrives)
    work()

    assert copies_during_the_work == [False]  # it found the step claimed and did nothing
    run = session.get(PurgeRun, run_id, populate_existing=True)
    assert run.finished_at is not None
    assert (run.removed["requests"], run.removed["recordings"]) == (2, 2)  # not counted twice
    assert len(fake_twilio.deleted_recordings) == 2
    steps = [
        job.payload["step"]
        for job in session.exec(
            select(OutboxMessage).where(OutboxMessage.job == daily.DAILY_PURGE_JOB)
        )
    ]
    assert len(steps) > 2 and sorted(steps) == list(range(len(steps)))  # one chain, no fork
    [entry] = session.exec(select(AuditEvent).where(AuditEvent.action == "retention:purge")).all()
    assert (entry.detail["requests"], entry.detail["recordings"]) == (2, 2)


def test_a_step_whose_worker_died_is_taken_over_once_its_claim_ran_out(app, session, town):
    settings = settings_of(app)
    noon = datetime.now(ZoneInfo(TIMEZONE)).replace(hour=12, minute=0)
    [run_id] = schedule_daily_purges(session, settings, noon)

    def claimed_until(moment: datetime) -> None:
        session.execute(
            sa.update(PurgeRun)
            .where(PurgeRun.id == run_id)
            .values(step=0, claim="a worker", claimed_until=moment)
        )
        session.commit()

    with app.app_context():
        claimed_until(utcnow() + timedelta(seconds=20))  # a worker is at it
        assert daily.daily_purge(run_id, 0) is False
        assert session.get(PurgeRun, run_id, populate_existing=True).claim == "a worker"
        claimed_until(utcnow() - timedelta(seconds=1))  # that worker died; rq delivers again
        assert daily.daily_purge(run_id, 0) is True
    run = session.get(PurgeRun, run_id, populate_existing=True)
    assert run.finished_at is not None and run.claim is None and run.step == 1


def test_a_failing_purge_schedule_does_not_stop_texts_and_timers(app, session, monkeypatch, caplog):
    def schedule_that_fails(*args, **kwargs):
        raise RuntimeError("the purge_run table is locked")

    monkeypatch.setattr(worker, "schedule_daily_purges", schedule_that_fails)
    for attempt in range(2):
        text = add_work(session, queue="messages", job="hotline.jobs.send_sms", sms_id=10 + attempt)
        session.commit()
        assert relay_once(app, daily=True) == 1
        assert session.get(OutboxMessage, text.id, populate_existing=True).enqueued_at is not None
    said = [r.getMessage() for r in caplog.records if "daily purges" in r.getMessage()]
    assert said == [  # once, not once per tick; the error's type only, never its words
        "daily purges not scheduled (RuntimeError); the relay carries on, retrying each tick"
    ]


def test_a_text_in_flight_during_the_purge_is_emptied_by_the_next_one(
    app, session, town, fake_twilio
):
    settings = settings_of(app)
    [text] = session.exec(select(SmsMessage).where(SmsMessage.help_request_id == town.anna.id))
    # Its send job hands it to Twilio just as the purge runs (a month from now).
    text.status, text.submitted_at = "submitting", town.later
    session.add(text)
    session.commit()
    with app.app_context():
        first = purge(session, settings, get_provider(), town.later).removed["leuven"]
    assert first.requests == 2
    text = session.get(SmsMessage, text.id, populate_existing=True)
    assert text.body != ""  # left to its send job, which records what Twilio answered

    text.status = "sent"
    session.add(text)
    session.commit()
    assert plan_purge(session, settings, town.later)["leuven"].sms == 1
    with app.app_context():
        second = purge(session, settings, get_provider(), town.later).removed["leuven"]
    assert (second.requests, second.sms) == (0, 1)
    text = session.get(SmsMessage, text.id, populate_existing=True)
    assert (text.body, text.response, text.message_sid) == ("", "", None)


def test_a_block_keeps_its_caller_but_loses_its_reason_and_request_when_that_is_purged(
    app, session, town, staff
):
    settings = settings_of(app)
    block = block_caller(
        session,
        help_request=town.carla,
        operator_id=staff["cor"],
        reason="Shouts at operators; mail carla.p@example.com or ring 0470 12 34 03",
    )
    assert "example.com" not in block.reason and "12 34 03" not in block.reason
    with app.app_context():
        purge(session, settings, get_provider(), town.later)
    block = session.get(BlockedCaller, block.id, populate_existing=True)
    assert (block.help_request_id, block.reference, block.reason) == (None, "", "[removed]")
    pepper = settings.secrets.hash_pepper
    assert is_blocked(session, line_slug="leuven", hashed_caller=caller_hash(CARLA, pepper))
    [blocked] = session.exec(select(AuditEvent).where(AuditEvent.action == "caller_blocked"))
    assert blocked.detail["reason"] == "[removed]"


def test_a_purge_leaves_no_twilio_id_of_its_calls_and_texts_and_their_webhooks_still_answer(
    app, session, town, twilio
):
    settings = settings_of(app)
    [call] = session.exec(select(CallSession).where(CallSession.help_request_id == town.anna.id))
    [text] = session.exec(select(SmsMessage).where(SmsMessage.help_request_id == town.anna.id))
    call_sid, message_sid = call.call_sid, text.message_sid
    assert message_sid
    # The IVR read Anna's number back to her; the request's history names the call.
    reveal_number(
        session,
        session.get(Contact, town.anna.contact_id),
        settings.secrets,
        reason="read_back",
        line_id=town.anna.line_id,
        call_sid=call_sid,
    )
    record(session, "call_back", operator_id=None, help_request_id=town.anna.id, call_sid=call_sid)
    session.commit()
    with app.app_context():
        purge(session, settings, get_provider(), town.later)

    stored = json.dumps([event.detail for event in session.exec(select(AuditEvent))])
    stored += " ".join(session.exec(select(CallSession.call_sid)))
    stored += " ".join(sid for sid in session.exec(select(SmsMessage.message_sid)) if sid)
    assert call_sid not in stored and message_sid not in stored
    assert session.get(SmsMessage, text.id, populate_existing=True).message_sid is None

    # Twilio, late, about the long-finished call and text: answered, nothing tied to Anna.
    call_params = {"CallSid": call_sid, "From": ANNA, "To": LEUVEN_NUMBER}
    ended = twilio.post("/twilio/voice/status", {**call_params, "CallStatus": "completed"})
    assert ended.status_code == 204
    report = {"MessageSid": message_sid, "MessageStatus": "delivered"}
    status = twilio.post(f"/twilio/sms/status?sms={text.id}", report)
    assert status.status_code == 204
    assert session.get(SmsMessage, text.id, populate_existing=True).message_sid is None
    step = twilio.post("/twilio/voice/step/3", {**call_params, "Digits": "1"})
    assert step.status_code == 200  # a call we no longer know is answered from the start
    assert session.get(CallSession, call.id, populate_existing=True).call_sid != call_sid


def test_the_purge_forgets_staff_sessions_that_ended_a_month_ago(app, session, staff):
    settings = settings_of(app)
    now, olga = utcnow(), staff["olga"]
    ended_long_ago = start_session(session, olga, now=now - timedelta(days=40))
    end_session(session, ended_long_ago, now=now - timedelta(days=40))
    start_session(session, olga, now=now - timedelta(days=35))  # left open, never seen again
    ended_last_week = start_session(session, olga, now=now - timedelta(days=7))
    end_session(session, ended_last_week, now=now - timedelta(days=7))
    start_session(session, olga, now=now)
    kept_from = now - timedelta(days=30)

    def ages() -> tuple[int, int]:
        created = session.exec(select(StaffSession.created_at)).all()
        return sum(when < kept_from for when in created), sum(when >= kept_from for when in created)

    assert ages() == (2, 2)
    with app.app_context():
        purge(session, settings, get_provider(), now)
    assert ages() == (0, 2)
