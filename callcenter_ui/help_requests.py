"""Placeholder while being built."""

from __future__ import annotations

from flask import Blueprint, render_template

blueprint = Blueprint("requests", __name__, url_prefix="/requests")


@blueprint.get("/")
def queue() -> str:
    return render_template("base.html")


@blueprint.get("/call-backs")
def callbacks() -> str:
    return render_template("base.html")


@blueprint.get("/new")
def new() -> str:
    return render_template("base.html")


@blueprint.get("/<int:request_id>")
def detail(request_id: int) -> str:
    return render_template("base.html")
