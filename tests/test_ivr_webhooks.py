"""Every path of the Leuven flow through signed Twilio webhooks, in Dutch, French and English.

Each test plays Twilio: it posts signed, form-encoded webhooks to the app the way
Twilio does (the first one to ``/twilio/voice``, then to the action URL of the
last <Gather>, <Record> or <Dial>, or to the <Redirect> after an empty
<Record>), reads the TwiML back with xml.etree, and looks at what the call left
in the database.

Opening hours follow the real clock, so every test runs against a config file
written for it: by default the line is open around the clock with two operator
phones; ``app_at`` builds the line closed, or without operator phones.
Expected texts come from ivr_flows/leuven.toml, so they are exactly what the
city wrote; texts with filled-in details (the municipalities, the register
address, the reference) are spelled out here.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rq import Queue
from sqlmodel import Session, select

from hotline import create_app
from hotline.models import CallSession, Contact, HelpRequest, OutboxMessage, VolunteerLead
from tests.conftest import LEUVEN_NUMBER, ROOT, Twilio

FLOW = tomllib.loads((ROOT / "ivr_flows" / "leuven.toml").read_text(encoding="utf-8"))

CALLER = "+32470123456"
NEIGHBOUR = "+32470654321"  # another resident, calling about a reference that is not theirs
LANGUAGES = ["nl", "fr", "en"]
WELCOME_KEY = {"nl": "1", "fr": "2", "en": "3"}
CODE = {"nl": "nl-BE", "fr": "fr-BE", "en": "en-GB"}
VOICE = {"nl": "Google.nl-BE-Wavenet-A", "fr": "Polly.Isabelle-Neural", "en": "Polly.Amy-Neural"}

ALWAYS_OPEN = '"00:00-24:00"'
CLOSED = '{ mon = "closed" }'  # unlisted weekdays are closed too
OPERATORS = ["+32 16 27 20 00", "+32 16 27 20 01"]
OPERATORS_E164 = ["+3216272000", "+3216272001"]

STEP_URL = re.compile(r"/twilio/voice/step/(\d+)")
# The caller waits for an operator in the line's queue; Twilio asks WAIT_URL what they hear.
QUEUE_NAME = "hotline-leuven"
WAIT_URL = "/twilio/voice/queue/wait"
WAIT_KEY_URL = "/twilio/voice/queue/key"

MUNICIPALITIES = {
    "nl": "Deze hulplijn helpt inwoners van Leuven, Heverlee, Kessel-Lo, Wilsele en Wijgmaal.",
    "fr": "Cette ligne aide les habitants de Leuven, Heverlee, Kessel-Lo, Wilsele et Wijgmaal.",
    "en": "This line helps residents of Leuven, Heverlee, Kessel-Lo, Wilsele and Wijgmaal.",
}
REGISTER = {
    "nl": "Fijn dat u wilt helpen! U kunt zich als vrijwilliger registreren op "
    "www.leuven.be/leuvenhelpt. U kunt ook hier uw gegevens inspreken, dan bellen we u terug.",
    "fr": "Merci de vouloir aider ! Vous pouvez vous inscrire comme bénévole sur "
    "www.leuven.be/leuvenhelpt. Vous pouvez aussi laisser vos coordonnées ici, "
    "nous vous rappellerons.",
    "en": "Thank you for wanting to help! You can register as a volunteer at "
    "www.leuven.be/leuvenhelpt. You can also leave your details here and we will call you back.",
}
# The two sentences that lead into the reference, which is then read digit by digit.
REFERENCE_IS = {
    "nl": ("Uw vraag is genoteerd. Schrijf uw referentienummer op:", "Ik herhaal:"),
    "fr": ("Votre demande est enregistrée. Notez votre numéro de référence :", "Je répète :"),
    "en": ("Your request is noted. Write down your reference number:", "Once more:"),
}
# Each menu option of the category menu and the category the request gets.
CATEGORIES = {"1": "groceries", "2": "meal", "3": "errand", "4": "dog", "5": "talk", "6": "other"}


# -- TwiML: only what Twilio documents -----------------------------------------------------------

# verb -> (attributes Twilio documents for it, verbs or nouns it may contain)
TWIML = {
    "Response": (
        set(),
        {"Say", "Pause", "Gather", "Record", "Dial", "Redirect", "Hangup", "Enqueue", "Leave"},
    ),
    "Say": ({"voice", "language", "loop"}, {"prosody"}),
    "prosody": ({"rate", "pitch", "volume"}, set()),
    "Pause": ({"length"}, set()),
    "Gather": (
        {
            "action", "method", "timeout", "finishOnKey", "numDigits", "input", "language",
            "hints", "speechTimeout", "actionOnEmptyResult", "partialResultCallback",
            "partialResultCallbackMethod", "profanityFilter", "speechModel", "enhanced",
            "bargeIn", "debug",
        },
        {"Say", "Pause", "Play"},
    ),
    "Record": (
        {
            "action", "method", "timeout", "finishOnKey", "maxLength", "playBeep", "trim",
            "recordingStatusCallback", "recordingStatusCallbackMethod",
            "recordingStatusCallbackEvent", "storageUrl", "storageUrlMethod", "transcribe",
            "transcribeCallback",
        },
        set(),
    ),
    "Dial": (
        {
            "action", "method", "timeout", "hangupOnStar", "timeLimit", "callerId", "record",
            "trim", "recordingStatusCallback", "recordingStatusCallbackMethod",
            "recordingStatusCallbackEvent", "answerOnBridge", "ringTone", "sequential",
            "referUrl", "referMethod",
        },
        {"Number", "Queue"},
    ),
    "Enqueue": ({"action", "method", "waitUrl", "waitUrlMethod", "maxQueueSize",
                 "workflowSid"}, set()),
    "Leave": (set(), set()),
    "Queue": ({"url", "method", "reservationSid", "postWorkActivitySid"}, set()),
    "Number": ({"sendDigits", "url", "method", "statusCallback", "statusCallbackEvent",
                "statusCallbackMethod", "byoc"}, set()),
    "Redirect": ({"method"}, set()),
    "Hangup": (set(), set()),
}  # fmt: skip
BOOLEAN_ATTRIBUTES = {"actionOnEmptyResult", "hangupOnStar", "answerOnBridge", "playBeep"}
NUMBER_ATTRIBUTES = {"timeout", "numDigits", "maxLength", "length", "timeLimit"}


def assert_documented_twiml(element: ET.Element, parent: str | None = None) -> None:
    """Only verbs, nouns and attributes from Twilio's TwiML reference, properly nested."""
    tag = element.tag
    assert tag in TWIML, f"<{tag}> is not a TwiML verb we allow"
    if parent is None:
        assert tag == "Response", f"the root is <{tag}>, not <Response>"
    else:
        assert tag in TWIML[parent][1], f"<{tag}> may not be nested in <{parent}>"
    attributes, _ = TWIML[tag]
    unknown = set(element.attrib) - attributes
    assert not unknown, f"<{tag}> has attributes Twilio does not document: {unknown}"
    for name, value in element.attrib.items():
        if name == "method":
            assert value in ("GET", "POST"), (tag, name, value)
        elif name in BOOLEAN_ATTRIBUTES:
            assert value in ("true", "false"), (tag, name, value)
        elif name in NUMBER_ATTRIBUTES:
            assert value.isdigit() and int(value) > 0, (tag, name, value)
        elif name in ("action", "transcribeCallback", "waitUrl", "url"):
            assert value.startswith("/twilio/"), (tag, name, value)
    if tag == "Gather":
        assert element.get("input") in ("dtmf", "speech", "dtmf speech"), element.attrib
    if tag in ("Say", "prosody") and len(element) == 0:
        assert (element.text or "").strip(), f"<{tag}> says nothing"
    if tag == "Say":
        assert [child.tag for child in element] in ([], ["prosody"])
    if tag in ("Pause", "Record", "Hangup", "Gather", "Dial", "Response", "Leave"):
        assert not (element.text or "").strip(), f"<{tag}> holds text {element.text!r}"
    if tag == "Redirect":
        assert STEP_URL.fullmatch(element.text or "") or element.text == WAIT_URL, element.text
    if tag in ("Enqueue", "Queue"):  # a queue is named, one per line
        assert element.text == QUEUE_NAME, element.text
    if tag == "Number":
        assert re.fullmatch(r"\+\d{8,15}", element.text or ""), element.text
    for child in element:
        assert_documented_twiml(child, tag)


class Answer:
    """One TwiML answer of the app, parsed and checked against Twilio's reference."""

    def __init__(self, response):
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "text/xml"
        self.body = response.get_data()
        self.root = ET.fromstring(self.body)
        assert_documented_twiml(self.root)

    @property
    def verbs(self) -> list[str]:
        return [element.tag for element in self.root]

    @property
    def says(self) -> list[str]:
        """Every sentence the caller hears, in order (inside a Gather or not)."""
        return [say.find("prosody").text for say in self.root.iter("Say")]

    def only(self, tag: str) -> ET.Element:
        found = list(self.root.iter(tag))
        assert len(found) == 1, f"expected one <{tag}>, found {len(found)} in {self.body!r}"
        return found[0]

    @property
    def gather(self) -> ET.Element:
        return self.only("Gather")

    @property
    def gather_says(self) -> list[str]:
        return [say.find("prosody").text for say in self.gather.iter("Say")]

    @property
    def action(self) -> str:
        """Where Twilio posts what the caller did next: the action of the waiting verb."""
        waiting = [e for e in self.root if e.tag in ("Gather", "Record", "Dial", "Enqueue")]
        assert waiting, f"this answer waits for nothing: {self.body!r}"
        url = waiting[-1].get("action")
        assert STEP_URL.fullmatch(url), url
        return url

    @property
    def redirect(self) -> str:
        return self.only("Redirect").text

    def assert_language(self, language: str) -> None:
        """Every sentence in the caller's language, with its voice, a little slower."""
        for say in self.root.iter("Say"):
            assert (say.get("language"), say.get("voice")) == (CODE[language], VOICE[language])
            assert say.find("prosody").get("rate") == FLOW["flow"]["speaking_rate"]
        for gather in self.root.iter("Gather"):
            assert gather.get("language") == CODE[language]

    def assert_hangs_up(self) -> None:
        assert self.verbs[-1] == "Hangup"
        assert not {"Gather", "Record", "Dial", "Redirect", "Enqueue"} & set(self.verbs)

    def assert_waits_for_an_operator(self) -> None:
        """The caller is put in the line's queue: Twilio asks WAIT_URL what they hear while
        they wait, and posts how the wait ended to the Enqueue's action (a step URL)."""
        assert self.verbs[-1] == "Enqueue", self.body
        enqueue = self.only("Enqueue")
        assert enqueue.text == QUEUE_NAME
        assert (enqueue.get("waitUrl"), enqueue.get("waitUrlMethod")) == (WAIT_URL, "POST")
        assert STEP_URL.fullmatch(enqueue.get("action")) and enqueue.get("method") == "POST"
        assert "Dial" not in self.verbs  # nobody is dialled from the caller's own call


# -- what the flow says ------------------------------------------------------------------------


def fill(text: str, **values: str) -> str:
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    assert "{" not in text, f"unfilled placeholder in {text!r}"
    return text


def texts(node: str, language: str, **values: str) -> list[str]:
    """What a node of leuven.toml says on entering it, in ``language``."""
    if "say" not in FLOW["nodes"][node]:
        return []  # a menu whose options say it all
    say = FLOW["nodes"][node]["say"]
    entries = [say] if isinstance(say, dict) else say
    return [fill(entry[language], **values) for entry in entries]


def message(kind: str, language: str) -> str:
    return FLOW["messages"][kind][language]


def press_line(label: str, key: str, language: str) -> str:
    spoken = FLOW["languages"][language]
    return (
        spoken["press"]
        .replace("{label}", label)
        .replace("{key}", spoken["key_names"].get(key, key))
    )


# reminders = "once": 9 and * are explained in the first menu after the language choice
# (and wherever the caller comes back to it), and again after a miss; 0 in every menu.
EXPLAINED_IN = "main"


def common_lines(language: str, *, back: bool = True, reminders: bool = True) -> list[str]:
    names = {"operator": "0", "repeat": "9", "back": "*"}
    if not back:
        del names["back"]
    if not reminders:
        names = {"operator": "0"}
    return [press_line(FLOW["keys"][n]["label"][language], k, language) for n, k in names.items()]


def menu_says(
    node: str, language: str, *, reminders: bool | None = None, **values: str
) -> list[str]:
    """The question of a menu or number entry (if it has one), each option, then 0; and 9 and
    * where they are explained: in the main menu, or (reminders=True) after a miss."""
    options = FLOW["nodes"][node].get("options", {})
    lines = [press_line(o["label"][language], key, language) for key, o in options.items()]
    if reminders is None:
        reminders = node == EXPLAINED_IN
    return texts(node, language, **values) + lines + common_lines(language, reminders=reminders)


WELCOME_SAYS = [
    "Welkom bij Leuven Helpt.",
    # each language in one breath: how to choose it, how to reach a person in it
    "Nederlands, druk 1.",
    "Een medewerker, druk 0.",
    "Français, tapez 2.",
    "Un collaborateur, tapez 0.",
    "English, press 3.",
    "A person, press 0.",
]


# -- a phone, a line ---------------------------------------------------------------------------

_sids = itertools.count(1)


def new_sid(prefix: str) -> str:
    return f"{prefix}{next(_sids):032x}" if prefix == "CA" else prefix + uuid.uuid4().hex


class Call:
    """One phone call to the line, driven webhook by webhook as Twilio would."""

    def __init__(self, twilio: Twilio, caller: str):
        self.twilio = twilio
        self.sid = new_sid("CA")
        self.params = {
            "AccountSid": "AC" + "0" * 32, "ApiVersion": "2010-04-01", "CallSid": self.sid,
            "From": caller, "To": LEUVEN_NUMBER, "Direction": "inbound",
            "CallStatus": "in-progress",
        }  # fmt: skip
        self.answer: Answer | None = None
        self.enqueued: Answer | None = None  # the answer that put the caller in the queue
        self.last: tuple[str, dict[str, str]] | None = None

    def post(self, url: str, **extra: str) -> Answer:
        params = {**self.params, **extra}
        self.last = (url, params)
        self.answer = Answer(self.twilio.post(url, params))
        if "Enqueue" in self.answer.verbs:
            self.enqueued = self.answer
        return self.answer

    def retry(self) -> Answer:
        """Twilio sends the last webhook once more (it timed out on its side)."""
        url, params = self.last
        return Answer(self.twilio.post(url, params))

    def dial(self) -> Answer:
        return self.post("/twilio/voice", CallStatus="ringing")

    def press(self, digits: str) -> Answer:
        return self.post(self.answer.action, Digits=digits)

    def speak(self, words: str) -> Answer:
        return self.post(self.answer.action, SpeechResult=words, Confidence="0.91")

    def silence(self) -> Answer:
        return self.post(self.answer.action)

    def record(self, recording_sid: str) -> Answer:
        """The caller spoke after the beep and pressed #: Twilio posts the Record's action."""
        assert self.answer.verbs[-2:] == ["Record", "Redirect"]
        return self.post(
            self.answer.only("Record").get("action"),
            RecordingSid=recording_sid,
            RecordingUrl=f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}"
            f"/Recordings/{recording_sid}",
            RecordingDuration="7",
            Digits="#",
        )

    def record_nothing(self) -> Answer:
        """An empty recording: Twilio skips the Record's action and follows the <Redirect>."""
        assert self.answer.verbs[-2:] == ["Record", "Redirect"]
        return self.post(self.answer.redirect)

    def waits(self, *, position: int = 1, queue_time: int = 0, size: int = 1) -> Answer:
        """Twilio asks the waitUrl what the caller hears next (again and again while they
        wait), with the queue's parameters; the caller is back in the queue's wait music."""
        assert self.enqueued is not None, "the caller is in no queue"
        return self.post(
            WAIT_URL,
            QueueSid="QU" + "1" * 32,
            QueuePosition=str(position),
            QueueTime=str(queue_time),
            AvgQueueTime="30",
            CurrentQueueSize=str(size),
            MaxQueueSize="1000",
        )

    def presses_while_waiting(self, key: str) -> Answer:
        """A key pressed during a wait sentence: Twilio posts the wait's <Gather> action."""
        assert self.answer.gather.get("action") == WAIT_KEY_URL
        return self.post(WAIT_KEY_URL, Digits=key, QueueSid="QU" + "1" * 32)

    def queue_ends(self, result: str, *, queue_time: int = 20) -> Answer:
        """The caller is out of the queue: Twilio posts the Enqueue's action with QueueResult
        (bridged: after the conversation; leave: <Leave/>; hangup, queue-full, error...)."""
        assert self.enqueued is not None, "the caller is in no queue"
        return self.post(
            self.enqueued.only("Enqueue").get("action"),
            QueueResult=result,
            QueueSid="QU" + "1" * 32,
            QueueTime=str(queue_time),
        )

    def dial_ends(self, status: str) -> Answer:
        """A <Dial> (a masked call) ended: Twilio posts its action with DialCallStatus."""
        assert "Dial" in self.answer.verbs
        return self.post(
            self.answer.only("Dial").get("action"),
            DialCallStatus=status,
            DialCallSid=new_sid("CA"),
            DialCallDuration="42" if status == "completed" else "0",
        )

    def rings_out(self) -> Answer:
        """Nobody picks up: the caller hears a sentence every few seconds until they have
        waited the flow's max_wait; then they leave the queue for the message path."""
        max_wait = FLOW["nodes"]["operator_connect"]["max_wait"]
        every = FLOW["nodes"]["operator_connect"]["wait_every"]
        for waited in range(0, max_wait, every):
            assert self.waits(queue_time=waited).verbs == ["Gather"]
        assert self.waits(queue_time=max_wait).verbs == ["Leave"]
        return self.queue_ends("leave", queue_time=max_wait)


@dataclass
class Hotline:
    """The Leuven line as a test sees it: its app, Twilio in front of it, its database."""

    app: object
    twilio: Twilio
    session: Session

    def call(self, caller: str = CALLER) -> Call:
        return Call(self.twilio, caller)

    def rows(self, model) -> list:
        self.session.rollback()  # forget what we read before: look at what is committed now
        return list(self.session.exec(select(model)).all())

    def one(self, model):
        rows = self.rows(model)
        assert len(rows) == 1, f"expected one {model.__name__}, found {len(rows)}"
        return rows[0]

    def call_session(self, call: Call) -> CallSession:
        self.session.rollback()
        return self.session.exec(select(CallSession).where(CallSession.call_sid == call.sid)).one()

    def counts(self) -> dict[str, int]:
        models = (HelpRequest, VolunteerLead, OutboxMessage, CallSession, Contact)
        return {model.__name__: len(self.rows(model)) for model in models}

    def set_status(self, reference: str, status: str) -> None:
        self.session.rollback()
        row = self.session.exec(select(HelpRequest).where(HelpRequest.reference == reference)).one()
        row.status = status
        self.session.add(row)
        self.session.commit()


def write_config(folder: Path, *, hours: str, operators: list[str], transcribe: bool) -> Path:
    """The repository's config.toml with other opening hours, operator phones and flows path."""
    text = (ROOT / "config.toml").read_text(encoding="utf-8")
    values = {
        "flows_dir": json.dumps(str(ROOT / "ivr_flows")),  # relative paths follow the copy
        "opening_hours": hours,
        "operator_numbers": json.dumps(operators, ensure_ascii=False),
        "transcribe": "true" if transcribe else "false",
    }
    for key, value in values.items():
        text, found = re.subn(
            rf"^{key} = .*$", lambda _, k=key, v=value: f"{k} = {v}", text, flags=re.MULTILINE
        )
        assert found == 1, f"config.toml has no single '{key} = ...' line to change"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def app_config(app_config, tmp_path):
    """This module's line, unless a test asks otherwise: open day and night, two operator phones."""
    config_file = write_config(
        tmp_path / "open", hours=ALWAYS_OPEN, operators=OPERATORS, transcribe=False
    )
    return {**app_config, "config_file": config_file}


@pytest.fixture
def leuven(app, twilio, db_session, redis_conn) -> Hotline:
    """The Leuven line, open, with operators on duty."""
    return Hotline(app, twilio, db_session)


@pytest.fixture
def app_at(app_config, tmp_path) -> Iterator[Callable[..., Hotline]]:
    """Builds the line with other opening hours or operator phones, on this test's database."""
    built: list[Hotline] = []

    def build(*, hours: str, operators: list[str] = (), transcribe: bool = False) -> Hotline:
        folder = tmp_path / f"config-{len(built)}"
        config_file = write_config(
            folder, hours=hours, operators=list(operators), transcribe=transcribe
        )
        app = create_app({**app_config, "config_file": config_file})
        line = Hotline(app, Twilio(app), Session(app.extensions["hotline.engine"]))
        built.append(line)
        return line

    yield build
    for line in built:
        line.session.close()
        line.app.extensions["hotline.engine"].dispose()


@pytest.fixture
def closed(app_at) -> Hotline:
    """The line outside its opening hours (operator phones configured, but nobody on duty)."""
    return app_at(hours=CLOSED, operators=OPERATORS)


@pytest.fixture
def no_operators(app_at) -> Hotline:
    """The line inside its opening hours, but without operator phones to ring."""
    return app_at(hours=ALWAYS_OPEN, operators=[])


# -- getting somewhere in the menus ------------------------------------------------------------


def at_main(call: Call, language: str) -> Answer:
    call.dial()
    return call.press(WELCOME_KEY[language])


def at_category(call: Call, language: str) -> Answer:
    at_main(call, language)
    return call.press("1")


def at_postcode(call: Call, language: str, category_key: str = "1") -> Answer:
    at_category(call, language)
    return call.press(category_key)


def at_urgency(call: Call, language: str, category_key: str = "1") -> Answer:
    at_postcode(call, language, category_key)
    return call.press("3000")


def at_message(call: Call, language: str, category_key: str = "1", urgency: str = "1") -> Answer:
    at_urgency(call, language, category_key)
    return call.press(urgency)


def at_postcode_unknown(call: Call, language: str) -> Answer:
    at_postcode(call, language)
    return call.press("1000")


def at_existing(call: Call, language: str) -> Answer:
    at_main(call, language)
    return call.press("3")


def at_anything_else(call: Call, language: str) -> Answer:
    at_existing(call, language)
    return call.press("999999")


def at_welcome(call: Call, language: str) -> Answer:
    return call.dial()


MENUS = {
    "welcome": at_welcome,
    "main": at_main,
    "category": at_category,
    "postcode": at_postcode,
    "urgency": at_urgency,
    "postcode_unknown": at_postcode_unknown,
    "existing": at_existing,
    "anything_else": at_anything_else,
}
# The welcome menu is in Dutch until the caller chooses.
MENU_CASES = [("welcome", "nl")] + [
    (menu, language) for menu in list(MENUS)[1:] for language in LANGUAGES
]
# Where * brings the caller back to from each menu.
BACK_TO = {
    "main": "welcome",
    "category": "main",
    "postcode": "category",
    "urgency": "postcode",
    "postcode_unknown": "postcode",
    "existing": "main",
    "anything_else": "existing",
}


def unknown_postcode_says(language: str) -> list[str]:
    """A postcode the line does not serve (1000): why not, who is served, what now."""
    sorry = texts("postcode_unknown", language, entered="1000", municipalities="...")[0]
    again = FLOW["nodes"]["postcode_unknown"]["options"]["1"]["label"][language]
    return [
        sorry,
        MUNICIPALITIES[language],
        press_line(again, "1", language),
        *common_lines(language, reminders=False),
    ]


def welcome_says(language: str, *, missed: bool = False) -> list[str]:
    """The language menu: its greeting in the call's language, each language in its own,
    each with how to reach a person in it; 9 is explained only after a miss."""
    operator = FLOW["keys"]["operator"]["label"]
    lines = []
    for key, lang in (("1", "nl"), ("2", "fr"), ("3", "en")):
        label = FLOW["nodes"]["welcome"]["options"][key]["label"][lang]
        lines += [press_line(label, key, lang), press_line(operator[lang], "0", lang)]
    repeat = press_line(FLOW["keys"]["repeat"]["label"][language], "9", language)
    return texts("welcome", language) + lines + ([repeat] if missed else [])


def expected_menu(menu: str, language: str) -> list[str]:
    if menu == "welcome":  # back at the language menu, a French caller is greeted in French
        return welcome_says(language)
    if menu == "postcode_unknown":
        return unknown_postcode_says(language)
    return menu_says(menu, language)


def make_request(
    line: Hotline, language: str = "nl", caller: str = CALLER, recording_sid: str | None = None
) -> HelpRequest:
    """A whole call that ends with a help request; returns it."""
    call = line.call(caller)
    at_message(call, language)
    if recording_sid:
        call.record(recording_sid)
    else:
        call.record_nothing()
    call.answer.assert_hangs_up()
    line.session.rollback()
    return line.session.exec(select(HelpRequest).where(HelpRequest.call_sid == call.sid)).one()


def assert_reference_read_twice(answer: Answer, reference: str, language: str) -> None:
    """The reference, digit by digit with a pause between digits, twice; then goodbye."""
    lead, again = REFERENCE_IS[language]
    digits = list(reference)
    confirmation = texts("confirmation", language, reference_digits="")
    assert confirmation[0].startswith(lead)
    assert answer.says == [lead, *digits, again, *digits, confirmation[2], confirmation[3]]
    sequence = [(e.tag, e.findtext("prosody")) for e in answer.root]
    start = sequence.index(("Say", lead)) + 1
    expected = [("Say", digits[0])]
    for digit in digits[1:]:
        expected += [("Pause", None), ("Say", digit)]
    assert sequence[start : start + len(expected)] == expected
    answer.assert_hangs_up()


# -- welcome and language ----------------------------------------------------------------------


def test_the_line_greets_in_dutch_and_offers_each_language_in_that_language(leuven):
    answer = leuven.call().dial()
    assert answer.verbs == ["Gather"]
    assert answer.says == WELCOME_SAYS == welcome_says("nl")
    languages = [(s.get("language"), s.get("voice")) for s in answer.gather.iter("Say")]
    assert languages[3] == ("fr-BE", VOICE["fr"]) and languages[5] == ("en-GB", VOICE["en"])
    gather = answer.gather
    assert gather.get("input") == "dtmf speech"
    assert gather.get("actionOnEmptyResult") == "true"  # silence is answered, never dropped
    assert gather.get("timeout") == "8"
    assert gather.get("language") == "nl-BE"
    assert "français" in gather.get("hints")


def test_a_caller_who_stays_silent_at_the_welcome_menu_gets_dutch(leuven):
    call = leuven.call()
    call.dial()
    answer = call.silence()
    answer.assert_language("nl")
    assert answer.says == texts("emergency", "nl") + menu_says("main", "nl")
    assert message("no_input", "nl") not in answer.says  # silence here is an answer
    assert leuven.call_session(call).state["language"] == "nl"
    assert leuven.call_session(call).last_node == "main"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_who_chooses_a_language_hears_the_main_menu_in_it(leuven, language):
    call = leuven.call()
    call.dial()
    answer = call.press(WELCOME_KEY[language])
    answer.assert_language(language)
    assert answer.says == texts("emergency", language) + menu_says("main", language)
    assert "1 1 2" in answer.says[0]
    assert leuven.call_session(call).state["language"] == language


@pytest.mark.parametrize(
    ("words", "language"), [("Nederlands", "nl"), ("français", "fr"), ("English please", "en")]
)
def test_a_caller_can_say_the_language_they_want(leuven, words, language):
    call = leuven.call()
    call.dial()
    answer = call.speak(words)
    answer.assert_language(language)
    assert answer.gather_says == menu_says("main", language)


# -- misses: silence, wrong keys ---------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_who_says_nothing_in_the_main_menu_hears_a_kind_word_and_the_menu_again(
    leuven, language
):
    call = leuven.call()
    first = at_main(call, language)
    answer = call.silence()
    answer.assert_language(language)
    assert answer.says == [message("no_input", language), *menu_says("main", language)]
    assert answer.action != first.action  # a new step: a retry of the old one is told apart


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_who_presses_a_wrong_key_hears_a_kind_word_and_the_menu_again(leuven, language):
    call = leuven.call()
    at_main(call, language)
    answer = call.press("7")
    answer.assert_language(language)
    assert answer.says == [message("invalid", language), *menu_says("main", language)]


@pytest.mark.parametrize("language", LANGUAGES)
def test_after_two_misses_inside_opening_hours_an_operator_is_dialled(leuven, language):
    call = leuven.call()
    at_main(call, language)
    call.press("7")
    answer = call.silence()
    answer.assert_language(language)
    assert answer.says == [message("give_up", language), *texts("operator_connect", language)]
    answer.assert_waits_for_an_operator()


@pytest.mark.parametrize("language", LANGUAGES)
def test_after_two_misses_outside_opening_hours_the_caller_leaves_a_message_for_a_call_back(
    closed, language
):
    call = closed.call()
    at_main(call, language)
    call.silence()
    answer = call.press("8")
    answer.assert_language(language)
    assert answer.says == [
        message("give_up", language),
        *texts("operator_closed", language),
        *texts("callback_message", language),
    ]
    assert "Dial" not in answer.verbs
    assert answer.verbs[-2:] == ["Record", "Redirect"]
    sid = new_sid("RE")
    done = call.record(sid)
    assert done.says == texts("callback_thanks", language)
    done.assert_hangs_up()
    request = closed.one(HelpRequest)
    assert (request.source, request.recording_sid, request.language) == ("callback", sid, language)


@pytest.mark.parametrize("language", LANGUAGES)
def test_after_two_misses_without_operator_phones_the_caller_leaves_a_message_for_a_call_back(
    no_operators, language
):
    call = no_operators.call()
    at_category(call, language)
    call.press("#")
    answer = call.silence()
    answer.assert_language(language)
    assert answer.says == [
        message("give_up", language),
        *texts("operator_unavailable", language),
        *texts("callback_message", language),
    ]
    assert "Dial" not in answer.verbs
    call.record_nothing().assert_hangs_up()
    request = no_operators.one(HelpRequest)
    assert (request.source, request.recording_sid) == ("callback", None)


def test_a_wrong_number_of_digits_for_the_postcode_counts_as_a_miss(leuven):
    call = leuven.call()
    at_postcode(call, "nl")
    answer = call.press("30")
    assert answer.says == [message("invalid", "nl"), *menu_says("postcode", "nl", reminders=True)]
    answer = call.silence()
    assert answer.says == [message("give_up", "nl"), *texts("operator_connect", "nl")]
    answer.assert_waits_for_an_operator()


# -- 0, 9 and * in every menu -------------------------------------------------------------------


@pytest.mark.parametrize(("menu", "language"), MENU_CASES)
def test_a_caller_who_presses_0_in_any_menu_reaches_an_operator(leuven, menu, language):
    call = leuven.call()
    MENUS[menu](call, language)
    answer = call.press("0")
    answer.assert_language(language)
    assert answer.says == texts("operator_connect", language)
    assert answer.verbs == ["Say", "Enqueue"]
    answer.assert_waits_for_an_operator()
    assert leuven.call_session(call).last_node == "operator_connect"


@pytest.mark.parametrize(
    ("menu", "language", "words"),
    [
        ("main", "nl", "ik wil een medewerker"),
        ("category", "fr", "je veux parler à un opérateur"),
        ("postcode", "en", "a real person please"),
    ],
)
def test_a_caller_who_asks_for_a_person_out_loud_reaches_an_operator(leuven, menu, language, words):
    call = leuven.call()
    MENUS[menu](call, language)
    answer = call.speak(words)  # "talk to an operator" is not the category "talk"
    assert answer.says == texts("operator_connect", language)
    assert answer.verbs == ["Say", "Enqueue"]


@pytest.mark.parametrize(("menu", "language"), MENU_CASES)
def test_a_caller_who_presses_9_in_any_menu_hears_it_again(leuven, menu, language):
    call = leuven.call()
    before = MENUS[menu](call, language)
    assert before.gather_says == expected_menu(menu, language)
    answer = call.press("9")
    if menu != "welcome":  # which offers each language in its own
        answer.assert_language(language)
    assert answer.verbs == ["Gather"]
    assert answer.says == expected_menu(menu, language)
    assert answer.action != before.action
    assert leuven.call_session(call).last_node == menu


@pytest.mark.parametrize(("menu", "language"), [c for c in MENU_CASES if c[0] != "welcome"])
def test_a_caller_who_presses_star_goes_back_one_step(leuven, menu, language):
    call = leuven.call()
    MENUS[menu](call, language)
    answer = call.press("*")
    assert answer.verbs == ["Gather"]
    assert answer.says == expected_menu(BACK_TO[menu], language)
    assert leuven.call_session(call).last_node == BACK_TO[menu]


def test_star_in_the_welcome_menu_has_nowhere_to_go_back_to_and_is_a_wrong_key(leuven):
    call = leuven.call()
    call.dial()
    answer = call.press("*")
    assert answer.says == [message("invalid", "nl"), *welcome_says("nl", missed=True)]


def test_a_caller_who_goes_back_from_the_urgency_can_change_the_postcode(leuven):
    call = leuven.call()
    at_urgency(call, "nl")
    call.press("*")
    call.press("3010")
    call.press("2")
    call.record_nothing()
    request = leuven.one(HelpRequest)
    assert (request.postcode, request.urgency) == ("3010", "coming_days")


# -- asking for help ----------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_who_asks_for_help_and_records_a_message_hears_the_reference_twice(
    leuven, redis_conn, language
):
    call = leuven.call()
    at_main(call, language)
    answer = call.press("1")
    assert answer.says == menu_says("category", language)
    answer = call.press("1")
    assert answer.says == menu_says("postcode", language)
    assert answer.gather.get("timeout") == "10"
    answer = call.press("3000")
    assert answer.says == menu_says("urgency", language)
    answer = call.press("1")
    answer.assert_language(language)
    assert answer.says == texts("message", language)
    record = answer.only("Record")
    assert record.get("action") == answer.redirect  # an empty message goes on at the same step
    assert (record.get("maxLength"), record.get("finishOnKey"), record.get("playBeep")) == (
        "120",
        "#",
        "true",
    )
    assert record.get("transcribeCallback") is None  # transcription is off in config.toml
    sid = new_sid("RE")
    done = call.record(sid)
    done.assert_language(language)

    request = leuven.one(HelpRequest)
    assert_reference_read_twice(done, request.reference, language)
    assert re.fullmatch(r"[1-9]\d{5}", request.reference)
    assert (request.source, request.status, request.language) == ("ivr", "new", language)
    assert (request.category, request.postcode, request.urgency) == ("groceries", "3000", "today")
    assert request.recording_sid == sid
    contact = leuven.one(Contact)
    assert (request.contact_id, request.caller_hash) == (contact.id, contact.caller_hash)
    session_row = leuven.call_session(call)
    assert session_row.help_request_id == request.id
    assert session_row.contact_id == contact.id
    assert session_row.last_node == "confirmation"
    assert leuven.one(OutboxMessage).payload == {"help_request_id": request.id}
    assert Queue("intake", connection=redis_conn).count == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_who_leaves_no_message_still_gets_a_request_and_a_reference(leuven, language):
    call = leuven.call()
    answer = at_message(call, language, urgency="2")
    done = call.record_nothing()  # Twilio follows the <Redirect> after an empty <Record>
    request = leuven.one(HelpRequest)
    assert_reference_read_twice(done, request.reference, language)
    assert request.recording_sid is None
    assert request.urgency == "coming_days"
    assert call.last[0] == answer.redirect


@pytest.mark.parametrize(
    ("key", "category", "language"),
    [(key, category, LANGUAGES[int(key) % 3]) for key, category in CATEGORIES.items()],
)
def test_each_category_of_the_menu_is_stored_on_the_request(leuven, key, category, language):
    call = leuven.call()
    at_message(call, language, category_key=key)
    call.record(new_sid("RE"))
    request = leuven.one(HelpRequest)
    assert (
        request.category == category == FLOW["nodes"]["category"]["options"][key]["set"]["category"]
    )
    assert request.language == language


@pytest.mark.parametrize(
    ("language", "words", "category"),
    [("nl", "boodschappen", "groceries"), ("fr", "pharmacie", "groceries"), ("en", "dog", "dog")],
)
def test_a_caller_can_say_what_they_need_and_their_postcode(leuven, language, words, category):
    call = leuven.call()
    at_category(call, language)
    answer = call.speak(words)
    assert answer.says == menu_says("postcode", language)
    answer = call.speak("3 0 0 0")
    assert answer.says == menu_says("urgency", language)
    call.press("2")
    call.record_nothing()
    request = leuven.one(HelpRequest)
    assert (request.category, request.postcode, request.language) == (category, "3000", language)


def test_the_speech_hints_follow_the_language_of_the_call(leuven):
    call = leuven.call()
    hints = at_category(call, "fr").gather.get("hints")
    assert "pharmacie" in hints and "boodschappen" not in hints


@pytest.mark.parametrize("withheld", ["anonymous", "+266696687"])
def test_a_caller_who_withholds_their_number_is_still_helped(leuven, withheld):
    call = leuven.call(withheld)
    at_message(call, "nl")
    asked = call.record_nothing()  # asked for a number to call back on; would rather not
    assert asked.gather_says == [message("number_ask", "nl")]
    done = call.press("*")
    request = leuven.one(HelpRequest)
    no_callback = texts("confirmation_no_callback", "nl", reference_digits="")
    digits = list(request.reference)
    lead, again = REFERENCE_IS["nl"]
    assert no_callback[0].startswith(lead)
    assert done.says == [lead, *digits, again, *digits, *no_callback[2:]]
    # The line never promises a call-back it cannot make.
    assert texts("confirmation", "nl", reference_digits="")[2] not in done.says
    done.assert_hangs_up()
    assert (request.contact_id, request.caller_hash) == (None, None)
    assert leuven.rows(Contact) == []
    # Nobody can prove the request is theirs: the neutral answer, like for anyone else.
    answer = ask_about(leuven, request.reference, "nl", caller=withheld)
    assert answer.says[:1] == texts("status_unknown", "nl")


# -- a postcode outside the area -----------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_with_a_postcode_outside_the_area_hears_which_municipalities_are_served(
    leuven, language
):
    call = leuven.call()
    at_postcode(call, language)
    answer = call.press("1000")
    answer.assert_language(language)
    assert answer.says == unknown_postcode_says(language)
    assert "1000" in answer.says[0]
    answer = call.press("1")  # key it in again
    assert answer.says == menu_says("postcode", language)
    answer = call.press("3001")
    assert answer.says == menu_says("urgency", language)
    call.press("1")
    call.record_nothing()
    assert leuven.one(HelpRequest).postcode == "3001"


def test_a_caller_with_a_postcode_outside_the_area_can_ask_for_an_operator(leuven):
    call = leuven.call()
    at_postcode_unknown(call, "fr")
    answer = call.press("0")
    assert answer.says == texts("operator_connect", "fr")
    assert answer.verbs == ["Say", "Enqueue"]
    assert leuven.rows(HelpRequest) == []


# -- volunteers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_who_wants_to_volunteer_hears_where_to_register_and_leaves_their_details(
    leuven, language
):
    call = leuven.call()
    at_main(call, language)
    answer = call.press("2")
    answer.assert_language(language)
    assert answer.says == [REGISTER[language], *texts("volunteer_message", language)]
    assert answer.verbs[-2:] == ["Record", "Redirect"]
    sid = new_sid("RE")
    done = call.record(sid)
    done.assert_language(language)
    assert done.says == texts("volunteer_thanks", language)
    done.assert_hangs_up()
    lead = leuven.one(VolunteerLead)
    assert (lead.recording_sid, lead.language, lead.status) == (sid, language, "new")
    assert lead.call_sid == call.sid
    assert lead.caller_hash == leuven.one(Contact).caller_hash
    assert leuven.rows(HelpRequest) == []


def test_a_volunteer_who_says_nothing_after_the_beep_is_still_noted(leuven):
    call = leuven.call()
    at_main(call, "nl")
    call.press("2")
    call.record_nothing().assert_hangs_up()
    assert leuven.one(VolunteerLead).recording_sid is None


# -- a request made before -----------------------------------------------------------------------


def ask_about(line: Hotline, reference: str, language: str, caller: str = CALLER) -> Answer:
    call = line.call(caller)
    answer = at_existing(call, language)
    assert answer.says == menu_says("existing", language)
    return call.press(reference)


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_caller_who_asks_about_their_request_hears_its_status_in_plain_words(leuven, language):
    reference = make_request(leuven, language).reference
    anything_else = menu_says("anything_else", language)

    answer = ask_about(leuven, reference, language)
    answer.assert_language(language)
    assert answer.says == texts("status_received", language) + anything_else

    leuven.set_status(reference, "assigned")
    answer = ask_about(leuven, reference, language)
    assert answer.says == texts("status_volunteer_found", language) + anything_else

    leuven.set_status(reference, "done")
    answer = ask_about(leuven, reference, language)
    assert answer.says == texts("status_done", language) + anything_else
    assert len(leuven.rows(Contact)) == 1  # the same resident, known again by the hash


@pytest.mark.parametrize(
    ("status", "node"),
    [
        ("triaged", "status_received"),
        ("accepted", "status_volunteer_found"),
        ("cancelled", "status_unknown"),
    ],
)
def test_every_status_of_a_request_has_a_plain_answer(leuven, status, node):
    reference = make_request(leuven).reference
    leuven.set_status(reference, status)
    assert ask_about(leuven, reference, "nl").says[:1] == texts(node, "nl")


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_reference_of_someone_else_gets_the_same_neutral_answer_as_a_wrong_one(leuven, language):
    reference = make_request(leuven, "nl", caller=CALLER).reference
    wrong = "999999" if reference != "999999" else "999998"
    someone_elses = ask_about(leuven, reference, language, caller=NEIGHBOUR)
    no_such = ask_about(leuven, wrong, language, caller=NEIGHBOUR)
    assert someone_elses.says == texts("status_unknown", language) + menu_says(
        "anything_else", language
    )
    assert someone_elses.body == no_such.body  # not a word, not a pause of difference


@pytest.mark.parametrize("language", LANGUAGES)
def test_after_the_status_the_caller_can_end_the_call_or_go_back_to_the_main_menu(leuven, language):
    call = leuven.call()
    at_anything_else(call, language)
    answer = call.press("1")
    assert answer.says == menu_says("main", language)
    call = leuven.call()
    at_anything_else(call, language)
    answer = call.press("2")
    assert answer.says == texts("goodbye", language)
    answer.assert_hangs_up()


# -- an operator ---------------------------------------------------------------------------------


def test_inside_hours_the_caller_waits_in_the_lines_queue_and_no_number_is_in_the_answer(leuven):
    call = leuven.call()
    at_main(call, "en")
    answer = call.press("0")
    answer.assert_waits_for_an_operator()
    step = int(STEP_URL.fullmatch(answer.only("Enqueue").get("action")).group(1))
    assert step == leuven.call_session(call).step
    body = answer.body.decode()
    assert CALLER not in body  # the caller's number is never in TwiML
    assert not any(number in body for number in OPERATORS_E164)  # operators are rung by REST


@pytest.mark.parametrize("language", LANGUAGES)
def test_when_no_operator_answers_the_caller_leaves_a_message_and_is_called_back(leuven, language):
    call = leuven.call()
    at_urgency(call, language)
    call.press("0")
    answer = call.rings_out()
    answer.assert_language(language)
    assert answer.says == texts("operator_unavailable", language) + texts(
        "callback_message", language
    )
    assert answer.verbs[-2:] == ["Record", "Redirect"]
    sid = new_sid("RE")
    done = call.record(sid)
    assert done.says == texts("callback_thanks", language)
    done.assert_hangs_up()
    request = leuven.one(HelpRequest)
    assert (request.source, request.recording_sid, request.language) == ("callback", sid, language)
    # What the caller had already told the menus goes with the call-back request.
    assert (request.category, request.postcode) == ("groceries", "3000")
    assert leuven.call_session(call).help_request_id == request.id


@pytest.mark.parametrize("result", ["queue-full", "error", "system-shutdown"])
def test_a_queue_that_fails_the_caller_still_leads_to_the_message(leuven, result):
    call = leuven.call()
    at_main(call, "nl")
    call.press("0")
    answer = call.queue_ends(result, queue_time=0)
    assert answer.says == texts("operator_unavailable", "nl") + texts("callback_message", "nl")


@pytest.mark.parametrize("language", LANGUAGES)
def test_after_talking_with_an_operator_the_caller_may_still_leave_a_message(leuven, language):
    call = leuven.call()
    at_main(call, language)
    call.press("0")
    answer = call.queue_ends("bridged", queue_time=95)  # the operator hung up first
    assert answer.says == texts("after_operator", language)
    assert answer.verbs[-2:] == ["Record", "Redirect"]
    done = call.record_nothing()  # nothing to add: no request for it
    assert done.says == texts("goodbye", language)
    done.assert_hangs_up()
    assert leuven.rows(HelpRequest) == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_outside_hours_0_offers_a_call_back_message_and_no_call_is_lost(closed, work, language):
    call = closed.call()
    at_category(call, language)
    answer = call.press("0")
    answer.assert_language(language)
    assert "Dial" not in answer.verbs
    assert answer.says == texts("operator_closed", language) + texts("callback_message", language)
    assert answer.verbs[-2:] == ["Record", "Redirect"]
    sid = new_sid("RE")
    call.record(sid).assert_hangs_up()
    request = closed.one(HelpRequest)
    assert (request.source, request.recording_sid, request.status) == ("callback", sid, "new")
    assert request.contact_id == closed.one(Contact).id  # the number to call back is in the vault
    assert work() is True  # and operators are told about it
    assert closed.one(HelpRequest).announced_at is not None


def test_outside_hours_a_caller_who_says_nothing_after_the_beep_still_gets_a_call_back(closed):
    call = closed.call()
    at_main(call, "nl")
    call.press("0")
    done = call.record_nothing()
    assert done.says == texts("callback_thanks", "nl")
    request = closed.one(HelpRequest)
    assert (request.source, request.recording_sid, request.category) == ("callback", None, None)


# -- Twilio retries --------------------------------------------------------------------------------


def _first_webhook(line: Hotline, call: Call) -> None:
    call.dial()


def _menu_answer(line: Hotline, call: Call) -> None:
    at_main(call, "fr")
    call.press("1")


def _recorded_message(line: Hotline, call: Call) -> None:
    at_message(call, "nl")
    call.record(new_sid("RE"))


def _empty_message(line: Hotline, call: Call) -> None:
    at_message(call, "en")
    call.record_nothing()


def _unanswered_dial(line: Hotline, call: Call) -> None:
    at_main(call, "nl")
    call.press("0")
    call.rings_out()


def _callback_message(line: Hotline, call: Call) -> None:
    _unanswered_dial(line, call)
    call.record(new_sid("RE"))


def _volunteer_message(line: Hotline, call: Call) -> None:
    at_main(call, "fr")
    call.press("2")
    call.record(new_sid("RE"))


def _reference_lookup(line: Hotline, call: Call) -> None:
    reference = make_request(line, "en").reference
    at_existing(call, "en")
    call.press(reference)


@pytest.mark.parametrize(
    "step",
    [
        _first_webhook,
        _menu_answer,
        _recorded_message,
        _empty_message,
        _unanswered_dial,
        _callback_message,
        _volunteer_message,
        _reference_lookup,
    ],
    ids=lambda step: step.__name__.strip("_"),
)
def test_a_retried_step_gets_identical_twiml_and_creates_nothing_twice(leuven, step):
    call = leuven.call()
    step(leuven, call)
    before = leuven.counts()
    first = call.answer
    again = call.retry()
    assert again.body == first.body
    assert leuven.counts() == before
    requests = leuven.rows(HelpRequest)
    assert len({r.call_sid for r in requests}) == len(requests)


# -- transcripts -----------------------------------------------------------------------------------


def transcription(line: Hotline, recording_sid: str, text: str, status: str = "completed"):
    params = {
        "AccountSid": "AC" + "0" * 32, "CallSid": new_sid("CA"), "RecordingSid": recording_sid,
        "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/AC{'0' * 32}"
        f"/Recordings/{recording_sid}",
        "TranscriptionSid": new_sid("TR"), "TranscriptionText": text,
        "TranscriptionStatus": status, "TranscriptionType": "fast",
        "TranscriptionUrl": "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32
        + "/Transcriptions/TR" + "0" * 32, "url": "",
    }  # fmt: skip
    return line.twilio.post("/twilio/voice/transcription", params)


def test_the_transcription_of_a_message_is_stored_on_the_request_holding_the_recording(leuven):
    sid, other = new_sid("RE"), new_sid("RE")
    make_request(leuven, "en", recording_sid=sid)
    make_request(leuven, "en", caller=NEIGHBOUR, recording_sid=other)
    response = transcription(leuven, sid, "I need bread and milk, I live on the Naamsestraat.")
    assert response.status_code == 204
    transcripts = {r.recording_sid: r.transcript for r in leuven.rows(HelpRequest)}
    assert transcripts == {sid: "I need bread and milk, I live on the Naamsestraat.", other: None}


def test_the_transcription_of_a_volunteers_message_is_stored_on_the_lead(leuven):
    call = leuven.call()
    at_main(call, "en")
    call.press("2")
    sid = new_sid("RE")
    call.record(sid)
    assert transcription(leuven, sid, "Anna Peeters from Kessel-Lo").status_code == 204
    assert leuven.one(VolunteerLead).transcript == "Anna Peeters from Kessel-Lo"


def test_a_failed_or_unsigned_transcription_changes_nothing(leuven):
    sid = new_sid("RE")
    make_request(leuven, "en", recording_sid=sid)
    assert transcription(leuven, sid, "", status="failed").status_code == 204
    unsigned = leuven.twilio.client.post(
        "/twilio/voice/transcription",
        data={
            "RecordingSid": sid,
            "TranscriptionText": "forged",
            "TranscriptionStatus": "completed",
        },
    )
    assert unsigned.status_code == 403
    assert leuven.one(HelpRequest).transcript is None


def test_with_transcription_on_every_recording_asks_twilio_for_a_transcript(app_at):
    line = app_at(hours=ALWAYS_OPEN, operators=OPERATORS, transcribe=True)
    call = line.call()
    answer = at_message(call, "en")
    assert answer.only("Record").get("transcribeCallback") == "/twilio/voice/transcription"
    assert answer.only("Record").get("transcribe") == "true"


# -- how long the caller waits ----------------------------------------------------------------


def test_a_menu_goes_on_after_one_key_and_a_postcode_after_four(leuven):
    call = leuven.call()
    welcome = call.dial()
    assert welcome.gather.get("numDigits") == "1"  # no 8-second wait after pressing a key
    postcode = at_postcode(leuven.call(), "nl")
    assert (postcode.gather.get("numDigits"), postcode.gather.get("finishOnKey")) == ("4", "#")
    existing = at_existing(leuven.call(), "nl")
    assert existing.gather.get("numDigits") == "6"


# -- callers who hang up while waiting for a person ----------------------------------------------


def hang_up(call: Call) -> None:
    response = call.twilio.post(
        "/twilio/voice/status", {**call.params, "CallStatus": "completed", "CallDuration": "40"}
    )
    assert response.status_code == 204


def test_a_caller_who_hangs_up_while_waiting_for_an_operator_gets_a_call_back(leuven):
    call = leuven.call()
    at_main(call, "fr")
    call.press("0").assert_waits_for_an_operator()
    call.waits()
    hang_up(call)
    callback = leuven.one(HelpRequest)
    assert (callback.source, callback.language, callback.recording_sid) == ("callback", "fr", None)


def test_a_caller_who_hangs_up_before_the_call_back_beep_is_not_lost(closed):
    call = closed.call()
    at_category(call, "nl")
    call.press("0")
    assert "Record" in call.answer.verbs
    hang_up(call)
    assert closed.one(HelpRequest).source == "callback"


def test_a_caller_who_hangs_up_in_a_menu_leaves_no_request(leuven):
    call = leuven.call()
    at_category(call, "en")
    hang_up(call)
    hang_up(call)  # Twilio may repeat the status callback
    assert leuven.rows(HelpRequest) == []
    assert leuven.call_session(call).end_status == "completed"


def test_the_status_callback_after_a_request_creates_nothing_more(leuven):
    call = leuven.call()
    at_message(call, "nl")
    call.record_nothing()
    hang_up(call)
    assert leuven.one(HelpRequest).source == "ivr"


def test_a_status_callback_that_is_not_an_end_changes_nothing(leuven):
    call = leuven.call()
    at_main(call, "en")
    call.press("0")
    call.twilio.post("/twilio/voice/status", {**call.params, "CallStatus": "in-progress"})
    assert leuven.rows(HelpRequest) == []
    assert leuven.call_session(call).ended_at is None
