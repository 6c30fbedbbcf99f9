"""The hotline's Prometheus metrics, defined once and counted where things happen.

Label values are names the code chooses: line slugs, IVR node ids, endpoint names,
statuses. Never a phone number, never anything a person typed or said.

prometheus_client picks its storage when it is first imported: with the environment
variable PROMETHEUS_MULTIPROC_DIR set (before the server starts), every process writes
its values to files in that folder and ``/metrics`` adds them up, so the counts of all
gunicorn workers are one. Without it each process counts for itself.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Seconds; Twilio gives a webhook 15 s, our target is far below a second.
WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0)

CALLS_RECEIVED = Counter(
    "hotline_calls_received",
    "Calls that reached a line (first webhook of a call; a retry by Twilio counts again).",
    ["line"],
)
IVR_STEPS = Counter(
    "hotline_ivr_steps",
    "IVR turns answered, by the node of the flow the caller was taken to.",
    ["node"],
)
HELP_REQUESTS_CREATED = Counter(
    "hotline_help_requests_created",
    "Help requests written, by line and source (ivr, callback, live...).",
    ["line", "source"],
)
WEBHOOK_DURATION = Histogram(
    "hotline_webhook_duration_seconds",
    "Time to answer a Twilio webhook, signature check included.",
    ["endpoint"],
    buckets=WEBHOOK_BUCKETS,
)
WEBHOOK_RESPONSES = Counter(
    "hotline_webhook_responses",
    "Twilio webhooks answered, by endpoint and HTTP status (403: bad signature).",
    ["endpoint", "status"],
)
SMS_STATUS_REPORTS = Counter(
    "hotline_sms_status_reports",
    "Twilio's delivery reports on SMS we sent, by MessageStatus.",
    ["status"],
)
INCIDENTS = Counter(
    "hotline_incidents",
    "Things that went wrong and were answered kindly (kind=database_unavailable: a webhook "
    "could not reach the database).",
    ["kind"],
)
