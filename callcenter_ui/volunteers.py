"""Placeholder: being built (see issue 4)."""

from __future__ import annotations

from flask import Blueprint, render_template

blueprint = Blueprint("volunteers", __name__, url_prefix="/volunteers")


@blueprint.get("/")
def index() -> str:
    """Placeholder page."""
    return render_template("base.html")
