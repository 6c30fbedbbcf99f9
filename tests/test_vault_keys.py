"""The vault key can be replaced without losing a number; every decryption is audited and
coordinators read that audit, for their own lines only."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet, MultiFernet
from sqlmodel import Session, select

from hotline.access.accounts import create_operator
from hotline.cli import cli
from hotline.config import ConfigError, Secrets, generate_secrets, load_settings
from hotline.db import line_row, make_engine
from hotline.models import AuditEvent, Contact, HelpRequest, Line
from hotline.privacy import (
    NUMBER_REVEALED,
    VaultKeyMissing,
    reveal_number,
    rotate_vault,
    store_contact,
)
from tests.conftest import STAFF_PASSWORD, StaffClient
from tests.volunteers_helpers import make_request, make_volunteer

pytest_plugins = ["tests.fake_twilio"]  # the fake_twilio fixture

OLD_KEY, NEW_KEY = Fernet.generate_key().decode(), Fernet.generate_key().decode()
BASE = generate_secrets()
NUMBERS = [f"+3247{n:07d}" for n in range(1, 8)]  # seven residents
MIA = "+32470111222"


def secrets(vault_key: str) -> Secrets:
    """The same pepper and Twilio credentials, with these vault keys."""
    return Secrets(**{**BASE, "vault_key": vault_key})


@pytest.fixture
def app_config(app_config, fake_twilio):
    return fake_twilio.configure(app_config)


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def vault_cli(tmp_path, monkeypatch, database_url, redis_url):
    """`hotline vault ...` run with HOTLINE_VAULT_KEY set to the given keys."""
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    monkeypatch.setenv("HOTLINE_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTLINE_REDIS_URL", redis_url)
    runner = CliRunner()

    def run(vault_key: str, *args: str):
        monkeypatch.setenv("HOTLINE_VAULT_KEY", vault_key)
        return runner.invoke(cli, ["vault", *args])

    return run


def residents_in_the_vault(engine, key: str) -> list[int]:
    with Session(engine) as session:
        ids = [store_contact(session, secrets(key), number).id for number in NUMBERS]
        session.commit()
    return ids


def read_all(engine, vault_key: str, ids: list[int]) -> list[str]:
    with Session(engine) as session:
        return [
            reveal_number(session, session.get(Contact, i), secrets(vault_key), reason="call_back")
            for i in ids
        ]


# -- the keys in the configuration -------------------------------------------------------------


def test_several_vault_keys_are_accepted_newest_first(tmp_path):
    settings = load_settings(
        {"instance_path": str(tmp_path)}, environ={"HOTLINE_VAULT_KEY": f"{NEW_KEY}, {OLD_KEY}"}
    )
    assert settings.secrets.vault_keys == (NEW_KEY, OLD_KEY)


def test_a_wrong_key_among_several_is_named_without_showing_it(tmp_path):
    wrong = "not-a-key-" + "x" * 20
    with pytest.raises(ConfigError) as refused:
        load_settings(
            {"instance_path": str(tmp_path)},
            environ={"HOTLINE_VAULT_KEY": f"{NEW_KEY},{OLD_KEY},{wrong}"},
        )
    message = str(refused.value)
    assert "HOTLINE_VAULT_KEY is not a Fernet key (key 3 of 3, newest first)" in message
    assert wrong not in message and OLD_KEY not in message


def test_the_same_key_twice_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="names the same key twice"):
        load_settings(
            {"instance_path": str(tmp_path)},
            environ={"HOTLINE_VAULT_KEY": f"{NEW_KEY},{NEW_KEY}"},
        )


# -- rotating ------------------------------------------------------------------------------------


def test_new_numbers_are_encrypted_with_the_newest_key_and_old_ones_stay_readable(engine):
    ids = residents_in_the_vault(engine, OLD_KEY)
    with Session(engine) as session:
        new = store_contact(session, secrets(f"{NEW_KEY},{OLD_KEY}"), "+32470999999")
        session.commit()
        Fernet(NEW_KEY.encode()).decrypt(new.encrypted_number.encode())  # the newest key's
    assert read_all(engine, f"{NEW_KEY},{OLD_KEY}", ids) == NUMBERS


def test_after_rotating_the_old_key_can_be_removed_and_every_number_is_still_readable(
    engine, vault_cli
):
    ids = residents_in_the_vault(engine, OLD_KEY)

    before = vault_cli(f"{NEW_KEY},{OLD_KEY}", "check")
    assert before.exit_code == 0, before.output
    assert "newest key: 0 entries" in before.output
    assert "older key 2: 7 entries" in before.output
    assert "7 entries still need an older key" in before.output

    # Dropping the old key before rotating: refused readably, by the check and on use.
    too_early = vault_cli(NEW_KEY, "check")
    assert too_early.exit_code == 1
    assert "7 vault entries (ids 1, 2, 3, 4, 5, 6, 7) cannot be decrypted" in too_early.output
    assert "Traceback" not in too_early.output
    with pytest.raises(VaultKeyMissing, match="removed before `hotline vault rotate`"):
        read_all(engine, NEW_KEY, ids[:1])

    rotated = vault_cli(f"{NEW_KEY},{OLD_KEY}", "rotate", "--batch-size", "3")
    assert rotated.exit_code == 0, rotated.output
    assert "re-encrypted 7 vault entries with the newest key; 0 already were" in rotated.output
    assert "the older keys can now be removed" in rotated.output

    again = vault_cli(f"{NEW_KEY},{OLD_KEY}", "rotate")
    assert "re-encrypted 0 vault entries with the newest key; 7 already were" in again.output

    after = vault_cli(NEW_KEY, "check")
    assert after.exit_code == 0, after.output
    assert "newest key: 7 entries" in after.output
    assert read_all(engine, NEW_KEY, ids) == NUMBERS
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "vault_rotated"))
        assert [e.detail["rotated"] for e in events] == [7, 0]


def test_a_rotation_that_stops_halfway_is_finished_by_running_it_again(engine, monkeypatch):
    ids = residents_in_the_vault(engine, OLD_KEY)
    both = secrets(f"{NEW_KEY},{OLD_KEY}")
    real_rotate, calls = MultiFernet.rotate, []

    def rotate_then_die(self, token):
        calls.append(token)
        if len(calls) == 5:  # in the second batch of three
            raise KeyboardInterrupt
        return real_rotate(self, token)

    monkeypatch.setattr(MultiFernet, "rotate", rotate_then_die)
    with Session(engine) as session, pytest.raises(KeyboardInterrupt):
        rotate_vault(session, both, batch_size=3)
    monkeypatch.setattr(MultiFernet, "rotate", real_rotate)

    with Session(engine) as session:
        finished = rotate_vault(session, both, batch_size=3)
    assert (finished.already_current, finished.rotated, finished.unreadable) == (3, 4, [])
    assert read_all(engine, NEW_KEY, ids) == NUMBERS


# -- every decryption is audited ------------------------------------------------------------------


def offer_mia(app, db_session, operator) -> tuple[HelpRequest, str]:
    """Olga offers a Leuven request to Mia in the UI; a real worker sends the SMS."""
    help_request = make_request(app, db_session)
    mia = make_volunteer(app, db_session, name="Mia Claes", mobile_number=MIA)
    response = operator.post(f"/requests/{help_request.id}/assign", {"volunteer_id": mia.id})
    assert response.status_code == 302
    flashed = operator.get(f"/requests/{help_request.id}").get_data(as_text=True)
    code = re.search(r"\(code (\d{4})\)", flashed).group(1)
    return help_request, code


def test_a_coordinator_reads_that_the_system_texted_a_volunteer_for_an_assignment(
    app, db_session, operator, coordinator, work, fake_twilio
):
    help_request, code = offer_mia(app, db_session, operator)
    assert work() is True
    assert [m.form["To"] for m in fake_twilio.messages] == [MIA]

    [event] = db_session.exec(select(AuditEvent).where(AuditEvent.action == NUMBER_REVEALED))
    assert event.detail["reason"] == "sms_to_volunteer"
    assert event.detail["job"] == "send_sms"
    assert event.detail["request"] == help_request.id
    assert "470111222" not in str(event.detail)

    page = coordinator.get("/audit/numbers")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    row = re.search(r"<tr>\s*<td>.*?</tr>", text, re.S).group()
    assert "Texted the volunteer" in row
    assert "Mia Claes" in row and f"assignment {code}" in row
    assert help_request.reference in row and "SMS job" in row
    assert "470111222" not in text
    assert 'href="/audit/numbers"' in coordinator.get("/requests/").get_data(as_text=True)


def test_an_operator_may_not_read_the_audit_of_numbers(operator):
    assert operator.get("/audit/numbers").status_code == 403
    assert 'href="/audit/numbers"' not in operator.get("/requests/").get_data(as_text=True)


def test_a_coordinator_of_another_line_sees_only_that_lines_decryptions(app, db_session, staff):
    settings = app.extensions["hotline.settings"]
    leuven = line_row(db_session, settings, "leuven")
    tienen = Line(slug="tienen", name="Tienen Helpt", phone_number="+3216800000")
    db_session.add(tienen)
    db_session.flush()
    for line, reference in ((leuven, "111111"), (tienen, "222222")):
        contact = store_contact(db_session, settings.secrets, "+32470555666")
        help_request = HelpRequest(line_id=line.id, reference=reference, contact_id=contact.id)
        db_session.add(help_request)
        db_session.flush()
        reveal_number(
            db_session,
            contact,
            settings.secrets,
            reason="call_back",
            line_id=line.id,
            help_request_id=help_request.id,
            operator_id=staff["olga"],
        )
    db_session.commit()
    with Session(app.extensions["hotline.engine"]) as session:
        create_operator(session, username="tine", display_name="Tine", password=STAFF_PASSWORD,
                        locale="en", role="coordinator", lines=["tienen"])  # fmt: skip
    tine = StaffClient(app, "tine")

    page = tine.get("/audit/numbers").get_data(as_text=True)
    assert "222222" in page and "Tienen Helpt" in page
    assert "Rang the resident for an operator&#39;s call-back" in page
    assert "111111" not in page

    everything = StaffClient(app, "cor").get("/audit/numbers").get_data(as_text=True)
    assert "111111" in everything and "222222" in everything


def test_the_audit_pages_newest_first_and_filters_by_reason(app, db_session, coordinator):
    settings = app.extensions["hotline.settings"]
    leuven = line_row(db_session, settings, "leuven")
    contact = store_contact(db_session, settings.secrets, "+32470555666")
    for index in range(60):
        help_request = HelpRequest(line_id=leuven.id, reference=f"{300000 + index}")
        db_session.add(help_request)
        db_session.flush()
        reveal_number(
            db_session,
            contact,
            settings.secrets,
            reason="masked_call" if index % 2 else "read_back",
            line_id=leuven.id,
            help_request_id=help_request.id,
            call_sid=f"CA{index:032x}",
        )
    db_session.commit()

    first = coordinator.get("/audit/numbers").get_data(as_text=True)
    references = re.findall(r">(3000\d\d)</a>", first)
    assert len(references) == 50 and references[0] == "300059" and references[-1] == "300010"
    assert 'href="/audit/numbers?page=2"' in first
    second = coordinator.get("/audit/numbers?page=2").get_data(as_text=True)
    assert re.findall(r">(3000\d\d)</a>", second)[-1] == "300000"

    masked = coordinator.get("/audit/numbers?reason=masked_call").get_data(as_text=True)
    shown = re.findall(r">(3000\d\d)</a>", masked)
    assert len(shown) == 30 and all(int(reference) % 2 for reference in shown)
    assert coordinator.get("/audit/numbers?page=99999999999999999999").status_code in (400, 404)
