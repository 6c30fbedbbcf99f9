"""A scripted caller for tests: drives the engine the way the web layer does."""

from __future__ import annotations

import json

from hotline.ivr import (
    CallContext,
    Effect,
    Flow,
    Gather,
    Say,
    Turn,
    handle_input,
    operator_fallback,
    resume,
    start_call,
)

# The answers the app gives, unless a test says otherwise.
APP_RESULTS = {
    "create_request": {"reference": "482913"},
    "lookup_request": {"status": "received"},
}


class Caller:
    """One phone call: press keys, speak, stay silent; remembers what was heard and done."""

    def __init__(self, flow: Flow, context: CallContext, results: dict | None = None) -> None:
        self.flow = flow
        self.context = context
        self.results = {**APP_RESULTS, **(results or {})}
        self.effects: list[Effect] = []
        self.turns: list[Turn] = []
        self.actions: list = []  # everything played since the caller last did something

    # -- what the caller does -------------------------------------------------

    def dial(self, call_key: str = "CA-test") -> Caller:
        return self._play(start_call(self.flow, self.context, call_key=call_key))

    def press(self, digits: str) -> Caller:
        return self._play(handle_input(self.flow, self._stored(), self.context, digits=digits))

    def speak(self, words: str) -> Caller:
        return self._play(handle_input(self.flow, self._stored(), self.context, speech=words))

    def wait(self) -> Caller:
        """Say nothing until the Gather times out."""
        return self._play(handle_input(self.flow, self._stored(), self.context))

    def record(self, *, spoke: bool = True) -> Caller:
        return self._play(
            handle_input(self.flow, self._stored(), self.context, recording_url_present=spoke)
        )

    def nobody_answers(self) -> Caller:
        return self._play(operator_fallback(self.flow, self._stored(), self.context))

    def choose(self, language: str) -> Caller:
        """Pick a language in the Leuven welcome menu."""
        return self.press({"nl": "1", "fr": "2", "en": "3"}[language])

    # -- what the caller experienced --------------------------------------------

    @property
    def state(self) -> dict:
        return self.turns[-1].state

    @property
    def node(self) -> str:
        return self.state["node"]

    @property
    def ended(self) -> bool:
        return self.turns[-1].ended

    @property
    def says(self) -> list[Say]:
        """Every Say since the caller last acted, including those inside a Gather."""
        found = []
        for action in self.actions:
            inner = action.actions if isinstance(action, Gather) else [action]
            found += [item for item in inner if isinstance(item, Say)]
        return found

    @property
    def heard(self) -> str:
        return " ".join(say.text for say in self.says)

    @property
    def last(self):
        """The last action played: what the call is waiting on (Gather, Record, Dial, Hangup)."""
        return self.actions[-1]

    def text(self, node_id: str, index: int = 0) -> str:
        """A node's prompt in the caller's language, as written in the flow file."""
        return self.flow.nodes[node_id].say[index][self.state["language"]]

    def message(self, name: str) -> str:
        return self.flow.messages[name][self.state["language"]]

    # -- plumbing ---------------------------------------------------------------

    def _stored(self) -> dict:
        # The web layer keeps state in a database column: prove it survives JSON.
        return json.loads(json.dumps(self.state))

    def _play(self, turn: Turn) -> Caller:
        self.turns.append(turn)
        self.actions = list(turn.actions)
        while turn.effect is not None:
            self.effects.append(turn.effect)
            turn = resume(
                self.flow, self._stored(), self.context, self.results.get(turn.effect.name, {})
            )
            self.turns.append(turn)
            self.actions += turn.actions
        return self
