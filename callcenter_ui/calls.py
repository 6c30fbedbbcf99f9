"""Placeholder: call-back bridging and recordings (being built, see issue 4)."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("calls", __name__)
