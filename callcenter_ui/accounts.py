"""Placeholder while being built."""

from __future__ import annotations

from flask import Blueprint, render_template

blueprint = Blueprint("accounts", __name__, url_prefix="/accounts")


@blueprint.get("/")
def index() -> str:
    return render_template("base.html")


@blueprint.get("/me")
def profile() -> str:
    return render_template("base.html")
