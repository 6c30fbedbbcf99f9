"""The table printed at the end of a run, and the JSON file that keeps the run."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import importlib.util
import json
import os
import platform
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.servers import ROOT

RESULTS = Path(__file__).with_name("results")
PACKAGES = (
    "flask",
    "werkzeug",
    "jinja2",
    "sqlalchemy",
    "sqlmodel",
    "twilio",
    "rq",
    "redis",
    "gunicorn",
    "psycopg",
)


def machine() -> dict:
    """CPU, Python, package versions, wrk, the code measured and the date."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    spec = importlib.util.find_spec("hotline")
    code = Path(spec.origin).parent if spec and spec.origin else None
    if code is not None and ROOT not in code.parents:
        # PYTHONPATH put another copy of the app first (README: "Measuring a commit").
        commit = os.environ.get("HOTLINE_BENCH_COMMIT", f"not {commit}'s working tree")
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "sqlite": sqlite3.sqlite_version,
        "wrk": (wrk.stdout + wrk.stderr).splitlines()[0] if wrk.returncode in (0, 1) else None,
        "commit": commit,
        "hotline_code": str(code) if code else None,
    }


def _ms(value) -> str:
    return "-" if value is None else f"{value:.1f}"


def _rate(figure: dict | None) -> str:
    if not figure:
        return ""
    return f"{figure.get('per_second', 0):.0f}/s"


def table(database: str, rows: list, memory: dict) -> str:
    """The rows as a Markdown table (the same text goes into benchmarks/README.md)."""
    lines = [
        f"**{database}**",
        "",
        "| case | ceiling | ceiling | figure | p50 ms | p99 ms | errors | ratio | target | met |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in rows:
        figure = row.figure
        met = {True: "yes", False: "**no**", None: ""}[row.met]
        ratio = "" if row.ratio is None else f"{100 * row.ratio:.0f} %"
        lines.append(
            f"| {row.case} | {row.ceiling} | {_rate(row.ceiling_figure)} | {_rate(figure)} | "
            f"{_ms(figure.get('p50_ms'))} | {_ms(figure.get('p99_ms'))} | "
            f"{figure.get('errors', 0)} | {ratio} | {row.target} | {met} |"
        )
    notes = [f"- {row.case}: {row.note}" for row in rows if row.note]
    if memory:
        web = ", ".join(f"{value:.0f}" for value in memory.get("web_worker_rss_mb", []))
        workers = ", ".join(f"{value:.0f}" for value in memory.get("worker_rss_mb", []))
        notes.append(
            f"- memory after the run (RSS, MB): web workers {web or '-'}; "
            f"hotline workers {workers or '-'}"
        )
    return "\n".join(lines + [""] + notes)


def save(run: dict, path: Path | None = None) -> Path:
    """Write the run as JSON (benchmarks/results/<date>-<database>.json by default)."""
    if path is None:
        RESULTS.mkdir(exist_ok=True)
        stamp = run["machine"]["date"].replace(":", "").replace("+0000", "Z")
        kind = "-quick" if run["quick"] else ""
        path = RESULTS / f"{stamp}-{'-'.join(run['databases'])}{kind}.json"
    path.write_text(json.dumps(run, indent=2, default=str) + "\n")
    return path


def as_dict(row) -> dict:
    """A table row as JSON."""
    return dataclasses.asdict(row)
