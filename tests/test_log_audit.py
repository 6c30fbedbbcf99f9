"""The whole-run log audit finds numbers however they are written, and not in rq's job ids."""

import pytest

from tests.log_audit import phone_numbers_in


@pytest.mark.parametrize(
    "line",
    [
        "calling 0470 12 34 56 now",
        "to=%2B32470123456",
        "number 016.23.45.67 (home)",
        "job (0470123456)",
    ],
)
def test_a_number_written_any_way_is_found(line):
    assert phone_numbers_in(line)


@pytest.mark.parametrize(
    "line",
    [
        # rq logs a job's call, then its uuid4 id: the 0 before ") (" is no area code.
        "rq.worker INFO default: hotline.retention.daily_purge(purge_run_id=1, step=0) "
        "(55630640-d942-4e73-a57f-c1dcd1ab595a)",
        "Worker 2f64c189a6474d02a3b8fa0962807796: started",
    ],
)
def test_rq_job_ids_are_not_numbers(line):
    assert phone_numbers_in(line) == []
