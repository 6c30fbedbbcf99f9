"""`hotline jobs`: an installation's operator sees what waits and what failed, and retries it."""

from __future__ import annotations

import pytest
from click.testing import CliRunner
from rq import Queue

from hotline.cli import cli
from hotline.queue import failed_jobs


@pytest.fixture
def run(tmp_path, monkeypatch, database_url, redis_url):
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTLINE_REDIS_URL", redis_url)
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


def a_job_that_fails_for_good(redis_conn) -> str:
    """A job whose function does not exist (a release that renamed it, say)."""
    queue = Queue("messages", connection=redis_conn)
    job = queue.enqueue("hotline.jobs.no_such_job", sms_id=42, job_id="outbox-999")
    from rq import SimpleWorker

    SimpleWorker([queue], connection=redis_conn).work(burst=True)
    return job.id


def test_the_queues_show_what_waits_and_what_failed(run, redis_conn):
    a_job_that_fails_for_good(redis_conn)
    Queue("intake", connection=redis_conn).enqueue("hotline.jobs.announce_request", 1)

    result = run("jobs")

    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[1:4]}
    assert lines["intake"] == ["1", "0", "0", "0"]
    assert lines["messages"] == ["0", "0", "0", "1"]
    assert "outbox rows not yet queued: 0" in result.output


def test_a_failed_job_is_listed_with_its_error_and_can_be_retried(run, redis_conn):
    job_id = a_job_that_fails_for_good(redis_conn)

    listed = run("jobs", "failed")
    assert listed.exit_code == 0, listed.output
    assert "outbox-999  messages" in listed.output
    assert "hotline.jobs.no_such_job(sms_id=42)" in listed.output
    assert "ValueError: Invalid attribute name: no_such_job" in listed.output
    assert "1 failed job(s)" in listed.output

    retried = run("jobs", "retry", job_id)
    assert retried.exit_code == 0, retried.output
    assert "1 job(s) queued again." in retried.output
    assert failed_jobs(redis_conn) == []
    assert Queue("messages", connection=redis_conn).job_ids == [job_id]


def test_retrying_needs_job_ids_or_all_and_names_unknown_ones(run, redis_conn):
    a_job_that_fails_for_good(redis_conn)

    assert run("jobs", "retry").exit_code == 2
    unknown = run("jobs", "retry", "outbox-1")
    assert unknown.exit_code == 1
    assert "not failed jobs: outbox-1" in unknown.output
    everything = run("jobs", "retry", "--all")
    assert "1 job(s) queued again." in everything.output
