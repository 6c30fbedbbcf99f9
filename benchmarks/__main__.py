"""``python -m benchmarks``: seed, serve, drive, compare with the ceilings, print, save."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import traceback
from pathlib import Path

from benchmarks import cases, report
from benchmarks.load import wrk_path
from benchmarks.servers import Environment
from benchmarks.twilio_standin import ACCOUNT_SID, AUTH_TOKEN, start_standin


def run_database(database: str, sizes: cases.Sizes, only: list[str], keep: bool) -> dict:
    """Every chosen case on one database; returns its rows, memory and timings."""
    started = time.monotonic()
    standin_url, counts, stop_standin = start_standin()
    env = Environment.create(
        database, twilio_api_base_url=standin_url, account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN
    )
    timings: dict[str, float] = {}
    try:
        print(
            f"[{database}] seeding {sizes.requests:,} requests, {sizes.volunteers:,} "
            f"volunteers ...",
            flush=True,
        )
        seeded = env.seed(
            "base",
            "--requests",
            str(sizes.requests),
            "--volunteers",
            str(sizes.volunteers),
            "--callers",
            str(sizes.callers),
        )
        timings["seeding"] = seeded["seconds"]
        web, ceilings = env.start_web(), env.start_ceilings()
        run = cases.Run(
            env=env, web=web, ceilings=ceilings, seeded=seeded, sizes=sizes, token=AUTH_TOKEN
        )
        run.browser = cases.login(run)
        steps = {
            "new_call": cases.case_new_call,
            "step": cases.case_step,
            "intake": cases.case_intake,
            "queue": cases.case_queue,
            "suggestions": cases.case_suggestions,
            "calls": cases.case_calls,
        }
        for name, case in steps.items():
            if name in only:
                _run_case(database, name, lambda case=case: case(run), run, timings)
        cases.web_memory(run)
        web.stop()
        ceilings.stop()
        if "sms" in only:
            _run_case(database, "sms", lambda: cases.case_sms(run, counts), run, timings)
    finally:
        env.close(keep=keep)
        stop_standin()
    timings["total"] = round(time.monotonic() - started, 1)
    return {
        "database": database,
        "rows": [report.as_dict(row) for row in run.rows],
        "memory": run.memory,
        "timings": timings,
        "table": report.table(database, run.rows, run.memory),
    }


def _run_case(database: str, name: str, case, run: cases.Run, timings: dict) -> None:
    """Run one case; a case that fails is a row saying so, and the others still run."""
    print(f"[{database}] {name} ...", flush=True)
    began = time.monotonic()
    try:
        case()
    except Exception as error:  # one broken case must not cost the run's other figures
        traceback.print_exc()
        run.rows.append(
            cases.Row(
                f"{name}: FAILED",
                "",
                {"errors": 1},
                met=False,
                note=f"{type(error).__name__}: {str(error)[:300]}",
            )
        )
    timings[name] = round(time.monotonic() - began, 1)


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run the databases asked for, print the tables, save the JSON."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Every case of benchmarks/README.md next to its ceiling, same run.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes and 1 s per measurement: every case runs (for CI)",
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument(
        "--only",
        action="append",
        choices=cases.CASES,
        metavar="CASE",
        help=f"run only this case (repeatable): {', '.join(cases.CASES)}",
    )
    parser.add_argument(
        "--json",
        type=Path,
        help="write the run here (default: benchmarks/results/<date>-<database>.json)",
    )
    parser.add_argument(
        "--texts", type=int, help="assignment SMS per worker count (default: 10,000; --quick: 100)"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the run's folder (server and worker logs)"
    )
    options = parser.parse_args(argv)
    if wrk_path() is None:
        print("wrk is not installed (Debian: apt-get install -y wrk)", file=sys.stderr)
        return 2
    sizes = cases.QUICK if options.quick else cases.FULL
    if options.texts:
        sizes = dataclasses.replace(sizes, texts=options.texts)
    databases = ["sqlite", "postgresql"] if options.database == "both" else [options.database]
    started = time.monotonic()
    machine = report.machine()
    results = [
        run_database(db, sizes, options.only or list(cases.CASES), options.keep) for db in databases
    ]
    seconds = round(time.monotonic() - started, 1)
    print()
    for result in results:
        print(result["table"])
        print(f"\n(timings, s: {result['timings']})\n")
    print(
        f"{machine['cpu']}, {machine['cores']} cores; Python {machine['python']}; "
        f"{'quick' if options.quick else 'full'} run in {seconds:.0f} s"
    )
    path = report.save(
        {
            "machine": machine,
            "quick": options.quick,
            "databases": databases,
            "sizes": sizes.__dict__,
            "seconds": seconds,
            "results": results,
        },
        options.json,
    )
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
