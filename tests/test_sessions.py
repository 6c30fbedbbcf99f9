"""Staff sessions end: at logout, a password change, deactivation, "log out everywhere",
after idleness and at a maximum age; a saved cookie is worth nothing afterwards."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from hotline.config import ConfigError, load_settings
from hotline.models import Operator, StaffSession, utcnow
from tests.conftest import STAFF_PASSWORD, StaffClient


def _sessions(app, username: str) -> list[StaffSession]:
    with Session(app.extensions["hotline.engine"]) as db:
        operator = db.exec(select(Operator).where(Operator.username == username)).one()
        return list(db.exec(select(StaffSession).where(StaffSession.operator_id == operator.id)))


def _age_sessions(app, username: str, **ago: timedelta) -> None:
    """Move the account's sessions back in time (``created_at`` / ``last_seen_at``)."""
    with Session(app.extensions["hotline.engine"]) as db:
        operator = db.exec(select(Operator).where(Operator.username == username)).one()
        for row in db.exec(select(StaffSession).where(StaffSession.operator_id == operator.id)):
            for column, delta in ago.items():
                setattr(row, column, utcnow() - delta)
            db.add(row)
        db.commit()


def _stolen_copy(app, staff_client: StaffClient):
    """Another browser holding a copy of this one's session cookie."""
    thief = app.test_client()
    cookie = staff_client.client.get_cookie("session")
    thief.set_cookie(cookie.key, cookie.value)
    return thief


def _logged_in(client) -> bool:
    response = client.get("/requests/")
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


def test_a_cookie_saved_before_logout_opens_nothing_after_it(app, staff):
    olga = StaffClient(app, "olga")
    thief = _stolen_copy(app, olga)
    assert _logged_in(thief)  # the copy works while the session lives

    assert olga.post("/logout").status_code == 302

    assert not _logged_in(thief)
    assert not _logged_in(olga.client)
    [ended] = _sessions(app, "olga")
    assert ended.ended_reason == "logout"


def test_logging_out_in_one_browser_leaves_the_other_logged_in(app, staff):
    at_the_desk, at_home = StaffClient(app, "olga"), StaffClient(app, "olga")
    at_home.post("/logout")
    assert _logged_in(at_the_desk.client)


def test_the_database_keeps_only_a_hash_of_the_session_secret(app, staff):
    olga = StaffClient(app, "olga")
    with olga.client.session_transaction() as cookie_session:
        secret = cookie_session["hotline_sid"]
    [row] = _sessions(app, "olga")
    assert secret not in row.token_hash and len(row.token_hash) == 64


def test_a_new_password_ends_the_other_sessions_but_not_the_one_that_chose_it(app, staff):
    at_the_desk, forgotten_laptop = StaffClient(app, "olga"), StaffClient(app, "olga")

    response = at_the_desk.post(
        "/accounts/me",
        data={
            "display_name": "Olga Peeters",
            "locale": "en",
            "new_password": "a much better passphrase",
            "current_password": STAFF_PASSWORD,
        },
    )

    assert response.status_code == 302
    assert _logged_in(at_the_desk.client)
    assert not _logged_in(forgotten_laptop.client)
    reasons = sorted(str(row.ended_reason) for row in _sessions(app, "olga"))
    assert reasons == ["None", "password_changed"]


def test_a_new_password_needs_the_current_one(app, staff):
    olga, other_browser = StaffClient(app, "olga"), StaffClient(app, "olga")

    response = olga.post(
        "/accounts/me",
        data={
            "display_name": "Olga Peeters",
            "locale": "en",
            "new_password": "a much better passphrase",
            "current_password": "a wild guess",
        },
    )

    assert response.status_code == 400
    assert "Type your current password to choose a new one." in response.get_data(as_text=True)
    assert _logged_in(other_browser.client)
    StaffClient(app, "olga")  # the old password still works


def test_deactivating_an_account_ends_its_sessions_and_reactivating_does_not_revive_them(
    app, staff, coordinator
):
    olga = StaffClient(app, "olga")
    thief = _stolen_copy(app, olga)

    coordinator.post(f"/accounts/{staff['olga']}", data={"role": "operator"})  # active unticked
    assert not _logged_in(olga.client)
    coordinator.post(f"/accounts/{staff['olga']}", data={"role": "operator", "active": "y"})

    assert not _logged_in(olga.client)
    assert not _logged_in(thief)
    assert {row.ended_reason for row in _sessions(app, "olga")} == {"deactivated"}
    StaffClient(app, "olga")  # she herself logs in again


def test_log_out_everywhere_ends_every_browser_including_this_one(app, staff):
    at_the_desk, at_home = StaffClient(app, "olga"), StaffClient(app, "olga")
    page = at_the_desk.get("/accounts/me").get_data(as_text=True)
    assert "You are logged in in 2 browsers." in page

    response = at_the_desk.post("/logout/everywhere")

    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert not _logged_in(at_the_desk.client)
    assert not _logged_in(at_home.client)


def test_log_out_everywhere_needs_a_csrf_token(app, staff):
    olga = StaffClient(app, "olga")
    assert olga.post("/logout/everywhere", data={"csrf_token": None}).status_code == 400
    assert _logged_in(olga.client)


@pytest.mark.parametrize(
    ("aged", "reason"),
    [
        # idle for longer than the idle timeout
        ({"last_seen_at": timedelta(hours=2, minutes=1)}, "idle"),
        # older than the maximum age, however active
        ({"created_at": timedelta(hours=12, minutes=1)}, "expired"),
    ],
)
def test_a_session_left_idle_or_too_old_ends(app, staff, aged, reason):
    olga = StaffClient(app, "olga")
    _age_sessions(app, "olga", **aged)

    assert not _logged_in(olga.client)
    [row] = _sessions(app, "olga")
    assert row.ended_reason == reason


def test_a_page_refreshing_itself_keeps_no_session_alive_but_a_click_does(app, staff):
    olga = StaffClient(app, "olga")
    _age_sessions(app, "olga", last_seen_at=timedelta(minutes=90))
    [before] = _sessions(app, "olga")

    background = olga.get("/requests/", headers={"X-Hotline-Background": "1"})
    assert background.status_code == 200
    [after_refresh] = _sessions(app, "olga")
    assert after_refresh.last_seen_at == before.last_seen_at

    assert _logged_in(olga.client)
    [after_click] = _sessions(app, "olga")
    assert utcnow() - after_click.last_seen_at < timedelta(minutes=1)


def test_the_timeouts_are_configurable(app_config, staff):
    from hotline import create_app

    app = create_app({**app_config, "session_idle_timeout": "15m", "session_max_age": "8h"})
    olga = StaffClient(app, "olga")
    _age_sessions(app, "olga", last_seen_at=timedelta(minutes=16))
    assert not _logged_in(olga.client)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"session_idle_timeout": "a while"}, "session_idle_timeout.*must be a duration"),
        ({"session_max_age": "0h"}, "session_max_age.*must be a duration"),
        (
            {"session_idle_timeout": "1d", "session_max_age": "12h"},
            "session_idle_timeout.*not be longer than session_max_age",
        ),
    ],
)
def test_a_timeout_that_makes_no_sense_is_refused_by_name(tmp_path, values, message):
    with pytest.raises(ConfigError, match=message):
        load_settings({"instance_path": str(tmp_path), **values}, environ={})


def test_a_page_refreshing_itself_after_the_session_ended_goes_to_the_login_page(app, staff):
    olga = StaffClient(app, "olga")
    olga.post("/logout")

    response = olga.get(
        "/requests/",
        headers={
            "HX-Request": "true",
            "X-Hotline-Background": "1",
            "HX-Current-URL": "http://localhost/requests/?status=new",
        },
    )

    assert response.status_code == 401  # not a 302 that htmx would paste into the table
    assert response.headers["HX-Redirect"] == "/login?next=/requests/?status%3Dnew"
    plain = olga.get("/volunteers/?q=mia")
    assert plain.status_code == 302
    assert plain.headers["Location"] == "/login?next=/volunteers/?q%3Dmia"


def test_every_self_refreshing_part_of_a_page_says_it_is_a_background_refresh():
    """Else an open queue would keep its session alive for ever (README, "Sessions")."""
    from pathlib import Path

    templates = Path(__file__).resolve().parent.parent / "callcenter_ui" / "templates"
    pollers = []
    for template in templates.rglob("*.html"):
        for element in re.findall(
            r"<[a-z]+[^>]*hx-trigger=\"[^\"]*every[^>]*>", template.read_text()
        ):
            pollers.append(template.name)
            assert """hx-headers='{"X-Hotline-Background": "1"}'""" in element, template
    assert len(pollers) >= 4
