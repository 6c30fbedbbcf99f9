"""The cases, each measured next to its ceiling in the same run, on the same server settings.

A case returns rows for the report: what was measured, the ceiling it is compared with,
the ratio (throughput against the ceiling's) and whether its target is met.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from benchmarks.load import run_wrk, signed_requests, walk_calls
from benchmarks.servers import Environment, Server, rss_mb


@dataclass(frozen=True)
class Sizes:
    """How big a run is: ``FULL`` for the figures, ``QUICK`` to see every case run."""

    requests: int
    volunteers: int
    callers: int
    seconds: float  # per wrk measurement
    new_calls: int
    step_calls: int
    intake_calls: int
    texts: int
    walk_calls: int
    walk_rounds: int
    think: tuple[float, float]
    sms_workers: tuple[int, ...] = (1, 2)
    noop_jobs: int = 3000  # a rate: fewer no-op jobs than texts measure it as well


FULL = Sizes(
    requests=100_000,
    volunteers=50_000,
    callers=25_000,
    seconds=8,
    new_calls=6000,
    step_calls=6000,
    intake_calls=3000,
    texts=10_000,
    walk_calls=200,
    walk_rounds=3,
    think=(0.5, 1.5),
)
QUICK = Sizes(
    requests=2_000,
    volunteers=1_000,
    callers=500,
    seconds=2,
    new_calls=600,
    step_calls=600,
    intake_calls=400,
    texts=100,
    walk_calls=10,
    walk_rounds=1,
    think=(0.02, 0.05),
    sms_workers=(1,),
)
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) hotline-benchmarks"
CASES = ("new_call", "step", "intake", "queue", "suggestions", "calls", "sms")


@dataclass
class Row:
    """One line of the table."""

    case: str
    ceiling: str
    figure: dict
    ceiling_figure: dict | None = None
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Run:
    """What the cases share: the environment, both servers, the seeded data, the sizes."""

    env: Environment
    web: Server
    ceilings: Server
    seeded: dict
    sizes: Sizes
    token: str
    browser: dict[str, str] = field(default_factory=dict)  # a logged-in browser's headers
    next_caller: int = 100_000
    rows: list[Row] = field(default_factory=list)
    memory: dict = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.web.url

    def callers(self, count: int) -> int:
        """The first of ``count`` fresh caller numbers (each case calls from new ones)."""
        first, self.next_caller = self.next_caller, self.next_caller + count
        return first

    def wrk(self, server: Server, path: str, connections: int, **options) -> dict:
        return run_wrk(server, path, connections=connections, seconds=self.sizes.seconds, **options)


def warm(run: Run, path: str, connections: int, headers: dict[str, str]) -> None:
    """Fetch a page for a moment before measuring it (templates compiled, caches filled):
    not a measurement, so not the measurement's full window."""
    run_wrk(run.web, path, connections=connections, seconds=WARM_SECONDS, headers=headers)


WARM_SECONDS = 2


def _ratio(figure: dict, ceiling: dict) -> float | None:
    if not ceiling.get("per_second"):
        return None
    return round(figure["per_second"] / ceiling["per_second"], 3)


def _ok(figure: dict) -> bool:
    """Measured at all, without errors, and each request sent once (enough of them)."""
    done = figure.get("requests", figure.get("finished", figure.get("webhooks", 0)))
    return done > 0 and figure["errors"] == 0 and not figure.get("exhausted")


def login(run: Run) -> dict[str, str]:
    """Log the seeded coordinator in through the login form; returns the headers of a
    browser that is logged in (Flask-Login's strong session protection ties the session to
    the browser's User-Agent: every page request sends the same one)."""
    import requests

    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    page = session.get(run.web.url + "/login", timeout=30)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page.text
    )
    operator = run.seeded["operator"]
    answer = session.post(
        run.web.url + "/login",
        data={
            "csrf_token": token[1] if token else "",
            "username": operator["username"],
            "password": operator["password"],
        },
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302:
        raise RuntimeError(f"login failed: HTTP {answer.status_code}")
    cookie = "; ".join(f"{name}={value}" for name, value in session.cookies.items())
    return {"Cookie": cookie, "User-Agent": USER_AGENT}


def expect_page(run: Run, path: str, headers: dict[str, str]) -> None:
    """Refuse to measure a page that does not answer 200 itself (a redirect to the login
    page would be measured as a fast page)."""
    import requests

    answer = requests.get(run.web.url + path, headers=headers, allow_redirects=False, timeout=30)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path}: HTTP {answer.status_code}, not the page itself")


def _calls(run: Run, count: int, keys: str = "") -> list[dict]:
    arguments = ["calls", "--count", str(count), "--first", str(run.callers(count))]
    if keys:
        arguments += ["--keys", keys]
    return run.env.seed(*arguments)["calls"]


def case_new_call(run: Run) -> None:
    """The first webhook of a new call (the old webhook_throughput figure), vs bare TwiML."""
    count = run.sizes.new_calls
    first = run.callers(count)
    line = "+3216272772"
    calls = [
        {
            "path": "/twilio/voice",
            "form": {
                "CallSid": f"CA{index:032x}",
                "From": f"+32474{first + index:06d}",
                "To": line,
                "AccountSid": "AC" + "0" * 32,
                "CallStatus": "ringing",
            },
        }
        for index in range(count)
    ]
    plain = signed_requests(calls, run.base_url, run.token)
    ceiling_file = signed_requests(calls, run.base_url, run.token, prefix="/bare")
    bare = run.wrk(run.ceilings, "/", 50, requests_file=ceiling_file, wrap=True)
    twiml = run.wrk(
        run.ceilings,
        "/",
        50,
        requests_file=signed_requests(calls, run.base_url, run.token, prefix="/twiml"),
        wrap=True,
    )
    figure = run.wrk(run.web, "/", 50, requests_file=plain)
    run.rows.append(Row("ceiling: bare Flask, fixed TwiML (c=50)", "", bare))
    run.rows.append(
        Row("ceiling: + form + VoiceResponse (c=50)", "", twiml, ratio=_ratio(twiml, bare))
    )
    run.rows.append(
        Row(
            "new call: first webhook (c=50)",
            "bare Flask",
            figure,
            bare,
            _ratio(figure, bare),
            "no errors",
            _ok(figure),
            "caller into the vault, call session, welcome menu",
        )
    )


def case_step(run: Run) -> None:
    """One IVR menu step (the language chosen), c=50, vs TwiML + one keyed UPDATE."""
    calls = _calls(run, run.sizes.step_calls)
    ceiling = run.wrk(
        run.ceilings,
        "/",
        50,
        wrap=True,
        requests_file=signed_requests(calls, run.base_url, run.token, "/update"),
    )
    figure = run.wrk(
        run.web, "/", 50, requests_file=signed_requests(calls, run.base_url, run.token)
    )
    ratio = _ratio(figure, ceiling)
    run.rows.append(
        Row(
            "IVR menu step (c=50)",
            "TwiML + keyed UPDATE",
            figure,
            ceiling,
            ratio,
            ">= 80 %, p99 < 25 ms",
            _ok(figure) and ratio is not None and ratio >= 0.8 and figure["p99_ms"] < 25,
        )
    )


def case_intake(run: Run) -> None:
    """A completed intake (request + outbox committed, reference read back), c=10."""
    calls = _calls(run, run.sizes.intake_calls, keys="1,1,1,3000,1")
    ceiling = run.wrk(
        run.ceilings,
        "/",
        10,
        wrap=True,
        requests_file=signed_requests(calls, run.base_url, run.token, "/insert"),
    )
    figure = run.wrk(
        run.web, "/", 10, requests_file=signed_requests(calls, run.base_url, run.token)
    )
    ratio = _ratio(figure, ceiling)
    run.rows.append(
        Row(
            "completed intake (c=10)",
            "one SQLModel INSERT",
            figure,
            ceiling,
            ratio,
            ">= 70 %",
            _ok(figure) and ratio is not None and ratio >= 0.7,
        )
    )


def case_queue(run: Run) -> None:
    """The queue page and its htmx refresh, c=10, vs a bare 50-row Jinja page."""
    headers = run.browser
    refresh = {**headers, "HX-Request": "true", "X-Hotline-Background": "1"}
    expect_page(run, "/requests/", headers)
    expect_page(run, "/requests/", refresh)
    warm(run, "/requests/", 2, headers)  # templates compiled, caches filled
    ceiling = run.wrk(run.ceilings, "/page", 10)
    page = run.wrk(run.web, "/requests/", 10, headers=headers)
    rows = run.wrk(run.web, "/requests/", 10, headers=refresh)
    size = f"{run.seeded['requests']:,} requests"
    for name, figure in (("queue page /requests/", page), ("queue refresh (htmx)", rows)):
        run.rows.append(
            Row(
                f"{name} (c=10, {size})",
                "bare 50-row page",
                figure,
                ceiling,
                _ratio(figure, ceiling),
                "p99 < 50 ms",
                _ok(figure) and figure["p99_ms"] < 50,
            )
        )


def case_suggestions(run: Run) -> None:
    """A request's page with suggestions vs the same page of a closed request (none), c=1."""
    headers = run.browser
    targets = run.seeded["targets"]
    for target in targets.values():
        expect_page(run, f"/requests/{target}", headers)
    warm(run, f"/requests/{targets['open']}", 1, headers)
    without = run.wrk(run.web, f"/requests/{targets['closed']}", 1, headers=headers)
    figure = run.wrk(run.web, f"/requests/{targets['open']}", 1, headers=headers)
    measured = figure["requests"] > 0
    extra_p50 = round(figure["p50_ms"] - without["p50_ms"], 2) if measured else None
    extra_p99 = round(figure["p99_ms"] - without["p99_ms"], 2) if measured else None
    small = figure["bytes_per_response"] <= 2 * without["bytes_per_response"]
    figure = {**figure, "suggestions_p50_ms": extra_p50, "suggestions_p99_ms": extra_p99}
    note = (
        f"suggestions add {extra_p50} ms (p50), {extra_p99} ms (p99); "
        f"{figure['bytes_per_response']:,} B vs {without['bytes_per_response']:,} B"
        if measured
        else f"no page within the {run.sizes.seconds:.0f} s measured: slower than that"
    )
    run.rows.append(
        Row(
            f"request page with suggestions (c=1, {run.seeded['volunteers']:,} volunteers)",
            "same page, no suggestions",
            figure,
            without,
            _ratio(figure, without),
            "+p50, +p99 < 20 ms; size <= 2x",
            _ok(figure) and extra_p50 < 20 and extra_p99 < 20 and small,
            note,
        )
    )


def case_calls(run: Run) -> None:
    """Simultaneous calls walking the whole menu, vs the same clients on bare TwiML."""
    sizes = run.sizes
    options = {
        "calls": sizes.walk_calls,
        "rounds": sizes.walk_rounds,
        "think": sizes.think,
        "base_url": run.base_url,
        "token": run.token,
        "line_number": "+3216272772",
    }
    ceiling = walk_calls(
        run.ceilings,
        prefix="/bare",
        first_caller=run.callers(sizes.walk_calls * sizes.walk_rounds),
        **options,
    )
    figure = walk_calls(
        run.web, first_caller=run.callers(sizes.walk_calls * sizes.walk_rounds), **options
    )
    met = (
        _ok(figure)
        and (figure["step_p99_ms"] or 1e9) < 100
        and (figure["intake_p99_ms"] or 1e9) < 250
    )
    figure = {**figure, "p50_ms": figure["step_p50_ms"], "p99_ms": figure["step_p99_ms"]}
    ceiling = {**ceiling, "p50_ms": ceiling["step_p50_ms"], "p99_ms": ceiling["step_p99_ms"]}
    run.rows.append(
        Row(
            f"{sizes.walk_calls} simultaneous calls, whole menu, {sizes.walk_rounds} rounds",
            f"{sizes.walk_calls} clients on bare TwiML",
            figure,
            ceiling,
            None,
            "0 errors; p99 step < 100 ms, intake < 250 ms",
            met,
            f"intake p50 {figure['intake_p50_ms']} ms, p99 {figure['intake_p99_ms']} ms; "
            f"a pause of {sizes.think[0]}-{sizes.think[1]} s before each answer",
        )
    )


def web_memory(run: Run) -> None:
    """Resident memory of each web worker after the web cases."""
    run.memory["web_worker_rss_mb"] = [round(rss_mb(pid), 1) for pid in run.web.worker_pids()]


def case_sms(run: Run, counts) -> None:
    """Assignment SMS through ``hotline worker`` to the stand-in, vs rq no-op jobs, with
    1 and 2 workers of the same class (HotlineWorker, a SimpleWorker)."""
    import redis

    connection = redis.Redis.from_url(run.env.redis_url) if run.env.redis_url else None
    if connection is None:
        from hotline.local_redis import socket_path

        path = socket_path(Path(run.env.env["HOTLINE_INSTANCE_PATH"]) / "redis.db")
        connection = redis.Redis(unix_socket_path=str(path))
    count = run.sizes.texts
    for workers in run.sizes.sms_workers:
        noop = min(count, run.sizes.noop_jobs)
        ceiling = _drain(run, connection, ("noop", "--count", str(noop)), workers)
        before = counts.accepted
        figure = _drain(run, connection, ("offers", "--count", str(count)), workers)
        sent = counts.accepted - before
        figure["errors"] += max(0, count - sent)
        figure["sent"] = sent
        ratio = _ratio(figure, ceiling)
        run.rows.append(
            Row(
                f"{count:,} assignment SMS, {workers} worker(s)",
                "rq no-op jobs",
                figure,
                ceiling,
                ratio,
                ">= 80 %",
                _ok(figure) and ratio is not None and ratio >= 0.8,
                f"{sent:,} accepted by the Twilio stand-in",
            )
        )


def _drain(run: Run, connection, seeding: tuple[str, ...], workers: int) -> dict:
    """Queue the jobs ``seeding`` makes for ``workers`` hotline workers, wait until all are
    done; jobs per second from the first job's start to the last one's end.

    rq is suspended while the workers start and the jobs are written (both at once, to save
    time); resumed, the workers find the whole batch waiting.
    """
    from rq import Worker
    from rq.suspension import resume, suspend

    suspend(connection)
    processes = run.env.start_workers(workers)
    try:
        job_ids = run.env.seed(*seeding)["job_ids"]
        deadline = time.monotonic() + 60
        while len(Worker.all(connection=connection)) < workers and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        resume(connection)
    keys = [f"rq:job:{job_id}" for job_id in job_ids]
    _wait_until_done(connection, keys)
    with connection.pipeline(transaction=False) as pipeline:
        for key in keys:
            pipeline.hget(key, "status")
        statuses = pipeline.execute()
    run.memory.setdefault("worker_rss_mb", []).extend(
        round(rss_mb(process.pid), 1) for process in processes if process.poll() is None
    )
    run.env.stop_workers()
    with connection.pipeline(transaction=False) as pipeline:
        for key in keys:
            pipeline.hmget(key, "started_at", "ended_at")
        times = pipeline.execute()
    starts = [_when(started) for started, _ in times if started]
    ends = [_when(ended) for _, ended in times if ended]
    finished = sum(status == b"finished" for status in statuses)
    seconds = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
    return {
        "jobs": len(job_ids),
        "finished": finished,
        "seconds": round(seconds, 2),
        "per_second": round(finished / seconds, 1) if seconds else 0.0,
        "errors": len(job_ids) - finished,
        "workers": workers,
    }


def _wait_until_done(connection, keys: list[str], *, window: int = 200) -> None:
    """Wait until every job of ``keys`` has finished or failed (or 30 s pass without one).

    rq runs a queue's jobs in the order they were queued, so only the oldest unfinished
    ones are asked about, ``window`` at a time: asking about all 10,000 every 0.3 s cost
    Redis and this process a share of the two cores the workers being measured run on.
    """
    pending, last_change = list(keys), time.monotonic()
    while pending and time.monotonic() - last_change < 30:
        ask = pending[:window]
        with connection.pipeline(transaction=False) as pipeline:
            for key in ask:
                pipeline.hget(key, "status")
            statuses = pipeline.execute()
        left = [key for key, status in zip(ask, statuses, strict=True) if status not in DONE]
        if len(left) < len(ask):
            last_change = time.monotonic()
        pending = left + pending[window:]
        if left:  # the oldest are still running: look again in a moment
            time.sleep(0.3)


DONE = (b"finished", b"failed")


def _when(value: bytes) -> datetime:
    text = value.decode().rstrip("Z")
    return datetime.fromisoformat(text)
