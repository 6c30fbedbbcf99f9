"""Placeholder: suggested volunteers and assignment (being built, see issue 4)."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("assignments", __name__)
