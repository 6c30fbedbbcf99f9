"""Calls an operator answered: a card on every staff page, kept fresh by htmx, with its form.

Every staff page polls ``GET /calls/taken`` with what it already shows (``seen``: one
token per card, such as ``12L,13E``). The answer is 204 when nothing changed; otherwise
it is htmx out-of-band swaps of only what changed: a new card, a card whose call ended
(its header and its button's label, never the form), a card to drop. An operator who
types notes while the caller talks never loses the text or the keyboard focus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.validators import Length

from callcenter_ui.auth import current_principal
from callcenter_ui.help_requests import set_request_choices
from hotline import vocabulary
from hotline.access import policy
from hotline.config import LineSettings
from hotline.db import get_session
from hotline.models import CallSession, HelpRequest, Line, Operator
from hotline.voice import live_calls
from hotline.voice.live_calls import LiveCall

blueprint = Blueprint("live_calls", __name__, url_prefix="/calls")
# What a freshly loaded page has seen: nothing yet, and nothing to announce either.
FIRST_LOAD = "-"
# ASCII digits, and few: int() refuses a number of more than 4,300 digits (a 500).
TOKEN = re.compile(r"([0-9]{1,10})([LE])(R?)")


class LoggedCallForm(FlaskForm):
    """The short form of a call's card, filled in with what the phone menu collected."""

    # Every field may stay blank ("—"): triage can complete the request later.
    language = SelectField(default="")
    category = SelectField(default="")
    postcode = SelectField(default="")
    urgency = SelectField(default="")
    notes = TextAreaField(validators=[Length(max=4000)])


@dataclass
class Card:
    """One call's card: the call, its line and (until it is logged) its form."""

    call: LiveCall
    line: LineSettings
    form: LoggedCallForm | None


@dataclass
class Changes:
    """What a page must change to show the operator's calls as they are now."""

    added: list[Card] = field(default_factory=list)
    ended: list[Card] = field(default_factory=list)  # live -> taken, not logged
    replaced: list[Card] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.ended or self.replaced or self.removed)


def token(call: LiveCall) -> str:
    """A call's state as the page remembers it: id, Live or Ended, and R once it has a request."""
    return f"{call.id}{'L' if call.live else 'E'}{'R' if call.help_request else ''}"


def parse_seen(seen: str) -> dict[int, str]:
    """The tokens a page sent back; anything malformed is ignored (it only costs a redraw)."""
    tokens = (TOKEN.fullmatch(part.strip()) for part in seen.split(","))
    return {int(match.group(1)): match.group(0) for match in tokens if match}


def call_form(call: LiveCall | CallSession, line: LineSettings, formdata=None) -> LoggedCallForm:
    """The form of a call's card: pre-filled from the phone menu, or what was posted."""
    prefill = None
    if formdata is None and isinstance(call, LiveCall):
        prefill = {
            "language": call.language or "",
            "category": call.category or "",
            "postcode": call.postcode or "",
            "urgency": call.urgency or "",
        }
    form = LoggedCallForm(formdata=formdata, data=prefill)
    return set_request_choices(form, line, languages=line.languages)


def _line(slug: str) -> LineSettings:
    """A call's line settings (the first line's if it is no longer configured)."""
    lines = current_app.extensions["hotline.settings"].lines
    return lines.get(slug) or next(iter(lines.values()))


def _card(call: LiveCall) -> Card:
    line = _line(call.line_slug)
    return Card(call, line, None if call.help_request else call_form(call, line))


def changes(calls: list[LiveCall], seen: dict[int, str]) -> Changes:
    """Compare the calls now with the tokens a page has seen."""
    now_ids = {call.id for call in calls}
    result = Changes(removed=[call_id for call_id in seen if call_id not in now_ids])
    for call in calls:
        was, now = seen.get(call.id), token(call)
        if was is None:
            result.added.append(_card(call))
        elif was != now:
            only_ended = was == f"{call.id}L" and now == f"{call.id}E"
            (result.ended if only_ended else result.replaced).append(_card(call))
    return result


def announcement(found: Changes) -> str:
    """What a screen reader says about new calls and calls that ended unlogged."""
    labels = vocabulary.all_words()
    said = []
    for card in found.added:
        call = card.call
        if call.live:
            area = call.postcode and f"{call.postcode} {card.line.postcodes.get(call.postcode, '')}"
            facts = [labels.get(call.language), labels.get(call.category), area,
                     labels.get(call.urgency)]  # fmt: skip
            said.append(_("Live call: %(facts)s.", facts=", ".join(f.strip() for f in facts if f)))
        elif not call.help_request:
            said.append(_("Call taken, not logged."))
    if found.ended:
        said.append(_("The call has ended and is not logged yet."))
    return " ".join(said)


def _operator() -> Operator:
    return get_session().get(Operator, current_user.id)


def _updates(seen: str, news: str = "") -> Response:
    """The page's changes as out-of-band swaps; 204 when it shows the calls as they are."""
    calls = live_calls.calls_taken(get_session(), operator=_operator())
    first_load = seen == FIRST_LOAD
    found = changes(calls, {} if first_load else parse_seen(seen))
    if not (found or news or first_load):
        return Response(status=204)
    if not first_load:
        news = " ".join(text for text in (announcement(found), news) if text)
    return make_response(
        render_template(
            "live_calls/_updates.html",
            changes=found,
            seen=",".join(token(call) for call in calls),
            news=news,
        )
    )


def _is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def _go(url: str) -> Response:
    """To another page: htmx follows HX-Redirect, a plain form post a 302."""
    if _is_htmx():
        response = make_response("", 200)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url)


def _taken_call(call_id: int) -> CallSession:
    session = get_session()
    policy.check_call(current_principal(), session.get(CallSession, call_id))
    try:
        return live_calls.taken_call(session, call_id=call_id, operator=_operator())
    except live_calls.NotYourCall:
        abort(404)


def _already_logged(call: CallSession) -> Response:
    help_request = get_session().get(HelpRequest, call.help_request_id)
    reference = help_request.reference
    flash(_("This call was already saved as request %(reference)s.", reference=reference), "error")
    return _go(url_for("requests.detail", request_id=help_request.id))


@blueprint.get("/taken")
def taken() -> Response:
    """What changed among the calls this operator answered (polled every 2 seconds)."""
    return _updates(request.args.get("seen", FIRST_LOAD))


@blueprint.post("/<int:call_id>/log")
def log(call_id: int) -> Response:
    """Save the request of a call the operator took; its caller's number is linked, never shown."""
    session = get_session()
    call = _taken_call(call_id)
    if call.help_request_id is not None:
        return _already_logged(call)
    form = call_form(call, _line(session.get(Line, call.line_id).slug), formdata=request.form)
    if not form.validate_on_submit():
        if _is_htmx():
            marked = render_template(
                "live_calls/_form.html",
                call_id=call.id,
                live=call.ended_at is None,
                form=form,
                invalid=True,
            )
            return make_response(marked, 422)
        flash(_("Please correct the marked fields."), "error")
        return redirect(url_for("requests.queue"))
    try:
        help_request = live_calls.log_call(
            session,
            call_id=call.id,
            operator=_operator(),
            language=form.language.data,
            category=form.category.data,
            postcode=form.postcode.data,
            urgency=form.urgency.data,
            notes=(form.notes.data or "").strip(),  # log_call hides phone numbers
        )
    except live_calls.AlreadyLogged:
        session.rollback()
        return _already_logged(session.get(CallSession, call_id))
    flash(_("Request %(reference)s saved.", reference=help_request.reference), "ok")
    return _go(url_for("requests.detail", request_id=help_request.id))


@blueprint.post("/<int:call_id>/dismiss")
def dismiss(call_id: int) -> Response:
    """Drop a call taken but not logged (a wrong number, a caller who hung up at once)."""
    session = get_session()
    call = _taken_call(call_id)
    try:
        live_calls.dismiss_call(session, call_id=call.id, operator=_operator())
    except live_calls.AlreadyLogged:
        return _already_logged(call)
    except live_calls.StillOnTheLine:
        flash(_("The caller is still on the line: save the request instead."), "error")
        return _go(url_for("requests.queue"))
    if _is_htmx():
        return _updates(request.form.get("seen", ""), news=_("Call dismissed."))
    flash(_("Call dismissed."), "ok")
    return redirect(url_for("requests.queue"))
