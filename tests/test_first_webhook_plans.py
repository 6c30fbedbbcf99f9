"""Every call's first webhook asks the database only questions an index answers in full.

At 100,000 requests SQLite's planner, given one-column indexes, answered "has this caller
a request in hand?" by reading every request of the line (33 ms a call; 19 new calls a
second in the benchmark). The plans are read on SQLite, whose planner chose that path.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.test_walking_skeleton import call_params, twiml

WHOLE_TABLE = (
    "SCAN help_request",
    "SCAN volunteer",
    "ix_help_request_line_id",
    "ix_volunteer_line_id",
)


def test_a_new_callers_first_webhook_reads_no_whole_line(app, twilio):
    engine = app.extensions["hotline.engine"]
    if engine.dialect.name != "sqlite":
        pytest.skip("the plans are SQLite's (PostgreSQL plans by its statistics)")
    statements: list[tuple[str, object]] = []

    def remember(connection, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", remember)
    try:
        twiml(twilio.post("/twilio/voice", call_params(CallStatus="ringing")))
    finally:
        sa.event.remove(engine, "before_cursor_execute", remember)

    asked = [each for each in statements if "help_request" in each[0] or "volunteer" in each[0]]
    assert asked, "the first webhook no longer asks who is calling: update this test"
    with engine.connect() as connection:
        for statement, parameters in asked:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            steps = " | ".join(row[-1] for row in plan)
            assert not any(path in steps for path in WHOLE_TABLE), (statement, steps)
