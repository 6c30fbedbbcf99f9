"""What the JSON API accepts: the bounds and values its handlers (callcenter_ui.api) check
and its OpenAPI document (callcenter_ui.openapi) states, in one place both import."""

from __future__ import annotations

import re

from hotline.models import RequestStatus

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_REASON_LENGTH = 1000
MAX_TEXT_ARG = 100  # a filter's value: a postcode, a language, a line's slug
MAX_LIST_ARG = 50  # values in one list filter
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
REQUEST_SOURCES = ("ivr", "live", "callback")
ASSIGNMENT_STATUSES = ("offered", "accepted", "declined", "done", "cancelled")
OPEN_ASSIGNMENT_STATUSES = ("offered", "accepted")
# "assigned" and "accepted" follow from an assignment and the volunteer's answer;
# setting them by hand would claim a volunteer nobody asked.
SETTABLE_STATUSES = (RequestStatus.TRIAGED, RequestStatus.DONE, RequestStatus.CANCELLED)
