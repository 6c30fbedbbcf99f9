"""The benchmark suite runs: ``python -m benchmarks --quick`` on SQLite gives every case figures.

Speed is not checked here (benchmarks/README.md is where figures live); only that each
case and its ceiling were measured, without errors, so the suite cannot rot unnoticed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CASES = ("new call", "IVR menu step", "completed intake", "queue page", "queue refresh",
         "request page with suggestions", "simultaneous calls", "assignment SMS")  # fmt: skip

pytestmark = pytest.mark.slow


def test_every_benchmark_case_runs_and_is_measured(tmp_path):
    if shutil.which("wrk") is None:
        if os.environ.get("CI"):
            pytest.fail("wrk is missing; CI installs it (apt-get install -y wrk)")
        pytest.skip("wrk is not installed (apt-get install -y wrk): the benchmarks need it")
    result_file = tmp_path / "quick.json"
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOTLINE_")}
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--database", "sqlite",
         "--json", str(result_file)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = json.loads(result_file.read_text())
    assert run["quick"] is True and run["machine"]["cpu"]
    (result,) = run["results"]
    rows = result["rows"]
    for case in CASES:
        found = [row for row in rows if row["case"].startswith(case) or case in row["case"]]
        assert found, f"no figures for {case!r}"
        for row in found:
            figure = row["figure"]
            measured = figure.get("requests") or figure.get("webhooks") or figure.get("finished")
            assert measured, f"{row['case']}: nothing measured: {figure}"
            assert figure["errors"] == 0, f"{row['case']}: {figure}"
            if row["ceiling"]:
                ceiling = row["ceiling_figure"]
                assert ceiling and ceiling["per_second"] > 0, f"{row['case']}: no ceiling"
                assert ceiling["errors"] == 0, f"{row['case']} ceiling: {ceiling}"
    memory = result["memory"]
    assert memory["web_worker_rss_mb"] and memory["worker_rss_mb"]
