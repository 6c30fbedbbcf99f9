"""One call, end to end: signed webhooks → help request + outbox → rq → a real worker."""

from __future__ import annotations

import contextlib
import socket
import threading
import xml.etree.ElementTree as ET

import sqlalchemy as sa
from rq import Queue
from sqlmodel import SQLModel, select

from hotline.models import CallSession, Contact, HelpRequest, OutboxMessage
from tests.conftest import LEUVEN_NUMBER, PUBLIC_BASE_URL, Twilio

CALLER = "+32470123456"
CALL_SID = "CA" + "1" * 32


def call_params(**extra: str) -> dict[str, str]:
    return {
        "CallSid": CALL_SID,
        "From": CALLER,
        "To": LEUVEN_NUMBER,
        "AccountSid": "AC" + "0" * 32,
        **extra,
    }


def signed(validator, path: str, params: dict[str, str]) -> dict[str, str]:
    """The header Twilio would send with ``params`` posted to ``path``."""
    return {"X-Twilio-Signature": validator.compute_signature(PUBLIC_BASE_URL + path, params)}


def twiml(response) -> ET.Element:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    root = ET.fromstring(response.get_data(as_text=True))
    assert root.tag == "Response"
    return root


def spoken(root: ET.Element) -> str:
    return " ".join(text.strip() for text in root.itertext() if text.strip())


def next_step_url(root: ET.Element) -> str:
    actions = [element.get("action") for element in root.iter() if element.get("action")]
    assert actions, "the answer waits for nothing"
    return actions[-1]


def walk_to_a_request(twilio, keys: list[str]) -> ET.Element:
    """Call in and press ``keys`` one menu at a time; returns the last answer."""
    root = twiml(twilio.post("/twilio/voice", call_params(CallStatus="ringing")))
    for pressed in keys:
        params = call_params(Digits=pressed) if pressed else call_params()
        root = twiml(twilio.post(next_step_url(root), params))
    return root


# Language 1 (Dutch), 1 I need help, 1 groceries, postcode 3000, 1 today, no message.
SHOPPING_TODAY_IN_LEUVEN = ["1", "1", "1", "3000", "1", ""]


def test_a_call_becomes_an_anonymised_request_that_a_real_worker_announces(
    app, twilio, db_session, redis_conn, work
):
    root = walk_to_a_request(twilio, SHOPPING_TODAY_IN_LEUVEN)

    help_request = db_session.exec(select(HelpRequest)).one()
    assert help_request.category == "groceries"
    assert help_request.postcode == "3000"
    assert help_request.urgency == "today"
    assert help_request.language == "nl"
    assert help_request.status == "new"
    # The reference is read back digit by digit.
    assert " ".join(help_request.reference) in spoken(root).replace(",", "")
    # Committed together with its outbox work, which the web process already relayed.
    outbox = db_session.exec(select(OutboxMessage)).one()
    assert outbox.payload == {"help_request_id": help_request.id}
    assert outbox.enqueued_at is not None
    assert Queue("intake", connection=redis_conn).count == 1
    assert help_request.announced_at is None

    assert work() is True  # a real rq worker, burst mode

    db_session.expire_all()
    assert db_session.get(HelpRequest, help_request.id).announced_at is not None
    assert Queue("intake", connection=redis_conn).count == 0


def test_when_redis_is_down_the_caller_still_gets_a_reference_and_the_worker_catches_up(
    app_config, redis_url, redis_conn
):
    from hotline import create_app

    down = create_app({**app_config, "redis_url": "redis://127.0.0.1:1/0"})
    root = walk_to_a_request(Twilio(down), SHOPPING_TODAY_IN_LEUVEN)
    assert "Hangup" in [element.tag for element in root]
    up = create_app(app_config)
    with up.extensions["hotline.engine"].connect() as connection:
        pending = connection.execute(sa.text("SELECT enqueued_at FROM outbox")).all()
    assert pending == [(None,)]

    from hotline.worker import run_worker

    assert run_worker(up, burst=True) is True  # relays first, then works
    with up.extensions["hotline.engine"].connect() as connection:
        announced = connection.execute(sa.text("SELECT announced_at FROM help_request")).all()
    assert announced[0][0] is not None
    down.extensions["hotline.engine"].dispose()
    up.extensions["hotline.engine"].dispose()


def test_a_retried_webhook_gets_the_same_answer_and_creates_nothing_twice(twilio, db_session):
    first = twilio.post("/twilio/voice", call_params())
    again = twilio.post("/twilio/voice", call_params())
    assert first.get_data() == again.get_data()
    assert len(db_session.exec(select(CallSession)).all()) == 1

    root = walk_to_a_request(twilio, SHOPPING_TODAY_IN_LEUVEN[:-1])
    last_step = next_step_url(root)
    done = twilio.post(last_step, call_params())
    retried = twilio.post(last_step, call_params())
    assert done.get_data() == retried.get_data()
    assert len(db_session.exec(select(HelpRequest)).all()) == 1
    assert len(db_session.exec(select(OutboxMessage)).all()) == 1


def test_an_unsigned_webhook_is_refused_and_writes_nothing(twilio, db_session):
    response = twilio.client.post("/twilio/voice", data=call_params())
    assert response.status_code == 403
    assert db_session.exec(select(CallSession)).all() == []
    assert db_session.exec(select(Contact)).all() == []


def test_a_forged_signature_is_refused_and_writes_nothing(twilio, db_session):
    response = twilio.post("/twilio/voice", call_params(), signature="bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 403
    # Signed for other parameters than those sent: refused too.
    tampered = twilio.validator.compute_signature(
        "https://hotline.example.org/twilio/voice", call_params(From="+32470000000")
    )
    assert twilio.post("/twilio/voice", call_params(), signature=tampered).status_code == 403
    assert db_session.exec(select(CallSession)).all() == []


def test_a_malformed_webhook_gets_400_without_a_trace(twilio, db_session):
    response = twilio.post("/twilio/voice", {"From": CALLER, "To": LEUVEN_NUMBER})
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)
    assert db_session.exec(select(CallSession)).all() == []


def test_the_status_callback_records_how_the_call_ended(twilio, db_session):
    twilio.post("/twilio/voice", call_params())
    response = twilio.post("/twilio/voice/status", call_params(CallStatus="completed"))
    assert response.status_code == 204
    call = db_session.exec(select(CallSession)).one()
    assert call.end_status == "completed" and call.ended_at is not None


def test_no_raw_phone_number_is_stored_outside_the_vault(app, twilio, db_session, redis_conn):
    walk_to_a_request(twilio, SHOPPING_TODAY_IN_LEUVEN)
    national = CALLER.removeprefix("+32")
    found = []
    with app.extensions["hotline.engine"].connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            for row in connection.execute(table.select()):
                for column, value in zip(table.columns, row, strict=True):
                    if national in str(value):
                        found.append(f"{table.name}.{column.name}")
    assert found == []
    contact = db_session.exec(select(Contact)).one()
    assert national not in contact.encrypted_number
    # Nor in Redis: job arguments hold ids only.
    dump = b" ".join(str(redis_conn.dump(key)).encode() for key in redis_conn.keys("*"))
    assert national.encode() not in dump


class SilentRedis:
    """A TCP server that accepts connections and never answers: a Redis that hangs."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"redis://127.0.0.1:{self.server.getsockname()[1]}/0"
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        with contextlib.suppress(OSError):
            while True:
                self.connections.append(self.server.accept()[0])

    def close(self):
        self.server.close()
        for connection in self.connections:
            connection.close()


def test_the_caller_hears_the_reference_before_anything_is_asked_of_a_hanging_redis(
    app_config, redis_conn
):
    from hotline import create_app

    silent = SilentRedis()
    hanging = create_app({**app_config, "redis_url": silent.url})
    client = hanging.test_client()
    validator = Twilio(hanging).validator
    first = call_params()
    root = twiml(
        client.post("/twilio/voice", data=first, headers=signed(validator, "/twilio/voice", first))
    )
    for pressed in SHOPPING_TODAY_IN_LEUVEN:
        url = next_step_url(root)
        params = call_params(Digits=pressed) if pressed else call_params()
        answer = client.post(url, data=params, headers=signed(validator, url, params))
        root = twiml(answer)
    # The reference is in the caller's ear; Redis has not been asked anything yet.
    assert "Hangup" in [element.tag for element in root]
    assert silent.connections == []
    with hanging.extensions["hotline.engine"].connect() as connection:
        assert connection.execute(sa.text("SELECT enqueued_at FROM outbox")).all() == [(None,)]

    answer.close()  # the server has written the answer: now the relay tries, and gives up
    assert len(silent.connections) >= 1
    with hanging.extensions["hotline.engine"].connect() as connection:
        assert connection.execute(sa.text("SELECT enqueued_at FROM outbox")).all() == [(None,)]
    silent.close()
    hanging.extensions["hotline.engine"].dispose()
