"""Retention: personal data goes away on time; the statistics keep adding up.

Per line (``[lines.<slug>.retention]``): ``contact_days`` after a request was closed (done
or cancelled) its personal parts are removed: the caller's hash and vault pointer, the
message, notes, transcript and cancel reason, the recording (deleted at the provider
too), the bodies of the SMS about it and Twilio's ids of its calls and texts, the IVR state
of its calls, the reason and link of a block made from it, and the free text in its audit
entries. The row itself stays, with line, reference, category, area, urgency, language,
status and timestamps: every figure of ``hotline.statistics`` and ``hotline.overview``
counts it as before. ``volunteer_days`` after a volunteer left (deactivated) their name and
number go; their assignments stay, anonymous. A volunteer lead (someone who phoned to offer
help) goes ``volunteer_days`` after the call. A vault entry is deleted once no row uses it.

The parts:

- ``due``: which rows are due, as SQL conditions; ``plan``: what a purge would remove;
- ``anonymise``: removing the personal parts of rows; ``recordings``: at the provider;
- ``purging``: the purge, in batches and within a time budget;
- ``forget``: "forget this resident", at once, and the job that finishes it;
- ``daily``: the nightly run per line (scheduling, and its rq job in claimed steps);
- ``housekeeping``: SQLite's freed pages and write-ahead log; ``cli``: ``hotline purge``.
"""

from hotline.retention.counts import Removed
from hotline.retention.daily import DAILY_PURGE_JOB, daily_purge, schedule_daily_purges
from hotline.retention.due import RetentionError
from hotline.retention.forget import (
    ForgetReport,
    finish_forgetting,
    forget_resident,
    residents_requests,
)
from hotline.retention.plan import plan_purge
from hotline.retention.purging import PurgeReport, purge
from hotline.retention.recordings import delete_recordings

__all__ = [
    "DAILY_PURGE_JOB",
    "ForgetReport",
    "PurgeReport",
    "Removed",
    "RetentionError",
    "daily_purge",
    "delete_recordings",
    "finish_forgetting",
    "forget_resident",
    "plan_purge",
    "purge",
    "residents_requests",
    "schedule_daily_purges",
]
