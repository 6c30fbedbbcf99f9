"""``GET /health``, ``GET /ready`` and ``GET /metrics``.

/health says that the process answers and touches nothing. /ready answers 200 when
the hotline can do its work and 503 when it cannot, to anyone; which check failed, and
/metrics, only to those allowed the details: with HOTLINE_METRICS_TOKEN set, requests
that carry ``Authorization: Bearer <token>``; without it, requests from a loopback or
private address that did not come through a proxy the app does not trust. Others get
404 from /metrics, as if it did not exist.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import threading
import time
from collections.abc import Iterable, Iterator

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector

from hotline.observability.checks import StateCollector, failed_jobs, is_ready, readiness

blueprint = Blueprint("observability", __name__)
NOT_CACHED = {"Cache-Control": "no-store"}


@blueprint.get("/health")
def health() -> dict[str, str]:
    """The process is alive; says nothing about what it depends on."""
    return {"status": "ok"}


@blueprint.get("/ready")
def ready() -> tuple[dict, int, dict[str, str]]:
    """200 when the database, Redis, a worker and the outbox are fine, else 503."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    checks = _recent_readiness(app)
    ok = is_ready(checks)
    body: dict = {"status": "ready" if ok else "unavailable"}
    if may_see_details():
        body["checks"] = checks
        if checks["redis"]["ok"]:
            body["failed_jobs"] = failed_jobs(app)
    return body, 200 if ok else 503, NOT_CACHED


@blueprint.get("/metrics")
def metrics() -> Response:
    """Prometheus's text format (or OpenMetrics, if the scraper asks for it)."""
    if not may_see_details():
        abort(404)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    # Multiprocess mode: the counts of every process, from their files; else this process's.
    counted = MultiProcessCollector(None, path=folder) if folder else REGISTRY
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encode(Scrape([counted, StateCollector(app)]))
    return Response(body, content_type=content_type, headers=NOT_CACHED)


# /ready is public: however often it is asked, each process asks the database and Redis
# at most once per this many seconds (a probe opens a fresh database connection).
READY_CACHE_SECONDS = 1.0
_cache_lock = threading.Lock()


def _recent_readiness(app) -> dict:
    """The checks of /ready, asked again only when the last answer is older than a second."""
    with _cache_lock:
        asked_at, checks = app.extensions.get("hotline.readiness", (0.0, None))
        if checks is None or time.monotonic() - asked_at > READY_CACHE_SECONDS:
            checks = readiness(app)
            app.extensions["hotline.readiness"] = (time.monotonic(), checks)
        return checks


class Scrape:
    """Several collectors read as one registry."""

    def __init__(self, collectors: Iterable):
        self.collectors = collectors

    def collect(self) -> Iterator:
        for collector in self.collectors:
            yield from collector.collect()


def may_see_details() -> bool:
    """Whether this request may read /metrics and the checks of /ready."""
    token = current_app.extensions.get("hotline.metrics_token")
    if token:
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    settings = current_app.extensions["hotline.settings"]
    if not settings.trust_proxy and (
        "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
    ):
        return False  # a proxy we do not trust forwarded it: whose request it is, we cannot tell
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_private
