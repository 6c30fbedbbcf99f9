"""Placeholder: the JSON API under /api/v1 (being built, see issue 4)."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
