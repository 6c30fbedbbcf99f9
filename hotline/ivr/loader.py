"""Read flow files (TOML) into Flow objects, and refuse flows a caller could get lost in.

Every problem is a FlowError naming the file, the node and the key, so the
person editing the menu knows where to look without reading Python.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .prompts import BUILTIN_PLACEHOLDERS, DIGITS_SUFFIX, placeholders
from .schema import (
    CHECKS,
    COMMON_KEYS,
    CONDITIONS,
    DEFAULT_MAX_WAIT,
    QUEUE_TARGET,
    REMINDERS,
    BranchNode,
    CommonKey,
    DialNode,
    DigitsNode,
    EffectNode,
    Flow,
    HangupNode,
    Language,
    MenuNode,
    Node,
    Option,
    PhoneNode,
    RecordNode,
    SayNode,
    Text,
)

MESSAGES = ("no_input", "invalid", "give_up")
# Needed only by flows with a "phone" node; {number} in number_confirm is where it is read.
PHONE_MESSAGES = ("number_ask", "number_confirm", "number_invalid")
OPTION_KEYS = tuple("12345678")
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")
SPEAKING_RATE = re.compile(r"^\d{2,3}%$")


class FlowError(Exception):
    """A flow file that cannot be used; the message names file, node and key."""


def load_flows(directory: str | Path) -> dict[str, Flow]:
    """Load every *.toml file in a directory, keyed by file stem ("leuven")."""
    return {path.stem: load_flow(path) for path in sorted(Path(directory).glob("*.toml"))}


def load_flow(path: str | Path) -> Flow:
    """Load and validate one flow file."""
    source = str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        # tomllib's message already says "(at line 3, column 7)".
        raise FlowError(f"{source}: not valid TOML: {error}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise FlowError(f"{source}: cannot be read: {error}") from None
    flow = _Reader(source).flow(raw)
    _check_graph(flow)
    return flow


class _Reader:
    """Builds a Flow from parsed TOML, one table at a time, rejecting unknown keys."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.language_keys: tuple[str, ...] = ()

    def error(self, node: str | None, key: str, problem: str) -> FlowError:
        return _error(self.source, node, key, problem)

    # -- generic pieces --------------------------------------------------------

    def table(self, value: Any, node: str | None, key: str, allowed: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            raise self.error(node, key, "must be a table")
        for name in value:
            if name not in allowed:
                raise self.error(
                    node, _join(key, name), f"unknown key (expected one of: {', '.join(allowed)})"
                )
        return value

    def get(
        self,
        table: dict,
        name: str,
        kind: type | tuple,
        node: str | None,
        prefix: str,
        default: Any = ...,
    ) -> Any:
        key = _join(prefix, name)
        if name not in table:
            if default is ...:
                raise self.error(node, key, "is required")
            return default
        value = table[name]
        # bool is an int in Python; a timeout of `true` is a mistake, not 1 second.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.error(node, key, f"must be {_kind_name(kind)}, not {value!r}")
        return value

    def positive(
        self, table: dict, name: str, node: str | None, prefix: str, default: Any = ...
    ) -> Any:
        value = self.get(table, name, int, node, prefix, default)
        if value is not None and value <= 0:
            raise self.error(node, _join(prefix, name), f"must be a positive number, not {value}")
        return value

    def text(
        self, value: Any, node: str | None, key: str, languages: tuple[str, ...] | None = None
    ) -> Text:
        needed = languages or self.language_keys
        if not isinstance(value, dict):
            raise self.error(
                node, key, f"must be a table of texts per language ({', '.join(needed)})"
            )
        for language, sentence in value.items():
            if language not in self.language_keys:
                raise self.error(
                    node, _join(key, language), f"language '{language}' is not offered by this flow"
                )
            if not isinstance(sentence, str) or not sentence.strip():
                raise self.error(node, _join(key, language), "must be a non-empty text")
        for language in needed:
            if language not in value:
                raise self.error(node, _join(key, language), "missing text in this language")
        return dict(value)

    def texts(self, value: Any, node: str, key: str) -> tuple[Text, ...]:
        if isinstance(value, list):
            return tuple(
                self.text(item, node, f"{key}[{index}]") for index, item in enumerate(value)
            )
        return (self.text(value, node, key),)

    def keywords(self, value: Any, node: str | None, key: str) -> dict[str, tuple[str, ...]]:
        if not isinstance(value, dict):
            raise self.error(node, key, "must be a table of keyword lists per language")
        for language, words in value.items():
            if language not in self.language_keys:
                raise self.error(
                    node, _join(key, language), f"language '{language}' is not offered by this flow"
                )
            if not isinstance(words, list) or not all(
                isinstance(word, str) and word.strip() for word in words
            ):
                raise self.error(node, _join(key, language), "must be a list of words")
        return {language: tuple(words) for language, words in value.items()}

    # -- the file --------------------------------------------------------------

    def flow(self, raw: dict) -> Flow:
        self.table(raw, None, "", ("flow", "languages", "messages", "keys", "nodes"))
        head = self.table(
            self.get(raw, "flow", dict, None, ""),
            None,
            "flow",
            (
                "name",
                "start",
                "operator",
                "default_language",
                "speaking_rate",
                "timeout",
                "max_misses",
                "reminders",
                "speech_timeout",
                "menu_budget",
                "path_budget",
            ),
        )
        reminders = self.get(head, "reminders", str, None, "flow", "every_menu")
        if reminders not in REMINDERS:
            raise self.error(
                None,
                "flow.reminders",
                f"unknown value '{reminders}' (expected one of: {', '.join(REMINDERS)})",
            )
        languages = self.languages(self.get(raw, "languages", dict, None, ""))
        default_language = self.get(head, "default_language", str, None, "flow")
        if default_language not in languages:
            raise self.error(
                None,
                "flow.default_language",
                f"language '{default_language}' is not in [languages]",
            )
        speaking_rate = self.get(head, "speaking_rate", str, None, "flow", "100%")
        if not SPEAKING_RATE.match(speaking_rate):
            raise self.error(
                None, "flow.speaking_rate", f'must look like "90%", not {speaking_rate!r}'
            )
        messages = self.table(
            self.get(raw, "messages", dict, None, ""), None, "messages", MESSAGES + PHONE_MESSAGES
        )
        keys = self.table(self.get(raw, "keys", dict, None, ""), None, "keys", tuple(COMMON_KEYS))
        nodes = self.get(raw, "nodes", dict, None, "")
        if not nodes:
            raise self.error(None, "nodes", "a flow needs at least one node")
        wanted = MESSAGES
        if any(isinstance(t, dict) and t.get("type") == "phone" for t in nodes.values()):
            wanted += PHONE_MESSAGES
        for name in PHONE_MESSAGES:
            if name in messages and name not in wanted:
                wanted += (name,)
        return Flow(
            name=self.get(head, "name", str, None, "flow"),
            source=self.source,
            start=self.get(head, "start", str, None, "flow"),
            operator=self.get(head, "operator", str, None, "flow"),
            default_language=default_language,
            languages=languages,
            speaking_rate=speaking_rate,
            timeout=self.positive(head, "timeout", None, "flow", 8),
            max_misses=self.positive(head, "max_misses", None, "flow", 2),
            reminders=reminders,
            # Not "auto": that ends the answer at the first pause, and older callers pause.
            speech_timeout=self.positive(head, "speech_timeout", None, "flow", 3),
            menu_budget=self.seconds(head, "menu_budget", 25),
            path_budget=self.seconds(head, "path_budget", 90),
            messages={
                name: self.text(
                    self.get(messages, name, dict, None, "messages"), None, f"messages.{name}"
                )
                for name in wanted
            },
            keys={
                name: self.common_key(name, self.get(keys, name, dict, None, "keys"))
                for name in COMMON_KEYS
            },
            nodes={node_id: self.node(node_id, table) for node_id, table in nodes.items()},
        )

    def languages(self, raw: dict) -> dict[str, Language]:
        if not raw:
            raise self.error(None, "languages", "a flow needs at least one language")
        self.language_keys = tuple(raw)
        found = {}
        for key, value in raw.items():
            prefix = f"languages.{key}"
            table = self.table(
                value,
                None,
                prefix,
                (
                    "code",
                    "voice",
                    "press",
                    "key_names",
                    "and",
                    "speech_model",
                    "speech_language",
                ),
            )
            code = self.get(table, "code", str, None, prefix)
            if not LANGUAGE_CODE.match(code):
                raise self.error(None, f"{prefix}.code", f'must look like "nl-BE", not {code!r}')
            press = self.get(table, "press", str, None, prefix)
            if "{label}" not in press or "{key}" not in press:
                raise self.error(
                    None,
                    f"{prefix}.press",
                    'must contain {label} and {key}, e.g. "{label}, druk {key}."',
                )
            key_names = self.table(
                self.get(table, "key_names", dict, None, prefix),
                None,
                f"{prefix}.key_names",
                ("*", "#"),
            )
            if "*" not in key_names:
                raise self.error(
                    None, f"{prefix}.key_names.*", "is required: the back key is read out in menus"
                )
            found[key] = Language(
                key=key,
                code=code,
                voice=self.get(table, "voice", str, None, prefix),
                press=press,
                key_names={name: str(spoken) for name, spoken in key_names.items()},
                and_word=self.get(table, "and", str, None, prefix),
                speech_model=self.get(table, "speech_model", str, None, prefix, None),
                speech_language=self.speech_language(table, prefix),
            )
        return found

    def speech_language(self, table: dict, prefix: str) -> str | None:
        code = self.get(table, "speech_language", str, None, prefix, None)
        if code is not None and not LANGUAGE_CODE.match(code):
            raise self.error(
                None, f"{prefix}.speech_language", f'must look like "nl-BE", not {code!r}'
            )
        return code

    def seconds(self, table: dict, name: str, default: float) -> float:
        value = self.get(table, name, (int, float), None, "flow", default)
        if isinstance(value, bool) or value <= 0:
            raise self.error(None, f"flow.{name}", f"must be a positive number, not {value!r}")
        return value

    def common_key(self, name: str, table: dict) -> CommonKey:
        prefix = f"keys.{name}"
        self.table(table, None, prefix, ("label", "speech"))
        return CommonKey(
            key=COMMON_KEYS[name],
            label=self.text(self.get(table, "label", dict, None, prefix), None, f"{prefix}.label"),
            speech=self.keywords(table.get("speech", {}), None, f"{prefix}.speech"),
        )

    # -- nodes -----------------------------------------------------------------

    def node(self, node_id: str, table: Any) -> Node:
        if not isinstance(table, dict):
            raise self.error(node_id, "type", "a node must be a table with a type")
        kind = self.get(table, "type", str, node_id, "")
        builder = self.builders().get(kind)
        if builder is None:
            raise self.error(
                node_id,
                "type",
                f"unknown node type '{kind}' (expected one of: {', '.join(self.builders())})",
            )
        return builder(node_id, table)

    def builders(self) -> dict[str, Callable[[str, dict], Node]]:
        return {
            "menu": self.menu,
            "digits": self.digits,
            "record": self.record,
            "say": self.say,
            "branch": self.branch,
            "effect": self.effect,
            "dial": self.dial,
            "phone": self.phone,
            "hangup": self.hangup,
        }

    def prompt(self, node_id: str, table: dict, required: bool) -> tuple[Text, ...]:
        texts = self.texts(table["say"], node_id, "say") if "say" in table else ()
        if required and not texts:
            raise self.error(node_id, "say", "is required for this node type")
        return texts

    def menu(self, node_id: str, table: dict) -> MenuNode:
        self.table(
            table, node_id, "", ("type", "say", "options", "no_input", "timeout", "back", "hints")
        )
        raw_options = self.get(table, "options", dict, node_id, "")
        if not raw_options:
            raise self.error(node_id, "options", "a menu needs at least one option")
        options = {key: self.option(node_id, str(key), value) for key, value in raw_options.items()}
        no_input = self.get(table, "no_input", str, node_id, "", None)
        if no_input is not None and no_input not in options:
            raise self.error(node_id, "no_input", f"'{no_input}' is not one of this menu's options")
        return MenuNode(
            id=node_id,
            # A menu whose options say it all needs no question before them.
            say=self.prompt(node_id, table, required=False),
            options=options,
            no_input=no_input,
            timeout=self.positive(table, "timeout", node_id, "", None),
            back=self.get(table, "back", bool, node_id, "", True),
            hints=self.keywords(table.get("hints", {}), node_id, "hints"),
        )

    def option(self, node_id: str, key: str, value: Any) -> Option:
        prefix = f"options.{key}"
        if key in COMMON_KEYS.values():
            raise self.error(
                node_id,
                prefix,
                f"key '{key}' is reserved: every menu sends 0 to the operator, "
                "9 repeats and * goes back (see [keys])",
            )
        if key not in OPTION_KEYS:
            raise self.error(node_id, prefix, "an option key must be one digit from 1 to 8")
        table = self.table(value, node_id, prefix, ("label", "goto", "set", "speech", "language"))
        language = self.get(table, "language", str, node_id, prefix, None)
        if language is not None and language not in self.language_keys:
            raise self.error(
                node_id, f"{prefix}.language", f"language '{language}' is not offered by this flow"
            )
        facts = self.get(table, "set", dict, node_id, prefix, {})
        for name, fact in facts.items():
            if not isinstance(fact, str):
                raise self.error(node_id, f"{prefix}.set.{name}", f"must be a text, not {fact!r}")
        return Option(
            key=key,
            # An option that switches language is read out in that language only.
            label=self.text(
                self.get(table, "label", dict, node_id, prefix),
                node_id,
                f"{prefix}.label",
                (language,) if language else None,
            ),
            goto=self.get(table, "goto", str, node_id, prefix),
            set=dict(facts),
            speech=self.keywords(table.get("speech", {}), node_id, f"{prefix}.speech"),
            language=language,
        )

    def digits(self, node_id: str, table: dict) -> DigitsNode:
        self.table(
            table,
            node_id,
            "",
            (
                "type",
                "say",
                "length",
                "store",
                "goto",
                "check",
                "invalid",
                "timeout",
                "back",
                "hints",
            ),
        )
        length = self.positive(table, "length", node_id, "")
        if length < 2:
            raise self.error(
                node_id, "length", "must be at least 2, so that a lone 0, 9 or * stays a menu key"
            )
        check = self.get(table, "check", str, node_id, "", None)
        if check is not None and check not in CHECKS:
            raise self.error(
                node_id, "check", f"unknown check '{check}' (expected one of: {', '.join(CHECKS)})"
            )
        invalid = self.get(table, "invalid", str, node_id, "", None)
        if check and not invalid:
            raise self.error(
                node_id,
                "invalid",
                f'is required with check = "{check}": where does a rejected number go?',
            )
        return DigitsNode(
            id=node_id,
            say=self.prompt(node_id, table, required=True),
            length=length,
            store=self.get(table, "store", str, node_id, ""),
            goto=self.get(table, "goto", str, node_id, ""),
            check=check,
            invalid=invalid,
            timeout=self.positive(table, "timeout", node_id, "", None),
            back=self.get(table, "back", bool, node_id, "", True),
            hints=self.keywords(table.get("hints", {}), node_id, "hints"),
        )

    def record(self, node_id: str, table: dict) -> RecordNode:
        self.table(
            table,
            node_id,
            "",
            ("type", "say", "store", "goto", "max_length", "timeout", "finish_on_key"),
        )
        return RecordNode(
            id=node_id,
            say=self.prompt(node_id, table, required=True),
            store=self.get(table, "store", str, node_id, "", "recording"),
            goto=self.get(table, "goto", str, node_id, ""),
            max_length=self.positive(table, "max_length", node_id, "", 120),
            timeout=self.positive(table, "timeout", node_id, "", 8),
            finish_on_key=self.get(table, "finish_on_key", str, node_id, "", "#"),
        )

    def say(self, node_id: str, table: dict) -> SayNode:
        self.table(table, node_id, "", ("type", "say", "goto"))
        return SayNode(
            id=node_id,
            say=self.prompt(node_id, table, required=True),
            goto=self.get(table, "goto", str, node_id, ""),
        )

    def branch(self, node_id: str, table: dict) -> BranchNode:
        self.table(table, node_id, "", ("type", "say", "if", "then", "else"))
        condition = self.get(table, "if", str, node_id, "")
        if condition not in CONDITIONS:
            raise self.error(
                node_id,
                "if",
                f"unknown condition '{condition}' (expected one of: {', '.join(CONDITIONS)})",
            )
        return BranchNode(
            id=node_id,
            say=self.prompt(node_id, table, required=False),
            condition=condition,
            then=self.get(table, "then", str, node_id, ""),
            otherwise=self.get(table, "else", str, node_id, ""),
        )

    def effect(self, node_id: str, table: dict) -> EffectNode:
        self.table(
            table,
            node_id,
            "",
            ("type", "say", "effect", "data", "returns", "branch_on", "branches", "goto"),
        )
        data = self.names(table, "data", node_id)
        returns = self.names(table, "returns", node_id)
        branch_on = self.get(table, "branch_on", str, node_id, "", None)
        branches = self.get(table, "branches", dict, node_id, "", None)
        if branches is not None and branch_on is None:
            raise self.error(
                node_id, "branches", "needs branch_on: which result key picks the branch?"
            )
        if branch_on is not None and branches is None:
            raise self.error(node_id, "branch_on", "needs a [branches] table")
        for value, target in (branches or {}).items():
            if not isinstance(target, str):
                raise self.error(
                    node_id, f"branches.{value}", f"must be a node name, not {target!r}"
                )
        return EffectNode(
            id=node_id,
            say=self.prompt(node_id, table, required=False),
            effect=self.get(table, "effect", str, node_id, ""),
            data=data,
            goto=self.get(table, "goto", str, node_id, ""),
            returns=tuple(dict.fromkeys(returns + ((branch_on,) if branch_on else ()))),
            branch_on=branch_on,
            branches=dict(branches) if branches is not None else None,
        )

    def names(self, table: dict, name: str, node_id: str) -> tuple[str, ...]:
        values = self.get(table, name, list, node_id, "", [])
        if not all(isinstance(value, str) for value in values):
            raise self.error(node_id, name, "must be a list of names")
        return tuple(values)

    def dial(self, node_id: str, table: dict) -> DialNode:
        for gone in ("ring_seconds", "rounds"):
            if gone in table:
                raise self.error(
                    node_id,
                    gone,
                    "is no longer used: the caller waits in a queue while the operators' "
                    "phones ring once, for as long as the caller may wait. Write "
                    "max_wait = <seconds> (e.g. the old rounds x ring_seconds) and "
                    "wait_every = <seconds between two wait sentences, 7 to 10>",
                )
        target = self.get(table, "target", str, node_id, "")
        queue_keys = ("wait", "place", "place_first", "wait_every", "max_wait")
        if target != QUEUE_TARGET:
            for key in queue_keys:
                if key in table:
                    raise self.error(
                        node_id,
                        key,
                        f"only a dial to {QUEUE_TARGET} waits in a queue (this one rings "
                        f"'{target}')",
                    )
        self.table(
            table, node_id, "", ("type", "say", "target", "goto", "unavailable", *queue_keys)
        )
        wait = self.texts(table["wait"], node_id, "wait") if "wait" in table else ()
        place = self.text(table["place"], node_id, "place") if "place" in table else None
        place_first = (
            self.text(table["place_first"], node_id, "place_first")
            if "place_first" in table
            else None
        )
        if place is not None:
            for language, sentence in place.items():
                if placeholders(sentence) != {"position"}:
                    raise self.error(
                        node_id,
                        f"place.{language}",
                        "must say the caller's place with {position}, and nothing else in braces",
                    )
        if (place is None) != (place_first is None):
            raise self.error(
                node_id, "place", "needs place_first too (said when the caller is next)"
            )
        wait_every = self.positive(table, "wait_every", node_id, "", 8)
        max_wait = self.positive(table, "max_wait", node_id, "", DEFAULT_MAX_WAIT)
        if max_wait < wait_every:
            raise self.error(node_id, "max_wait", f"must be at least wait_every ({wait_every} s)")
        return DialNode(
            id=node_id,
            say=self.prompt(node_id, table, required=False),
            target=target,
            goto=self.get(table, "goto", str, node_id, ""),
            unavailable=self.get(table, "unavailable", str, node_id, ""),
            wait=wait,
            place=place,
            place_first=place_first,
            wait_every=wait_every,
            max_wait=max_wait,
        )

    def phone(self, node_id: str, table: dict) -> PhoneNode:
        self.table(table, node_id, "", ("type", "store", "goto", "declined", "timeout"))
        return PhoneNode(
            id=node_id,
            say=(),
            store=self.get(table, "store", str, node_id, ""),
            goto=self.get(table, "goto", str, node_id, ""),
            declined=self.get(table, "declined", str, node_id, ""),
            timeout=self.positive(table, "timeout", node_id, "", None),
        )

    def hangup(self, node_id: str, table: dict) -> HangupNode:
        self.table(table, node_id, "", ("type", "say"))
        return HangupNode(id=node_id, say=self.prompt(node_id, table, required=False))


# -- checks on the whole graph -------------------------------------------------


def _error(source: str, node: str | None, key: str, problem: str) -> FlowError:
    where = f"node '{node}', key '{key}'" if node else f"key '{key}'"
    return FlowError(f"{source}: {where}: {problem}")


def _check_graph(flow: Flow) -> None:
    def error(node: str | None, key: str, problem: str) -> FlowError:
        return _error(flow.source, node, key, problem)

    for name, node_id in (("flow.start", flow.start), ("flow.operator", flow.operator)):
        if node_id not in flow.nodes:
            raise error(None, name, f"unknown node '{node_id}'")
    for node in flow.nodes.values():
        for exit_ in node.exits():
            if exit_.target not in flow.nodes:
                raise error(node.id, exit_.key_path, f"unknown node '{exit_.target}'")

    _check_facts(flow, error)
    _check_reachable(flow, error)
    _check_loops_without_input(flow, error)
    _check_dead_ends(flow, error)


def _successors(flow: Flow, node: Node) -> list[str]:
    targets = [exit_.target for exit_ in node.exits()]
    if isinstance(node, (MenuNode, DigitsNode, PhoneNode)):
        targets.append(flow.operator)  # key 0 and too many misses
    return targets


def _check_facts(flow: Flow, error: Callable[..., FlowError]) -> None:
    """Effects may only hand over, and prompts only mention, facts some node collects."""
    facts = {"language"}
    for node in flow.nodes.values():
        if isinstance(node, MenuNode):
            for option in node.options.values():
                facts.update(option.set)
        elif isinstance(node, (DigitsNode, RecordNode, PhoneNode)):
            facts.add(node.store)
        elif isinstance(node, EffectNode):
            facts.update(node.returns)
    values = facts | set(BUILTIN_PLACEHOLDERS)
    known = values | {name + DIGITS_SUFFIX for name in values}
    for node in flow.nodes.values():
        if isinstance(node, EffectNode):
            for name in node.data:
                if name not in facts:
                    raise error(node.id, "data", f"'{name}' is never collected by any node")
        for key, text in _node_texts(node):
            for sentence in text.values():
                for name in sorted(placeholders(sentence) - known):
                    raise error(
                        node.id,
                        key,
                        f"unknown placeholder {{{name}}}: use one of {', '.join(sorted(values))}"
                        f" (add {DIGITS_SUFFIX} to read one digit by digit)",
                    )


def _node_texts(node: Node) -> list[tuple[str, Text]]:
    texts = [
        (f"say[{index}]" if len(node.say) > 1 else "say", text)
        for index, text in enumerate(node.say)
    ]
    if isinstance(node, MenuNode):
        texts += [(f"options.{key}.label", option.label) for key, option in node.options.items()]
    if isinstance(node, DialNode):
        texts += [(f"wait[{index}]", text) for index, text in enumerate(node.wait)]
        if node.place_first is not None:
            texts.append(("place_first", node.place_first))  # place: checked with the node
    return texts


def _check_reachable(flow: Flow, error: Callable[..., FlowError]) -> None:
    seen = _walk(flow.start, lambda node_id: _successors(flow, flow.nodes[node_id]))
    for node_id in flow.nodes:
        if node_id not in seen:
            raise error(
                node_id,
                "type",
                "is never reached from the start node (remove it or add a goto to it)",
            )


def _check_loops_without_input(flow: Flow, error: Callable[..., FlowError]) -> None:
    """A loop of nodes that never wait for the caller would talk forever."""
    passing = {
        node_id
        for node_id, node in flow.nodes.items()
        if not node.waits_for_caller and not isinstance(node, (HangupNode, DialNode))
    }
    state: dict[str, str] = {}

    def visit(node_id: str, path: list[str]) -> None:
        state[node_id] = "open"
        for exit_ in flow.nodes[node_id].exits():
            if exit_.target not in passing:
                continue
            if state.get(exit_.target) == "open":
                trail = path + [node_id]
                loop = trail[trail.index(exit_.target) :] + [exit_.target]
                raise error(
                    node_id,
                    exit_.key_path,
                    f"loop that never waits for the caller: {' -> '.join(loop)}",
                )
            if exit_.target not in state:
                visit(exit_.target, path + [node_id])
        state[node_id] = "done"

    for node_id in sorted(passing):
        if node_id not in state:
            visit(node_id, [])


def _check_dead_ends(flow: Flow, error: Callable[..., FlowError]) -> None:
    """Every node must have a way to a hangup, or the caller is stuck."""
    predecessors: dict[str, list[str]] = {node_id: [] for node_id in flow.nodes}
    for node in flow.nodes.values():
        for target in _successors(flow, node):
            predecessors[target].append(node.id)
    ends = [node_id for node_id, node in flow.nodes.items() if isinstance(node, HangupNode)]
    if not ends:
        raise error(None, "nodes", 'no node of type "hangup": no call could ever end')
    can_end: set[str] = set()
    for end in ends:
        can_end |= _walk(end, lambda node_id: predecessors[node_id])
    for node_id, node in flow.nodes.items():
        if node_id not in can_end:
            key = node.exits()[0].key_path if node.exits() else "type"
            raise error(node_id, key, "dead end: no path from this node reaches a hangup")


def _walk(start: str, neighbours: Callable[[str], list[str]]) -> set[str]:
    seen = {start}
    todo = [start]
    while todo:
        for following in neighbours(todo.pop()):
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return seen


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else str(name)


def _kind_name(kind: type | tuple) -> str:
    names = {
        str: "a text",
        int: "a whole number",
        bool: "true or false",
        dict: "a table",
        list: "a list",
    }
    return names.get(kind, getattr(kind, "__name__", str(kind)))  # type: ignore[arg-type]
