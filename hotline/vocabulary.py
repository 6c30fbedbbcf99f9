"""The words a request is described with, shared by the IVR data, triage and volunteers."""

from __future__ import annotations

# The categories the Leuven flow sets (ivr_flows/leuven.toml, `set.category`).
CATEGORIES = ("groceries", "meal", "errand", "dog", "talk", "other")
URGENCIES = ("today", "coming_days")
LANGUAGES = ("nl", "fr", "en")
