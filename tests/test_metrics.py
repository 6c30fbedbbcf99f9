"""/metrics: what the line did, in Prometheus's text format, for monitoring only.

Counters live in the process (or, in multiprocess mode, in files shared by every
gunicorn worker), so each test compares a scrape after with a scrape before.
Scrapes are parsed with prometheus_client's own parser, as Prometheus would read them.
"""

from __future__ import annotations

import os
import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families

from hotline import create_app
from tests.test_ivr_webhooks import Call, at_message, new_sid

CALLER = "+32470123456"
OUTSIDE = "81.82.83.84"  # an address on the internet
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"

Samples = dict[tuple[str, frozenset], float]


def scrape(app, *, remote: str = "127.0.0.1", headers: dict | None = None) -> Samples:
    """GET /metrics and parse it: (sample name, labels) -> value."""
    response = app.test_client().get(
        "/metrics", environ_base={"REMOTE_ADDR": remote}, headers=headers or {}
    )
    assert response.status_code == 200, response.status_code
    assert response.content_type == TEXT_FORMAT
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def grown(before: Samples, after: Samples, name: str) -> dict[frozenset, float]:
    """How much each labelled series of ``name`` grew between two scrapes."""
    changes = {
        labels: after[key] - before.get(key, 0.0)
        for key in after
        if key[0] == name
        for labels in [key[1]]
    }
    return {labels: change for labels, change in changes.items() if change}


def labels(**values: str) -> frozenset:
    return frozenset(values.items())


def test_metrics_count_a_call_its_ivr_steps_the_request_it_made_and_an_sms_status(app, twilio):
    before = scrape(app)

    call = Call(twilio, CALLER)
    at_message(call, "nl")
    call.record_nothing().assert_hangs_up()
    report = {"MessageSid": new_sid("SM"), "MessageStatus": "delivered",
              "AccountSid": "AC" + "0" * 32}  # fmt: skip
    assert twilio.post("/twilio/sms/status", report).status_code == 204
    forged = twilio.post("/twilio/voice", call.params, signature="bm90IGEgc2lnbmF0dXJl")
    assert forged.status_code == 403

    after = scrape(app)
    assert grown(before, after, "hotline_calls_received_total") == {labels(line="leuven"): 1}
    # Where each answer took the caller, from the greeting to the reference.
    assert grown(before, after, "hotline_ivr_steps_total") == {
        labels(node=node): 1
        for node in ("welcome", "main", "category", "postcode", "urgency", "message",
                     "confirmation")
    }  # fmt: skip
    assert grown(before, after, "hotline_help_requests_created_total") == {
        labels(line="leuven", source="ivr"): 1
    }
    assert grown(before, after, "hotline_sms_status_reports_total") == {
        labels(status="delivered"): 1
    }
    assert grown(before, after, "hotline_webhook_duration_seconds_count") == {
        labels(endpoint="twilio.voice"): 2,
        labels(endpoint="twilio.voice_step"): 6,
        labels(endpoint="twilio.sms_status"): 1,
    }
    assert grown(before, after, "hotline_webhook_responses_total") == {
        labels(endpoint="twilio.voice", status="200"): 1,
        labels(endpoint="twilio.voice", status="403"): 1,  # refused before anything else
        labels(endpoint="twilio.voice_step", status="200"): 6,
        labels(endpoint="twilio.sms_status", status="204"): 1,
    }
    within_twilios_limit = value(
        after, "hotline_webhook_duration_seconds_bucket", endpoint="twilio.voice", le="15.0"
    )
    assert within_twilios_limit == value(
        after, "hotline_webhook_duration_seconds_count", endpoint="twilio.voice"
    )

    # Computed when scraped: the request's announcement waits in rq for a worker.
    assert value(after, "hotline_rq_jobs", queue="intake", state="queued") == 1
    assert value(after, "hotline_rq_jobs", queue="intake", state="failed") == 0
    assert value(after, "hotline_outbox_pending") == 0
    assert value(after, "hotline_outbox_oldest_pending_age_seconds") == 0
    assert value(after, "hotline_rq_workers_alive") == 0
    assert value(after, "hotline_check_ok", check="workers") == 0
    assert value(after, "hotline_check_ok", check="database") == 1

    # Label values are names the code chose: no phone number, nothing a caller said.
    ours = [series for name, series in after if name.startswith("hotline_")]
    assert {label for series in ours for label, _ in series} <= {
        "line", "node", "source", "endpoint", "status", "check", "queue", "state", "le", "kind",
    }  # fmt: skip
    assert not [text for series in ours for _, text in series if "470123456" in text]


def test_metrics_are_refused_from_outside_without_the_token(app_config, monkeypatch):
    monkeypatch.delenv("HOTLINE_METRICS_TOKEN", raising=False)
    app = create_app(app_config)
    client = app.test_client()
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": OUTSIDE}).status_code == 404
    # Through a proxy the app does not trust (trust_proxy off), the real client is unknown.
    forwarded = client.get("/metrics", headers={"X-Forwarded-For": OUTSIDE})
    assert forwarded.status_code == 404
    scrape(app, remote="10.0.0.7")  # the city's monitoring, on the private network

    trusting = create_app({**app_config, "trust_proxy": True})
    assert trusting.test_client().get(
        "/metrics", headers={"X-Forwarded-For": OUTSIDE}
    ).status_code == 404  # fmt: skip
    scrape(trusting, headers={"X-Forwarded-For": "10.0.0.7"})

    monkeypatch.setenv("HOTLINE_METRICS_TOKEN", "a-long-random-metrics-token-0123456789")
    with_token = create_app(app_config)
    client = with_token.test_client()
    scrape(
        with_token,
        remote=OUTSIDE,
        headers={"Authorization": "Bearer a-long-random-metrics-token-0123456789"},
    )
    for headers in (
        {},
        {"Authorization": "Bearer a-guess"},
        {"Authorization": "a-long-random-metrics-token-0123456789"},
    ):
        for remote in (OUTSIDE, "127.0.0.1"):  # with a token set, nobody reads without it
            response = client.get("/metrics", environ_base={"REMOTE_ADDR": remote}, headers=headers)
            assert response.status_code == 404, (headers, remote)
            ready = client.get("/ready", environ_base={"REMOTE_ADDR": remote}, headers=headers)
            assert set(ready.get_json()) == {"status"}
    ready = client.get(
        "/ready", environ_base={"REMOTE_ADDR": OUTSIDE},
        headers={"Authorization": "Bearer a-long-random-metrics-token-0123456789"},
    )  # fmt: skip
    assert set(ready.get_json()) == {"status", "checks", "failed_jobs"}


def test_in_multiprocess_mode_the_counts_of_every_process_add_up(app, tmp_path, monkeypatch):
    folder = tmp_path / "prometheus"
    folder.mkdir()
    count_a_call = (
        "from hotline.observability.metrics import CALLS_RECEIVED; "
        "CALLS_RECEIVED.labels('leuven').inc()"
    )
    for _ in range(2):  # two gunicorn workers, say, each counting a call in its own process
        subprocess.run(
            [sys.executable, "-c", count_a_call],
            env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)},
            check=True,
        )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    samples = scrape(app)
    assert value(samples, "hotline_calls_received_total", line="leuven") == 2
    assert value(samples, "hotline_check_ok", check="database") == 1  # computed here


def test_hotline_serve_adds_up_the_counts_of_its_gunicorn_workers(
    database_url, redis_url, redis_conn, tmp_path
):
    """Whichever worker process answers the scrape, it reports every process's calls."""
    import secrets
    import time
    import urllib.request
    from pathlib import Path
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    from tests.conftest import LEUVEN_NUMBER, PUBLIC_BASE_URL, ROOT
    from tests.processes import free_port
    from tests.test_log_redaction import _request

    auth_token, port = secrets.token_hex(16), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "PROMETHEUS_"))}
    env.update(
        HOTLINE_CONFIG=str(ROOT / "config.toml"),
        HOTLINE_INSTANCE_PATH=str(tmp_path / "instance"),
        HOTLINE_DATABASE_URL=database_url,
        HOTLINE_REDIS_URL=redis_url,
        HOTLINE_PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        TWILIO_AUTH_TOKEN=auth_token,
    )
    hotline = Path(sys.executable).with_name("hotline")
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(
            [str(hotline), "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    assert _request(port, "GET", "/health") == 200
                    break
                except OSError:
                    assert server.poll() is None, (tmp_path / "serve.log").read_text()
                    assert time.monotonic() < deadline, "hotline serve did not start"
                    time.sleep(0.2)
            validator = RequestValidator(auth_token)
            for n in range(20):
                call = {"CallSid": f"CA{n:032x}", "From": f"+3247030{n:04d}", "To": LEUVEN_NUMBER}
                signature = validator.compute_signature(f"{PUBLIC_BASE_URL}/twilio/voice", call)
                headers = {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                }
                assert _request(port, "POST", "/twilio/voice", urlencode(call), headers) == 200
            counted = []
            for _ in range(6):  # scrapes land on either worker process
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as response:
                    families = text_string_to_metric_families(response.read().decode())
                    counted += [
                        sample.value
                        for family in families
                        for sample in family.samples
                        if sample.name == "hotline_calls_received_total"
                    ]
        finally:
            server.terminate()
            server.wait(timeout=30)

    assert counted == [20.0] * 6
    folder = tmp_path / "instance" / "metrics" / f"127.0.0.1_{port}"
    assert list(folder.glob("counter_*.db")), "the workers count in files of their own"
