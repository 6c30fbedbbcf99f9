"""How long a caller listens: the seconds of speech and silence in what the IVR plays.

The estimate is deliberately simple, so a town can check it by hand: every word takes
60 / (150 x speaking_rate) seconds (150 words a minute is comfortable synthetic speech
for older listeners; at a speaking_rate of 90 % one word takes 0.44 s), every Pause
its own seconds. ``hotline flow check|simulate --timing`` and the tests use the same
functions, on the engine's actions or on the Say and Pause verbs of the TwiML sent.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .engine import handle_input, resume, start_call, wait_turn
from .schema import DialNode, DigitsNode, Flow, MenuNode, PhoneNode, RecordNode
from .turns import CallContext, Effect, Gather, Pause, Say

WORDS_PER_MINUTE = 150
# The reference the measured calls are given: six different digits, so the end of
# its first full reading can be found among other numbers.
MEASURED_REFERENCE = "482913"


def rate(speaking_rate: str) -> float:
    """ "90%" -> 0.9."""
    return int(speaking_rate.rstrip("%")) / 100


def seconds_per_word(speaking_rate: str) -> float:
    """Seconds one word takes at the flow's speaking rate (0.44 s at "90%")."""
    return 60 / (WORDS_PER_MINUTE * rate(speaking_rate))


def word_count(text: str) -> int:
    """Spoken words: "Druk 1." is two, "3 0 0 0" four; punctuation alone is none."""
    return sum(1 for token in text.split() if any(char.isalnum() for char in token))


@dataclass(frozen=True)
class Listening:
    """Words and seconds of pause a caller hears; ``seconds`` turns them into time."""

    words: int = 0
    pause_seconds: float = 0
    pauses: int = 0

    def __add__(self, other: Listening) -> Listening:
        return Listening(
            self.words + other.words,
            self.pause_seconds + other.pause_seconds,
            self.pauses + other.pauses,
        )

    def seconds(self, speaking_rate: str) -> float:
        """The estimated time, in seconds, at the flow's speaking rate."""
        return self.words * seconds_per_word(speaking_rate) + self.pause_seconds


def heard(actions: Iterable[object]) -> list[Say | Pause]:
    """The Say and Pause actions in order, those inside a Gather included."""
    found: list[Say | Pause] = []
    for action in actions:
        if isinstance(action, Gather):
            found += heard(action.actions)
        elif isinstance(action, (Say, Pause)):
            found.append(action)
    return found


def listening(actions: Iterable[object], *, until_reference: str | None = None) -> Listening:
    """What the actions make a caller listen to; with ``until_reference``, only up to the
    last digit of its first complete reading (said one digit per Say, as the flow does)."""
    total = Listening()
    matched = 0
    for action in heard(actions):
        if isinstance(action, Pause):
            total += Listening(pause_seconds=action.seconds, pauses=1)
            continue
        total += Listening(words=word_count(action.text))
        if until_reference:
            text = action.text.strip()
            if text == until_reference[matched : matched + 1]:
                matched += 1
            else:
                matched = 1 if text == until_reference[:1] else 0
            if matched == len(until_reference):
                break
    return total


def says_reference(actions: Iterable[object], reference: str) -> bool:
    """Whether the actions read ``reference`` completely, digit by digit."""
    digits = [a.text.strip() for a in heard(actions) if isinstance(a, Say)]
    return any(
        digits[index : index + len(reference)] == list(reference)
        for index in range(len(digits) - len(reference) + 1)
    )


# -- per menu ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MenuCost:
    """What one input node makes a caller listen to, the first time they reach it."""

    node: str
    language: str
    listening: Listening
    seconds: float


def _measuring_results(effect: Effect) -> dict:
    """Answers to effects for a measured call: an ordinary caller, a stored request."""
    if effect.name in ("create_request", "create_callback_request"):
        return {"reference": MEASURED_REFERENCE, "callback": "yes"}
    if effect.name == "lookup_request":
        return {"status": "received"}
    if effect.name == "create_volunteer_lead":
        return {"lead": 1, "callback": "yes"}
    return {}


# -- paths ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PathCost:
    """The cheapest way, by keys only, from the call's start to an ending of the flow."""

    language: str
    end: str  # the hangup node reached
    keys: tuple[str, ...]  # what the caller pressed ("1", "3000", "rec" for a message)
    nodes: tuple[str, ...]  # the input nodes passed, in order
    listening: Listening
    seconds: float
    reference: bool  # whether the reference was read (the count stops at its last digit)


@dataclass(order=True)
class _Step:
    seconds: float
    order: int
    state: dict = field(compare=False)
    keys: tuple[str, ...] = field(compare=False)
    nodes: tuple[str, ...] = field(compare=False)
    total: Listening = field(compare=False)


def _inputs(node: object, context: CallContext, language: str) -> list[tuple[str, dict]]:
    """The key-only answers a caller may give at an input node (no 0, 9, * or silence);
    in a language menu only the caller's own language."""
    if isinstance(node, MenuNode):
        return [
            (key, {"digits": key})
            for key, option in node.options.items()
            if option.language in (None, language)
        ]
    if isinstance(node, DigitsNode):
        if node.check == "postcode" and context.postcodes:
            entry = sorted(context.postcodes)[0]
        else:
            entry = "123456789"[: node.length]
        return [(entry, {"digits": entry})]
    if isinstance(node, RecordNode):
        return [("message", {"recording_url_present": True})]
    return []  # phone nodes (the number is known) and dials: not part of a key-only path


def _play(flow: Flow, turn, context: CallContext, results: Callable[[Effect], dict]):
    actions = list(turn.actions)
    while turn.effect is not None and not turn.ended:
        turn = resume(flow, turn.state, context, results(turn.effect))
        actions += turn.actions
    return turn, actions


def cheapest_paths(
    flow: Flow,
    language: str,
    context: CallContext,
    *,
    results: Callable[[Effect], dict] = _measuring_results,
) -> dict[str, PathCost]:
    """For every ending (hangup node) a caller can reach by pressing keys, the cheapest way
    there in ``language``: the caller listens to every prompt in full, never presses 0, 9
    or *, and chooses their language in the first menu that offers it."""
    start, actions = _play(flow, start_call(flow, context, call_key="timing"), context, results)
    queue: list[_Step] = []
    order = itertools.count()
    found: dict[str, PathCost] = {}
    seen: set[tuple] = set()

    def push(state: dict, keys, nodes, total: Listening, played: list, ended: bool) -> None:
        reference = says_reference(played, MEASURED_REFERENCE)
        heard_now = listening(played, until_reference=MEASURED_REFERENCE if reference else None)
        total = total + heard_now
        node = state["node"]
        if ended or reference:
            seconds = round(total.seconds(flow.speaking_rate), 1)
            if node not in found or seconds < found[node].seconds:
                found[node] = PathCost(language, node, keys, nodes, total, seconds, reference)
            return
        # Rounded, so that equal paths (any category) are taken in key order.
        cost = round(total.seconds(flow.speaking_rate), 6)
        heapq.heappush(queue, _Step(cost, next(order), state, keys, nodes, total))

    push(start.state, (), (), Listening(), actions, start.ended)
    while queue:
        step = heapq.heappop(queue)
        state = step.state
        node = flow.nodes[state["node"]]
        key = (state["node"], state["language"], tuple(sorted(state["collected"].items())))
        if key in seen:
            continue
        seen.add(key)
        for pressed, answer in _inputs(node, context, language):
            turn, played = _play(
                flow, handle_input(flow, state, context, **answer), context, results
            )
            push(
                turn.state,
                (*step.keys, pressed),
                (*step.nodes, node.id),
                step.total,
                played,
                turn.ended,
            )
    return found


def path_to_reference(flow: Flow, language: str, context: CallContext) -> PathCost | None:
    """The cheapest key-only path on which the caller hears their reference, if any."""
    paths = [path for path in cheapest_paths(flow, language, context).values() if path.reference]
    return min(paths, key=lambda path: path.seconds, default=None)


def menu_costs(flow: Flow, language: str, context: CallContext) -> list[MenuCost]:
    """What each input node on the cheapest key-only paths costs, the first time it is heard.

    A node is measured as the caller first meets it on the cheapest way there, so
    reminders said "once" count where they are said.
    """
    costs: dict[str, MenuCost] = {}
    start, actions = _play(
        flow, start_call(flow, context, call_key="timing"), context, _measuring_results
    )
    todo = [(start.state, actions)]
    while todo:
        state, played = todo.pop(0)
        node = flow.nodes[state["node"]]
        if node.id in costs or not node.waits_for_caller or isinstance(node, PhoneNode):
            continue
        waiting = [a for a in played if isinstance(a, Gather)][-1:] or played
        cost = listening(waiting)
        seconds = round(cost.seconds(flow.speaking_rate), 1)
        costs[node.id] = MenuCost(node.id, language, cost, seconds)
        for _pressed, answer in _inputs(node, context, language):
            turn, after = _play(
                flow, handle_input(flow, state, context, **answer), context, _measuring_results
            )
            if not turn.ended:
                todo.append((turn.state, after))
    return list(costs.values())


# Older callers waiting for a person: a phrase every 7 to 10 seconds (design notes).
WAIT_GAP = (7.0, 10.0)


@dataclass(frozen=True)
class WaitCost:
    """How often a caller waiting in the queue of a dial node hears something."""

    node: str
    language: str
    turns: tuple[float, ...]  # seconds from one sentence to the next, one cycle of texts

    @property
    def shortest(self) -> float:
        return min(self.turns)

    @property
    def longest(self) -> float:
        return max(self.turns)


def wait_costs(flow: Flow, language: str) -> list[WaitCost]:
    """For each dial node where callers wait in a queue: the seconds of each wait turn (a
    sentence and the silence after it) over one round of its texts and places."""
    found = []
    for node in flow.nodes.values():
        if not isinstance(node, DialNode) or not node.queues:
            continue
        state = {"node": node.id, "language": language, "collected": {}}
        cycle = 2 * max(1, len(node.wait)) + 1
        turns = []
        for turn in range(cycle):
            (gather,) = wait_turn(flow, state, turn=turn, position=2)
            turns.append(listening(gather.actions).seconds(flow.speaking_rate) + gather.timeout)
        found.append(WaitCost(node=node.id, language=language, turns=tuple(turns)))
    return found


def timing_report(
    flow: Flow,
    context: CallContext,
    *,
    languages: Sequence[str] | None = None,
) -> list[str]:
    """Lines of text: per language, each menu's seconds, each ending's cheapest path, and
    the seconds until the reference (the figure ``path_budget`` limits)."""
    lines = [
        f"{flow.name}: {WORDS_PER_MINUTE} words/min x {flow.speaking_rate} "
        f"= {seconds_per_word(flow.speaking_rate):.2f} s a word, plus pauses"
    ]
    for language in languages or list(flow.languages):
        lines.append(f"[{language}] menus (first time heard):")
        for menu in menu_costs(flow, language, context):
            warn = "  <- over menu_budget" if menu.seconds > flow.menu_budget else ""
            lines.append(
                f"  {menu.node:<28} {menu.seconds:6.1f} s  ({menu.listening.words} words, "
                f"{menu.listening.pauses} pauses){warn}"
            )
        lines.append(f"[{language}] cheapest key-only paths:")
        for path in sorted(
            cheapest_paths(flow, language, context).values(), key=lambda p: p.seconds
        ):
            until = " until the reference" if path.reference else ""
            lines.append(
                f"  to {path.end:<25} {path.seconds:6.1f} s{until}  keys {' '.join(path.keys)}"
            )
        for wait in wait_costs(flow, language):
            warn = (
                ""
                if WAIT_GAP[0] <= wait.shortest <= wait.longest <= WAIT_GAP[1]
                else ("  <- not every 7-10 s")
            )
            lines.append(
                f"[{language}] waiting at {wait.node}: a sentence every {wait.shortest:.1f} to "
                f"{wait.longest:.1f} s{warn}"
            )
        reference = path_to_reference(flow, language, context)
        if reference is not None:
            over = "  <- over path_budget" if reference.seconds > flow.path_budget else ""
            lines.append(
                f"[{language}] until the reference: {reference.seconds:.1f} s "
                f"({reference.listening.words} words, {reference.listening.pauses} pauses; "
                f"budget {flow.path_budget} s){over}"
            )
    return lines


def budget_warnings(flow: Flow, context: CallContext) -> list[str]:
    """What ``hotline flow check`` warns about: a menu longer than ``menu_budget`` seconds,
    a path to the reference longer than ``path_budget``, a wait in the queue where the
    caller hears nothing for more than 10 s (or is talked to more often than every 7 s)."""
    warnings = []
    for language in flow.languages:
        for menu in menu_costs(flow, language, context):
            if menu.seconds > flow.menu_budget:
                warnings.append(
                    f"{flow.source}: node '{menu.node}' [{language}]: its prompts take "
                    f"{menu.seconds:.1f} s, more than menu_budget ({flow.menu_budget} s)"
                )
        for wait in wait_costs(flow, language):
            if not WAIT_GAP[0] <= wait.shortest <= wait.longest <= WAIT_GAP[1]:
                warnings.append(
                    f"{flow.source}: node '{wait.node}' [{language}]: a waiting caller hears "
                    f"something every {wait.shortest:.1f} to {wait.longest:.1f} s, not every "
                    f"{WAIT_GAP[0]:g} to {WAIT_GAP[1]:g} s (wait_every, or shorter wait texts)"
                )
        path = path_to_reference(flow, language, context)
        if path is not None and path.seconds > flow.path_budget:
            warnings.append(
                f"{flow.source}: [{language}] the key-only path to the reference takes "
                f"{path.seconds:.1f} s, more than path_budget ({flow.path_budget} s)"
            )
    return warnings
