"""The dashboard: how busy the line is, for every member of staff. Counts only, never people.

Also API access: staff make and revoke their own tokens for the JSON API here
(coordinators see and may revoke those of the accounts they manage).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, get_locale, ngettext
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlmodel import col, select
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from callcenter_ui.auth import current_principal
from callcenter_ui.formatting import duration
from hotline.access import policy
from hotline.access.api_tokens import (
    MAX_NAME_LENGTH,
    TokenError,
    create_token,
    revoke_token,
)
from hotline.config import LineSettings, Settings
from hotline.db import get_session, line_row
from hotline.messaging.conversation import attention_counts
from hotline.models import ApiToken, Operator, utcnow
from hotline.outbox import pending_count
from hotline.overview import dashboard
from hotline.queue import failed_job_counts, get_redis
from hotline.statistics import DayCount

blueprint = Blueprint("dashboard", __name__, url_prefix="/dashboard")
REFRESH_SECONDS = 60

# The bar chart's geometry, in SVG user units (the SVG scales to the card's width).
BAR_WIDTH, BAR_GAP, PLOT_HEIGHT, TOP, BOTTOM, LEFT = 36, 14, 150, 22, 40, 8


@dataclass(frozen=True)
class Bar:
    """One day's bar in the chart, with where to draw it and what to say about it."""

    x: float
    y: float
    height: float
    count: int
    weekday: str
    date: str
    title: str
    today: bool


@dataclass(frozen=True)
class BarChart:
    """A server-rendered bar chart: its size, its bars and a sentence that sums it up."""

    width: int
    height: int
    bar_width: int
    baseline: float
    bars: list[Bar]
    summary: str


def bar_chart(days: list[DayCount]) -> BarChart:
    """Lay out one bar per day, scaled to the busiest day (empty days stay visible as 0)."""
    tallest = max((day.count for day in days), default=0) or 1
    bars = []
    for index, day in enumerate(days):
        height = PLOT_HEIGHT * day.count / tallest
        full_date = format_date(day.day, "full")
        bars.append(
            Bar(
                x=LEFT + index * (BAR_WIDTH + BAR_GAP),
                y=TOP + PLOT_HEIGHT - height,
                height=height,
                count=day.count,
                weekday=format_date(day.day, "EEE"),
                date=format_date(day.day, "d/M"),
                title=ngettext(
                    "%(date)s: %(num)d request",
                    "%(date)s: %(num)d requests",
                    day.count,
                    date=full_date,
                ),
                today=index == len(days) - 1,
            )
        )
    total = sum(day.count for day in days)
    busiest = max(days, key=lambda day: day.count, default=None)
    summary = ngettext(
        "%(num)d request in the last %(days)d days.",
        "%(num)d requests in the last %(days)d days.",
        total,
        days=len(days),
    )
    if busiest is not None and busiest.count:
        summary += " " + _(
            "Busiest day: %(date)s (%(count)d).",
            date=format_date(busiest.day, "full"),
            count=busiest.count,
        )
    return BarChart(
        width=LEFT * 2 + len(days) * (BAR_WIDTH + BAR_GAP) - BAR_GAP,
        height=TOP + PLOT_HEIGHT + BOTTOM,
        bar_width=BAR_WIDTH,
        baseline=TOP + PLOT_HEIGHT,
        bars=bars,
        summary=summary,
    )


def _chosen_line(settings: Settings) -> LineSettings:
    # Only the account's own lines: another line's figures look like an unknown line's.
    visible = policy.own_lines(current_principal(), settings.lines)
    slug = request.args.get("line") or (visible[0] if visible else None)
    if slug not in visible:
        abort(404)
    return settings.lines[slug]


@blueprint.get("/")
def index() -> str:
    """The dashboard page; htmx asks for the figures alone again every minute."""
    settings: Settings = current_app.extensions["hotline.settings"]
    line = _chosen_line(settings)
    session = get_session()
    now = utcnow()
    line_id = line_row(session, settings, line.slug).id
    figures = dashboard(session, now=now, timezone=line.timezone, line_id=line_id)
    template = (
        "dashboard/_figures.html" if request.headers.get("HX-Request") else "dashboard/index.html"
    )
    return render_template(
        template,
        figures=figures,
        attention=attention_counts(session, line_id=line_id),
        stuck=_stuck_work(session),
        chart=bar_chart(figures.per_day),
        updated_at=now.astimezone(ZoneInfo(line.timezone)).strftime("%H:%M"),
        line=line,
        lines=[
            settings.lines[slug] for slug in policy.own_lines(current_principal(), settings.lines)
        ],
        duration=duration,
        refresh_seconds=REFRESH_SECONDS,
    )


def _stuck_work(session) -> dict:
    """Work the system could not do by itself, so that operators see it and act."""
    try:
        failed = failed_job_counts(get_redis())
    except Exception:  # Redis away: say so rather than break the dashboard
        failed = None
    return {"failed": failed, "waiting": pending_count(session)}


# --- API access ---------------------------------------------------------------------------


class NewTokenForm(FlaskForm):
    name = StringField(validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)])


class RevokeTokenForm(FlaskForm):
    """Only the CSRF token: revoking is a POST from a button."""


def _local_time(moment: datetime | None) -> str:
    """A moment in the (first) line's timezone, as staff read it; '–' for never."""
    if moment is None:
        return "–"
    settings: Settings = current_app.extensions["hotline.settings"]
    zone = ZoneInfo(next(iter(settings.lines.values())).timezone)
    return babel_dates.format_datetime(moment, "short", tzinfo=zone, locale=get_locale())


def _tokens_page(form: NewTokenForm, new_token: str | None = None, status: int = 200):
    session = get_session()
    settings: Settings = current_app.extensions["hotline.settings"]
    principal = current_principal()
    shown = select(ApiToken).where(policy.token_filter(session, principal))
    tokens = list(
        session.exec(shown.order_by(col(ApiToken.created_at).desc(), col(ApiToken.id).desc()))
    )
    owners = {token.operator_id for token in tokens}
    accounts = session.exec(select(Operator).where(col(Operator.id).in_(owners))).all()
    usernames = {account.id: account.username for account in accounts}
    response = make_response(
        render_template(
            "dashboard/api_tokens.html",
            form=form,
            revoke_form=RevokeTokenForm(),
            tokens=tokens,
            usernames=usernames,
            # A token sees what its account sees: the lines say how far that reaches.
            token_lines={account.id: list(account.lines or []) for account in accounts},
            new_token=new_token,
            api_base=settings.public_base_url.rstrip("/") + "/api/v1",
            local_time=_local_time,
        ),
        status,
    )
    # The page may show a token's secret: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.route("/api-tokens", methods=["GET", "POST"])
def api_tokens():
    """Your API tokens (coordinators: also their accounts') and a form to make one; its
    secret shows once."""
    form = NewTokenForm()
    if form.validate_on_submit():
        session = get_session()
        try:
            raw = create_token(
                session,
                operator_id=current_user.id,
                name=form.name.data,
                created_by=current_user.id,
            )
        except TokenError as error:
            session.rollback()
            form.name.errors = [str(error)]
            return _tokens_page(form, status=400)
        # Shown in this response only, never flashed: the session cookie is signed, not secret.
        return _tokens_page(NewTokenForm(formdata=None), new_token=raw, status=201)
    return _tokens_page(form, status=400 if form.is_submitted() else 200)


@blueprint.post("/api-tokens/<int:token_id>/revoke")
def revoke_api_token(token_id: int):
    """Revoke one of your tokens (coordinators: one of their accounts')."""
    session = get_session()
    token = session.get(ApiToken, token_id)
    owner = session.get(Operator, token.operator_id) if token is not None else None
    policy.check_token(current_principal(), token, owner)  # another line's: 404; others': 403
    if not RevokeTokenForm().validate_on_submit():
        abort(400)
    revoke_token(session, token_id=token.id, revoked_by=current_user.id)
    flash(_("The token “%(name)s” no longer works.", name=token.name), "ok")
    return redirect(url_for("dashboard.api_tokens"))
