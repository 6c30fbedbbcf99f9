"""The IVR interpreter: (flow, state, input) -> Turn. No HTTP, no telephony, no database.

The web layer keeps Turn.state between webhooks and passes it back; the engine
never keeps anything itself, so any worker can answer any step of any call.

State keys (all JSON-serialisable):
    step       increases by one on every Turn (retry detection: same call + same step)
    node       the node the call is at (waiting for input, a resume, or ended)
    language   the caller's language key, e.g. "nl"
    collected  facts gathered so far, e.g. {"category": "groceries", "postcode": "3000"}
    misses     silent or wrong answers in the current node
    history    input nodes behind the current one, for the * (back) key
    entered    the last number that failed a check (read back as {entered})
    call_key   the key given to start_call (e.g. the CallSid)
    phone      at a phone node: "ask" (waiting for a number) or "confirm" (read back)
    explained  with reminders = "once": the node where 9 and * were first explained
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Mapping

from . import prompts, speech
from .schema import (
    BACK_KEY,
    OPERATOR_KEY,
    REPEAT_KEY,
    BranchNode,
    DialNode,
    DigitsNode,
    EffectNode,
    Flow,
    HangupNode,
    MenuNode,
    Node,
    PhoneNode,
    RecordNode,
    SayNode,
    Text,
)
from .turns import CallContext, Dial, Effect, Gather, Hangup, Pause, ReadNumber, Record, Say, Turn


def start_call(flow: Flow, context: CallContext, *, call_key: str) -> Turn:
    """The first Turn of a call: greet and wait at the start node."""
    state = {
        "step": 0,
        "node": flow.start,
        "language": flow.default_language,
        "collected": {},
        "misses": 0,
        "history": [],
        "entered": "",
        "call_key": call_key,
    }
    call = _Call(flow, state, context)
    call.enter(flow.start)
    return call.turn()


def handle_input(
    flow: Flow,
    state: dict,
    context: CallContext,
    *,
    digits: str | None = None,
    speech: str | None = None,
    recording_url_present: bool = False,
) -> Turn:
    """Answer what the caller did after a Gather, Record or Dial (no digits, no speech: silence)."""
    call = _Call(flow, state, context)
    node = call.node
    if isinstance(node, MenuNode):
        call.answer_menu(node, (digits or "").strip(), (speech or "").strip())
    elif isinstance(node, DigitsNode):
        call.answer_digits(node, (digits or "").strip(), (speech or "").strip())
    elif isinstance(node, RecordNode):
        call.state["collected"][node.store] = bool(recording_url_present)
        call.forward(node, node.goto)
    elif isinstance(node, DialNode) and (digits or "").strip() == BACK_KEY:
        call.forward(node, node.unavailable)  # * while waiting: a message instead
    elif isinstance(node, DialNode):
        call.forward(node, node.goto if context.operator_available else node.unavailable)
    elif isinstance(node, PhoneNode):
        call.answer_phone(node, (digits or "").strip(), (speech or "").strip())
    else:
        # Not waiting for the caller (an effect or a hangup): a retried webhook; say it again.
        call.enter(node.id)
    return call.turn()


def resume(flow: Flow, state: dict, context: CallContext, result: dict) -> Turn:
    """Go on after the app carried out Turn.effect; result e.g. {"reference": "482913"}."""
    call = _Call(flow, state, context)
    node = call.node
    if isinstance(node, PhoneNode):
        call.number_checked(node, result.get("number"))
        return call.turn()
    if not isinstance(node, EffectNode):
        raise ValueError(
            f"resume() needs a call waiting at an effect node, not at {node.type} node '{node.id}'"
        )
    if "language" in node.returns and result.get("language") in flow.languages:
        # e.g. a volunteer recognised by their number: spoken to in their own language
        call.state["language"] = result["language"]
    for key in node.returns:
        if key == "language":
            continue
        if key in result:
            value = result[key]
            call.state["collected"][key] = (
                value if isinstance(value, bool) or value is None else str(value)
            )
    target = node.goto
    if node.branch_on is not None and node.branches is not None:
        target = node.branches.get(str(result.get(node.branch_on)), node.goto)
    call.enter(target)
    return call.turn()


def operator_fallback(flow: Flow, state: dict, context: CallContext) -> Turn:
    """Nobody answered the operators' Dial (or the caller chose to leave a message instead).

    At a dial node this follows its "unavailable" exit; anywhere else it takes the
    operator path as if no operator were available. Same as handle_input() at a
    dial node with context.operator_available=False.
    """
    unavailable = dataclasses.replace(context, operator_available=False)
    call = _Call(flow, state, unavailable)
    node = call.node
    if isinstance(node, DialNode):
        call.forward(node, node.unavailable)
    else:
        call.forward(node, flow.operator)
    return call.turn()


def wait_turn(flow: Flow, state: dict, *, turn: int, position: int | None) -> list:
    """What a caller waiting in the queue of a dial node hears next (turn 0, 1, 2, ...).

    Each turn is one sentence said while listening for a key (the app answers * with a
    message), then silence until ``wait_every`` seconds after the turn began; then the
    next turn. Turn 0 is silence only: the dial node's own prompt was just said. Then the
    ``wait`` texts in turn, with the caller's place (``position``, 1 = next) between two.
    """
    from .timing import listening  # timing uses the engine: imported when first needed

    node = flow.nodes[state["node"]]
    if not isinstance(node, DialNode):
        raise ValueError(f"wait_turn() needs a call waiting at a dial node, not at '{node.id}'")
    language = state["language"]
    text: Text | None = None
    place = None
    if position is not None and node.place is not None and node.place_first is not None:
        place = node.place_first if position <= 1 else node.place
    if turn > 0 and node.wait and (turn % 2 == 1 or place is None):
        text = node.wait[((turn - 1) // 2 if place is not None else turn - 1) % len(node.wait)]
    elif turn > 0:
        text = place
    values = {**state.get("collected", {}), "position": str(position or 1)}
    code = flow.language_code(language)
    lines = prompts.speak([text[language]], code, values) if text is not None else []
    spoken = listening(lines).seconds(flow.speaking_rate) if lines else 0.0
    return [
        Gather(
            actions=lines,
            num_digits=1,
            finish_on_key=None,
            # The rest of the turn is silence, listening on: a sentence every wait_every s.
            timeout=max(2, round(node.wait_every - spoken)),
            speech_hints=[],
            language=code,
            listens_for_speech=False,
            falls_through=True,
        )
    ]


def run_effects(
    flow: Flow, turn: Turn, context: CallContext, perform: Callable[[Effect], dict]
) -> Turn:
    """Carry out a Turn's effects one after another with perform(effect) -> result.

    Returns one Turn whose actions are all the actions in order, up to the next
    moment the caller is needed: what a webhook sends back in one response.
    """
    actions = list(turn.actions)
    while turn.effect is not None and not turn.ended:
        turn = resume(flow, turn.state, context, perform(turn.effect))
        actions.extend(turn.actions)
    return Turn(state=turn.state, actions=actions, effect=turn.effect, ended=turn.ended)


class _Call:
    """One step of one call: a private copy of the state and the actions produced so far."""

    def __init__(self, flow: Flow, state: dict, context: CallContext) -> None:
        self.flow = flow
        self.context = context
        # Never change the caller's dict: the web layer may still need the old state.
        self.state = copy.deepcopy(state)
        self.actions: list = []
        self.effect: Effect | None = None
        self.ended = False

    @property
    def node(self) -> Node:
        return self.flow.nodes[self.state["node"]]

    @property
    def code(self) -> str:
        return self.flow.language_code(self.state["language"])

    def turn(self) -> Turn:
        self.state["step"] += 1
        return Turn(state=self.state, actions=self.actions, effect=self.effect, ended=self.ended)

    # -- moving through the graph ----------------------------------------------

    def enter(self, node_id: str) -> None:
        """Run nodes from node_id until one waits for the caller, the app, or ends the call."""
        # Validation rejects loops without input; the bound only guards against engine bugs.
        for _ in range(len(self.flow.nodes) + 1):
            if node_id != self.state["node"]:
                self.state["misses"] = 0
            self.state["node"] = node_id
            node = self.flow.nodes[node_id]
            if isinstance(node, PhoneNode) and self.context.caller_number_known:
                node_id = node.goto  # we can call them back: nothing to ask
                continue
            if node.waits_for_caller:
                self.present(node)
                return
            self.say(node.say)
            if isinstance(node, SayNode):
                node_id = node.goto
            elif isinstance(node, BranchNode):
                node_id = node.then if getattr(self.context, node.condition) else node.otherwise
            elif isinstance(node, EffectNode):
                self.effect = Effect(name=node.effect, data=self.effect_data(node))
                return
            elif isinstance(node, HangupNode):
                self.actions.append(Hangup())
                self.ended = True
                return
            elif isinstance(node, DialNode):
                self.actions.append(Dial(node.target))
                return
        raise RuntimeError(f"{self.flow.source}: no input node reached from '{node_id}'")

    def forward(self, node: Node, target: str) -> None:
        """Leave node for target, remembering where * should bring the caller back to."""
        history = self.state["history"]
        if isinstance(node, (MenuNode, DigitsNode)):
            history.append(node.id)
        if target in history:
            # Going forward to a node already behind us (re-enter the postcode): cut the loop.
            del history[history.index(target) :]
        self.enter(target)

    def back(self) -> None:
        self.enter(self.state["history"].pop())

    def can_go_back(self, node: MenuNode | DigitsNode | PhoneNode) -> bool:
        # At a phone node * means "no number, thank you".
        return not isinstance(node, PhoneNode) and node.back and bool(self.state["history"])

    def miss(self, node: MenuNode | DigitsNode | PhoneNode, kind: str) -> None:
        """Silence or a wrong key: say so kindly and ask again, or get a person after max_misses."""
        self.state["misses"] += 1
        if self.state["misses"] >= self.flow.max_misses and isinstance(node, PhoneNode):
            self.declined(node)  # asked for a number on the way to a call-back: go on without
        elif self.state["misses"] >= self.flow.max_misses:
            self.say([self.flow.messages["give_up"]])
            self.forward(node, self.flow.operator)
        else:
            self.say([self.flow.messages[kind]])
            self.present(node)

    # -- answering the caller --------------------------------------------------

    def answer_menu(self, node: MenuNode, digits: str, spoken: str) -> None:
        if digits:
            choice: str | None = digits
        elif spoken:
            choice = self.choice_from_speech(node, spoken)
            if choice is None:
                self.miss(node, "invalid")
                return
        elif node.no_input is not None:
            choice = node.no_input
        else:
            self.miss(node, "no_input")
            return
        if self.common_key(node, choice):
            return
        option = node.options.get(choice)
        if option is None:
            self.miss(node, "invalid")
            return
        if option.language:
            self.state["language"] = option.language
        self.state["collected"].update(option.set)
        self.forward(node, option.goto)

    def answer_digits(self, node: DigitsNode, digits: str, spoken: str) -> None:
        entry = digits
        if not entry and spoken:
            entry = self.common_key_from_speech(spoken) or speech.digits_from_speech(spoken)
            if not entry:
                self.miss(node, "invalid")
                return
        if not entry:
            self.miss(node, "no_input")
            return
        # A lone 0, 9 or * cannot be a number of two or more digits: it is a menu key.
        if self.common_key(node, entry):
            return
        if len(entry) != node.length or not entry.isdigit():
            self.miss(node, "invalid")
            return
        if node.check == "postcode" and entry not in self.context.postcodes:
            self.state["entered"] = entry
            self.forward(node, node.invalid or node.goto)
            return
        self.state["collected"][node.store] = entry
        self.forward(node, node.goto)

    def answer_phone(self, node: PhoneNode, digits: str, spoken: str) -> None:
        """A number keyed in (then checked by the app), or 1/2 after hearing it read back."""
        entry = digits or (speech.digits_from_speech(spoken) if spoken else "")
        if self.state.get("phone") == "confirm":
            if entry == "1":
                self.state.pop("phone", None)
                self.forward(node, node.goto)
            elif entry == "2":
                self.state["phone"] = "ask"
                self.present(node)
            elif entry == BACK_KEY:
                self.declined(node)
            elif entry in (OPERATOR_KEY, REPEAT_KEY):
                self.common_key(node, entry)
            else:
                self.miss(node, "invalid" if entry else "no_input")
            return
        if entry == BACK_KEY:
            self.declined(node)
        elif not entry:
            self.miss(node, "invalid" if spoken else "no_input")
        elif len(entry) == 1 and self.common_key(node, entry):
            return
        elif not entry.isdigit() or not 2 <= len(entry) <= 15:
            self.number_checked(node, None)
        else:
            # The number goes to the app, never into the state: the app keeps it in its vault.
            self.effect = Effect(name="check_number", data={"digits": entry})

    def number_checked(self, node: PhoneNode, ref: object) -> None:
        """The app checked a keyed-in number: read it back, or say it is not a number."""
        if ref:
            self.state["collected"][node.store] = str(ref)
            self.state["phone"] = "confirm"
            self.present(node)
            return
        self.state["phone"] = "ask"
        self.miss(node, "number_invalid")

    def declined(self, node: PhoneNode) -> None:
        self.state.pop("phone", None)
        self.state["collected"].pop(node.store, None)
        self.forward(node, node.declined)

    def common_key(self, node: MenuNode | DigitsNode | PhoneNode, choice: str) -> bool:
        """Handle 0, 9 and *; False if choice is none of them (or * with nowhere to go back to)."""
        if choice == OPERATOR_KEY:
            self.forward(node, self.flow.operator)
        elif choice == REPEAT_KEY:
            self.present(node)
        elif choice == BACK_KEY and self.can_go_back(node):
            self.back()
        else:
            return False
        return True

    def common_key_from_speech(self, spoken: str) -> str | None:
        utterance = speech.normalize(spoken)
        for name in ("operator", "repeat", "back"):
            common = self.flow.keys[name]
            if speech.keyword_position(utterance, _all_words(common.speech)) is not None:
                return common.key
        return None

    def choice_from_speech(self, node: MenuNode, spoken: str) -> str | None:
        """The key a spoken answer stands for, or None if it matches nothing."""
        utterance = speech.normalize(spoken)
        # Asking for a person wins: "I want to talk to an operator" is not option "talk".
        operator = self.flow.keys["operator"]
        if speech.keyword_position(utterance, _all_words(operator.speech)) is not None:
            return operator.key
        best: tuple[int, str] | None = None
        for key, option in node.options.items():
            position = speech.keyword_position(utterance, _all_words(option.speech))
            if position is not None and (best is None or position < best[0]):
                best = (position, key)
        if best is not None:
            return best[1]
        for name in ("repeat", "back"):
            common = self.flow.keys[name]
            if speech.keyword_position(utterance, _all_words(common.speech)) is not None:
                return common.key
        return speech.single_digit_from_speech(spoken)

    # -- producing actions -----------------------------------------------------

    def present(self, node: Node) -> None:
        """Ask the question of an input node (again)."""
        if isinstance(node, RecordNode):
            self.say(node.say)
            self.actions.append(
                Record(
                    max_length=node.max_length,
                    finish_on_key=node.finish_on_key,
                    timeout=node.timeout,
                )
            )
            return
        if isinstance(node, PhoneNode):
            self.present_phone(node)
            return
        assert isinstance(node, (MenuNode, DigitsNode))
        # The prompt goes inside the Gather, so callers who know the menu can press early.
        lines = self.pause_after_speech(self.spoken(node.say) + self.spoken_keys(node))
        self.actions.append(
            Gather(
                actions=lines,
                num_digits=1 if isinstance(node, MenuNode) else node.length,
                # Menus end on the one key; numbers may be ended early with #.
                finish_on_key=None if isinstance(node, MenuNode) else "#",
                timeout=node.timeout or self.flow.timeout,
                speech_hints=self.speech_hints(node),
                **self.recognition(),
            )
        )

    def present_phone(self, node: PhoneNode) -> None:
        """Ask for a number (any length, ended by #), or read the checked one back."""
        self.state.setdefault("phone", "ask")
        if self.state["phone"] != "confirm":
            lines = self.spoken([self.flow.messages["number_ask"]])
            num_digits, finish_on_key = None, "#"
        else:
            lines = self.spoken_with_number(
                self.flow.messages["number_confirm"], self.state["collected"][node.store]
            )
            num_digits, finish_on_key = 1, None
        self.actions.append(
            Gather(
                actions=self.pause_after_speech(lines),
                num_digits=num_digits,
                finish_on_key=finish_on_key,
                timeout=node.timeout or self.flow.timeout,
                speech_hints=self.speech_hints(node),
                **self.recognition(),
            )
        )

    def recognition(self) -> dict:
        """How speech is recognised in the caller's language (set per language in the flow)."""
        language = self.flow.languages[self.state["language"]]
        return {
            "language": language.speech_language or language.code,
            "speech_model": language.speech_model,
            "speech_timeout": self.flow.speech_timeout,
        }

    def spoken_with_number(self, text: Text, ref: str) -> list[Say | Pause | ReadNumber]:
        """A sentence with {number} in it: the app reads the number at that place."""
        before, _, after = text[self.state["language"]].partition("{number}")
        lines: list[Say | Pause | ReadNumber] = list(
            self.spoken([{self.state["language"]: before}])
        )
        lines.append(ReadNumber(ref=ref, language=self.code))
        # "{number}. Klopt dit?" : the read-back is a sentence of its own.
        lines += self.spoken([{self.state["language"]: after.lstrip(" .,;:")}])
        return lines

    def spoken_keys(self, node: MenuNode | DigitsNode) -> list[Say | Pause]:
        """ "For groceries, press 1." per option, then 0, 9 and maybe *; a pause before each."""
        language = self.state["language"]
        operator = self.flow.keys["operator"]
        lines: list[Say | Pause] = []
        told: set[str] = set()  # languages in which 0 was said with their language's option
        if isinstance(node, MenuNode):
            for option in node.options.values():
                lines += self.option_line(option.label, option.key, option.language or language)
                if option.language:
                    # A language menu: each language's lines end with how to reach a person
                    # in it, in one breath ("Français, tapez 2. Un collaborateur, tapez 0.").
                    lines += self.option_line(operator.label, operator.key, option.language)[1:]
                    told.add(option.language)
        common = ["operator"]
        common += [
            name
            for name in (["repeat", "back"] if self.can_go_back(node) else ["repeat"])
            if self.reminded(node, name)
        ]
        for name in common:
            key = self.flow.keys[name]
            if name == "operator" and isinstance(node, MenuNode):
                # Before the caller chose a language, say how to reach a person in each.
                for spoken_in in self.menu_languages(node):
                    if spoken_in not in told:
                        lines += self.option_line(key.label, key.key, spoken_in)
                continue
            line = self.option_line(key.label, key.key, language)
            # 0, 9 and * are one block, said in one breath after the menu's own options.
            lines += line[1:] if name != "operator" else line
        return lines

    def reminded(self, node: MenuNode | DigitsNode, name: str) -> bool:
        """Whether this presentation of node explains key ``name`` (9 or *): see REMINDERS.

        0 is always said (a person is the promise). After a miss in this node the caller
        may be lost, so every reminder is said, whatever the setting.
        """
        mode = self.flow.reminders
        if mode == "every_menu" or self.state["misses"]:
            return True
        if mode == "after_miss":
            return False
        if isinstance(node, MenuNode) and any(o.language for o in node.options.values()):
            return False  # "once" means in the caller's language, after they chose it
        explained = self.state.setdefault("explained", {})
        # Said again when the caller comes back to (or repeats) the node that explained it.
        return explained.setdefault(name, node.id) == node.id

    def menu_languages(self, node: MenuNode) -> list[str]:
        """The caller's language, then every other language this menu lets them choose."""
        chosen = [option.language for option in node.options.values() if option.language]
        return list(dict.fromkeys([self.state["language"], *chosen]))

    def option_line(self, label: Text, key: str, language: str) -> list[Say | Pause]:
        spoken = self.flow.languages[language]
        # Option first, key last: callers hear what a key does before which key it is.
        text = spoken.press.replace("{label}", label[language]).replace(
            "{key}", spoken.key_names.get(key, key)
        )
        return [Pause(prompts.PAUSE_SECONDS), Say(text, spoken.code)]

    def speech_hints(self, node: MenuNode | DigitsNode | PhoneNode) -> list[str]:
        language = self.state["language"]
        hints: list[str] = []
        if isinstance(node, (MenuNode, DigitsNode)):
            hints += node.hints.get(language, ())
        if isinstance(node, MenuNode):
            for option in node.options.values():
                hints += option.speech.get(option.language or language, ())
        for common in self.flow.keys.values():
            hints += common.speech.get(language, ())
        return list(dict.fromkeys(hints))

    def say(self, texts: tuple[Text, ...] | list[Text]) -> None:
        self.actions.extend(self.pause_after_speech(self.spoken(texts)))

    def pause_after_speech(self, lines: list[Say | Pause]) -> list[Say | Pause]:
        # Sentences from two nodes (or a "sorry" and the menu) get a breath between them too.
        if (
            lines
            and isinstance(lines[0], Say)
            and self.actions
            and isinstance(self.actions[-1], Say)
        ):
            return [Pause(prompts.PAUSE_SECONDS), *lines]
        return lines

    def spoken(self, texts: tuple[Text, ...] | list[Text]) -> list[Say | Pause]:
        language = self.state["language"]
        return prompts.speak(
            [text[language] for text in texts], self.code, self.placeholder_values()
        )

    def placeholder_values(self) -> dict[str, object]:
        language = self.flow.languages[self.state["language"]]
        municipalities = list(
            dict.fromkeys(self.context.postcodes[code] for code in sorted(self.context.postcodes))
        )
        return {
            **self.state["collected"],
            "entered": self.state.get("entered", ""),
            "municipalities": prompts.spoken_list(municipalities, language.and_word),
            "register_url": prompts.spoken_url(self.context.register_url),
        }

    def effect_data(self, node: EffectNode) -> dict:
        collected = {**self.state["collected"], "language": self.state["language"]}
        # Only what was collected: a call-back request from the main menu has no category yet.
        return {name: collected[name] for name in node.data if name in collected}


def _all_words(keywords: Mapping[str, tuple[str, ...]]) -> list[str]:
    # Match keywords of every language: a Dutch caller may still say "pharmacie".
    return [word for words in keywords.values() for word in words]
