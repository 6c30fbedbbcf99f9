"""The access policy: who sees and does what, by role and by line (hotline.access.policy).

Unit stories of the rules first, then a coordinator of one town managing the accounts of
that town in the UI (and nothing beyond it), then the command line acting as the system.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from hotline import create_app
from hotline.access import policy
from hotline.access.accounts import create_operator
from hotline.access.api_tokens import create_token
from hotline.access.policy import SYSTEM, NotAllowed, NotVisible, Principal
from hotline.cli import cli
from hotline.db import line_row
from hotline.intake import create_help_request
from hotline.models import (
    ApiToken,
    Assignment,
    AuditEvent,
    HelpRequest,
    Operator,
    Volunteer,
    VolunteerLead,
)
from tests.conftest import STAFF_PASSWORD, StaffClient, two_towns_config


@pytest.fixture
def towns(app_config, tmp_path):
    """An installation serving Leuven and Tienen."""
    app = create_app({**app_config, "config_file": two_towns_config(tmp_path)})
    yield app
    app.extensions["hotline.engine"].dispose()


@pytest.fixture
def session(towns):
    with Session(towns.extensions["hotline.engine"]) as session:
        yield session


def _line_id(towns, session, slug: str) -> int:
    return line_row(session, towns.extensions["hotline.settings"], slug).id


def _account(session, username: str, *, role: str = "operator", lines=()) -> Operator:
    return create_operator(session, username=username, display_name=username.title(),
                           password=STAFF_PASSWORD, locale="en", role=role,
                           lines=list(lines))  # fmt: skip


def _request(towns, session, slug: str) -> HelpRequest:
    help_request = create_help_request(session, line=line_row(
        session, towns.extensions["hotline.settings"], slug), contact=None)  # fmt: skip
    session.commit()
    return help_request


# --- the principal ------------------------------------------------------------------------


def test_an_account_of_one_town_is_a_principal_of_that_towns_line_only(towns, session):
    tienen_id = _line_id(towns, session, "tienen")
    tina = policy.principal_for(session, _account(session, "tina", lines=["tienen"]))

    assert tina.line_ids == {tienen_id}
    assert tina.line_slugs == {"tienen"}
    assert not tina.all_lines and not tina.is_coordinator
    assert tina.sees_line(_line_id(towns, session, "tienen"))
    assert not tina.sees_line(_line_id(towns, session, "leuven"))


def test_an_account_without_lines_works_on_every_line_and_the_system_on_all(towns, session):
    olga = policy.principal_for(session, _account(session, "olga"))

    assert olga.all_lines and olga.sees_line(_line_id(towns, session, "leuven"))
    assert SYSTEM.all_lines and SYSTEM.is_coordinator and SYSTEM.id is None


def test_an_account_of_a_line_no_longer_configured_sees_nothing_rather_than_everything(
    towns, session
):
    gone = policy.principal_for(session, _account(session, "gone", lines=["atlantis"]))

    assert gone.line_ids == frozenset() and not gone.all_lines
    assert not gone.sees_line(_line_id(towns, session, "leuven"))
    assert session.exec(select(HelpRequest).where(policy.request_filter(gone))).all() == []


# --- which rows -----------------------------------------------------------------------------


def test_the_filters_select_only_the_principals_lines(towns, session):
    leuven_request = _request(towns, session, "leuven")
    tienen_request = _request(towns, session, "tienen")
    leuven_id, tienen_id = _line_id(towns, session, "leuven"), _line_id(towns, session, "tienen")
    volunteers = [Volunteer(line_id=leuven_id, name="Vera", postcode="3000"),
                  Volunteer(line_id=tienen_id, name="Tom", postcode="3300")]  # fmt: skip
    session.add_all([*volunteers, VolunteerLead(line_id=leuven_id),
                     VolunteerLead(line_id=tienen_id)])  # fmt: skip
    session.flush()
    session.add_all([
        Assignment(help_request_id=leuven_request.id, volunteer_id=volunteers[0].id, code="1"),
        Assignment(help_request_id=tienen_request.id, volunteer_id=volunteers[1].id, code="2"),
    ])  # fmt: skip
    session.commit()
    tina = policy.principal_for(session, _account(session, "tina", lines=["tienen"]))

    def ids(model, where):
        return [row.id for row in session.exec(select(model).where(where))]

    assert ids(HelpRequest, policy.request_filter(tina)) == [tienen_request.id]
    assert ids(Volunteer, policy.volunteer_filter(tina)) == [volunteers[1].id]
    assert [lead.line_id for lead in session.exec(
        select(VolunteerLead).where(policy.lead_filter(tina)))] == [tienen_id]  # fmt: skip
    assignments = session.exec(select(Assignment).where(policy.assignment_filter(tina)))
    assert [a.help_request_id for a in assignments] == [tienen_request.id]
    assert len(ids(HelpRequest, policy.request_filter(SYSTEM))) == 2


def test_statistics_count_the_principals_lines_and_refuse_another_towns(towns, session):
    tienen_id, leuven_id = _line_id(towns, session, "tienen"), _line_id(towns, session, "leuven")
    tina = policy.principal_for(session, _account(session, "tina", lines=["tienen"]))

    assert policy.statistics_lines(tina) == {tienen_id}
    assert policy.statistics_lines(tina, tienen_id) == tienen_id
    with pytest.raises(NotVisible):
        policy.statistics_lines(tina, leuven_id)
    assert policy.statistics_lines(SYSTEM) is None


def test_audit_events_of_another_town_and_of_unmanaged_accounts_stay_hidden(towns, session):
    leuven_request = _request(towns, session, "leuven")
    tienen_request = _request(towns, session, "tienen")
    toon = _account(session, "toon", role="coordinator", lines=["tienen"])
    leo = _account(session, "leo", lines=["leuven"])
    tina = _account(session, "tina", lines=["tienen"])
    session.add_all([
        AuditEvent(action="note", help_request_id=leuven_request.id),
        AuditEvent(action="note", help_request_id=tienen_request.id),
        AuditEvent(action="account:updated", operator_id=leo.id),
        AuditEvent(action="account:updated", operator_id=tina.id),
    ])  # fmt: skip
    session.commit()
    principal = policy.principal_for(session, toon)

    seen = session.exec(select(AuditEvent).where(policy.audit_filter(session, principal))).all()

    assert {(e.action, e.help_request_id, e.operator_id) for e in seen} == {
        ("note", tienen_request.id, None),
        ("account:updated", None, tina.id),
    }
    with pytest.raises(NotAllowed):
        policy.check_read_audit(policy.principal_for(session, tina))


# --- what it may do -------------------------------------------------------------------------


def test_another_towns_things_look_missing_and_a_role_that_may_not_act_is_forbidden(towns, session):
    leuven_request = _request(towns, session, "leuven")
    lead = VolunteerLead(line_id=_line_id(towns, session, "tienen"))
    session.add(lead)
    session.commit()
    tina = policy.principal_for(session, _account(session, "tina", lines=["tienen"]))
    toon = policy.principal_for(
        session, _account(session, "toon", role="coordinator", lines=["tienen"])
    )

    with pytest.raises(NotVisible):
        policy.check_request(tina, leuven_request)
    with pytest.raises(NotVisible):
        policy.check_request(tina, None)  # missing and hidden: the same answer
    assert policy.check_lead(tina, lead) is lead  # an operator listens to their town's leads
    with pytest.raises(NotAllowed):
        policy.check_follow_up_lead(tina, lead)  # ... but only coordinators follow them up
    assert policy.check_follow_up_lead(toon, lead) is lead
    assert NotVisible.status == 404 and NotAllowed.status == 403


def test_a_coordinator_manages_only_accounts_within_their_lines(towns, session):
    toon = policy.principal_for(
        session, _account(session, "toon", role="coordinator", lines=["tienen"])
    )
    tina = _account(session, "tina", lines=["tienen"])
    both = _account(session, "bo", lines=["leuven", "tienen"])
    olga = _account(session, "olga")  # every line

    assert policy.check_manage_account(toon, tina) is tina
    for beyond in (both, olga, None):
        with pytest.raises(NotVisible):
            policy.check_manage_account(toon, beyond)
    with pytest.raises(NotAllowed):  # an operator manages no accounts at all
        policy.check_manage_account(policy.principal_for(session, tina), tina)
    assert policy.managed_account_ids(session, toon) == sorted([toon.id, tina.id])


def test_a_coordinator_gives_only_lines_of_their_own(towns, session):
    toon = policy.principal_for(
        session, _account(session, "toon", role="coordinator", lines=["tienen"])
    )
    cor = policy.principal_for(session, _account(session, "cor", role="coordinator"))

    assert policy.check_grant_lines(toon, ["tienen"]) == ["tienen"]
    with pytest.raises(NotAllowed):
        policy.check_grant_lines(toon, ["leuven"])
    with pytest.raises(NotAllowed):
        policy.check_grant_lines(toon, [])  # every line: only a coordinator of every line
    assert policy.check_grant_lines(cor, []) == []
    assert policy.own_lines(toon, ["leuven", "tienen"]) == ["tienen"]


def test_tokens_of_another_towns_account_are_not_found_and_a_colleagues_forbidden(towns, session):
    leo = _account(session, "leo", lines=["leuven"])
    tina = _account(session, "tina", lines=["tienen"])
    tom = _account(session, "tom", lines=["tienen"])
    create_token(session, operator_id=leo.id, name="leo")
    create_token(session, operator_id=tom.id, name="tom")
    leo_token, tom_token = session.exec(select(ApiToken).order_by(ApiToken.id)).all()
    principal = policy.principal_for(session, tina)

    with pytest.raises(NotVisible):
        policy.check_token(principal, leo_token, leo)
    with pytest.raises(NotAllowed):
        policy.check_token(principal, tom_token, tom)
    assert session.exec(select(ApiToken).where(policy.token_filter(session, principal))).all() == []


# --- accounts in the UI: a coordinator of Tienen ----------------------------------------------


@pytest.fixture
def toon(towns, session) -> StaffClient:
    _account(session, "toon", role="coordinator", lines=["tienen"])
    return StaffClient(towns, "toon")


def test_a_coordinator_of_tienen_sees_and_edits_only_tienens_accounts(towns, session, toon):
    tina = _account(session, "tina", lines=["tienen"])
    leo = _account(session, "leo", lines=["leuven"])
    olga = _account(session, "olga")

    page = toon.get("/accounts/").get_data(as_text=True)
    assert "Tina" in page and "Leo" not in page and "Olga" not in page
    assert '<option value="tienen"' in page
    assert 'value="leuven"' not in page and 'value="*"' not in page  # no lines to give away

    assert toon.post(f"/accounts/{leo.id}", {"role": "operator"}).status_code == 404
    assert toon.post(f"/accounts/{olga.id}", {"role": "operator"}).status_code == 404
    session.expire_all()
    assert session.get(Operator, leo.id).active and session.get(Operator, olga.id).active

    response = toon.post(f"/accounts/{tina.id}", {"role": "coordinator", "active": "y",
                                                   "lines": "tienen"})  # fmt: skip
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Operator, tina.id).role == "coordinator"


def test_a_coordinator_of_tienen_cannot_grant_leuven_nor_every_line(towns, session, toon):
    tina = _account(session, "tina", lines=["tienen"])

    for lines in (["tienen", "leuven"], ["*"]):
        response = toon.post(f"/accounts/{tina.id}", {"role": "operator", "active": "y",
                                                       "lines": lines})  # fmt: skip
        assert response.status_code == 403
    created = toon.post("/accounts/", {"username": "mal", "display_name": "Mal",
                                        "password": "long enough password", "locale": "en",
                                        "lines": "leuven"})  # fmt: skip
    assert created.status_code == 403
    session.expire_all()
    assert session.get(Operator, tina.id).lines == ["tienen"]
    assert session.exec(select(Operator).where(Operator.username == "mal")).first() is None


def test_an_account_a_coordinator_of_tienen_creates_works_on_tienen(towns, session, toon):
    response = toon.post("/accounts/", {"username": "nieuw", "display_name": "Nieuw",
                                         "password": "long enough password",
                                         "locale": "en"})  # fmt: skip
    assert response.status_code == 302
    created = session.exec(select(Operator).where(Operator.username == "nieuw")).one()
    assert created.lines == ["tienen"]  # nothing chosen: the coordinator's own lines
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "account:created")).one()
    assert event.detail["account_id"] == created.id and event.operator_id is not None


def test_a_coordinator_of_every_line_moves_an_account_to_another_town_audited(towns, session):
    cor = _account(session, "cor", role="coordinator")
    tina = _account(session, "tina", lines=["tienen"])
    leuven_request = _request(towns, session, "leuven")
    coordinator = StaffClient(towns, "cor")
    page = coordinator.get("/accounts/").get_data(as_text=True)
    assert 'value="*"' in page and 'value="leuven"' in page

    response = coordinator.post(f"/accounts/{tina.id}", {"role": "operator", "active": "y",
                                                          "lines": ["leuven"]})  # fmt: skip
    assert response.status_code == 302

    session.expire_all()
    assert session.get(Operator, tina.id).lines == ["leuven"]
    event = session.exec(select(AuditEvent).where(AuditEvent.action == "account:updated")).one()
    assert event.operator_id == cor.id
    assert event.detail == {"account_id": tina.id, "lines": [["tienen"], ["leuven"]]}
    # Her next request already sees Leuven (lines are read on every request).
    tina_client = StaffClient(towns, "tina")
    assert tina_client.get(f"/requests/{leuven_request.id}").status_code == 200


def test_a_coordinator_cannot_change_their_own_lines(towns, session, toon):
    own = session.exec(select(Operator).where(Operator.username == "toon")).one()

    toon.post(f"/accounts/{own.id}", {"role": "coordinator", "active": "y", "lines": "tienen"})
    page = toon.get("/accounts/").get_data(as_text=True)

    assert "cannot change your own lines" not in page  # the same lines: no change
    session.expire_all()
    assert session.get(Operator, own.id).lines == ["tienen"]


# --- the command line: the system -----------------------------------------------------------


def test_the_command_line_changes_an_accounts_lines_as_the_system(towns, session):
    tina = _account(session, "tina", lines=["tienen"])
    runner = towns.test_cli_runner()

    def hotline(*args: str):
        return runner.invoke(cli, args=list(args))

    result = hotline("operator", "lines", "tina", "--line", "leuven")
    assert result.exit_code == 0, result.output
    assert "tina: leuven" in result.output
    everywhere = hotline("operator", "lines", "tina", "--all-lines")
    assert "tina: every line" in everywhere.output
    unknown = hotline("operator", "lines", "tina", "--line", "atlantis")
    assert unknown.exit_code != 0 and "no line 'atlantis'" in unknown.output

    session.expire_all()
    assert session.get(Operator, tina.id).lines == []
    events = session.exec(select(AuditEvent).where(AuditEvent.action == "account:updated")).all()
    assert [e.operator_id for e in events] == [None, None]  # the system, not a person


def test_a_principal_is_a_plain_value():
    principal = Principal(id=1, role="operator", line_ids=frozenset({2}), line_slugs={"x"})
    assert principal.sees_line(2) and not principal.sees_line(3)
    assert principal.has_line_slugs(["x"]) and not principal.has_line_slugs([])
