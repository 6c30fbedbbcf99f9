"""When a menu explains 9 (repeat) and * (back): a flow setting, so a town can choose.

reminders = "every_menu": in every menu; "once": in the first menu after the language
choice (and when the caller comes back to it), and again after a miss; "after_miss":
only after a silence or a wrong key. 0 (a person) is said in every menu whatever the
setting, and 9 and * work everywhere whether they were just said or not.
"""

from __future__ import annotations

import dataclasses

import pytest

from .phone import Caller

REPEAT = "Herhalen, druk 9."
BACK = "Terug, druk sterretje."
PERSON = "Een medewerker, druk 0."
MODES = ["every_menu", "once", "after_miss"]


def line_with(leuven, mode: str):
    return dataclasses.replace(leuven, reminders=mode)


def said(caller: Caller) -> list[str]:
    return [say.text for say in caller.says]


def test_the_leuven_flow_explains_them_once(leuven):
    assert leuven.reminders == "once"


def test_every_menu_explains_9_and_star_in_every_menu(leuven, open_line):
    caller = Caller(line_with(leuven, "every_menu"), open_line).dial()
    assert REPEAT in said(caller) and BACK not in said(caller)  # nothing to go back to yet
    for key in ("1", "1", "1", "3000"):  # language, help, groceries, postcode
        caller.press(key)
        assert {PERSON, REPEAT, BACK} <= set(said(caller)), caller.node


def test_once_explains_them_in_the_first_menu_after_the_language_only(leuven, open_line):
    caller = Caller(line_with(leuven, "once"), open_line).dial()
    assert REPEAT not in said(caller)  # the language menu: the caller has not chosen yet
    caller.press("1")
    assert caller.node == "main"
    assert said(caller)[-3:] == [PERSON, REPEAT, BACK]
    for key in ("1", "1", "3000"):
        caller.press(key)
        assert PERSON in said(caller), caller.node
        assert REPEAT not in said(caller) and BACK not in said(caller), caller.node
    caller.press("*").press("*")  # urgency -> postcode -> category
    caller.press("*")  # back in the menu that explained them: said there again
    assert caller.node == "main"
    assert said(caller)[-2:] == [REPEAT, BACK]


@pytest.mark.parametrize("mode", ["once", "after_miss"])
def test_after_a_miss_they_are_explained_again(leuven, open_line, mode):
    caller = Caller(line_with(leuven, mode), open_line).dial().press("1").press("1")
    assert caller.node == "category"
    assert REPEAT not in said(caller)
    caller.wait()  # silence
    assert said(caller)[0] == caller.message("no_input")
    assert said(caller)[-3:] == [PERSON, REPEAT, BACK]
    caller.press("1")  # on to the postcode: no miss there, no reminder
    assert REPEAT not in said(caller)
    caller.press("12")  # too short: a wrong answer
    assert said(caller)[0] == caller.message("invalid")
    assert said(caller)[-3:] == [PERSON, REPEAT, BACK]


def test_after_miss_never_explains_them_to_a_caller_who_does_not_miss(leuven, open_line):
    caller = Caller(line_with(leuven, "after_miss"), open_line).dial()
    for key in ("1", "1", "1", "3000"):
        assert REPEAT not in said(caller) and BACK not in said(caller), caller.node
        caller.press(key)
    assert caller.node == "urgency"
    assert PERSON in said(caller)


@pytest.mark.parametrize("mode", MODES)
def test_9_and_star_work_in_every_menu_whether_announced_or_not(leuven, open_line, mode):
    flow = line_with(leuven, mode)
    route = [("1", "main"), ("1", "category"), ("1", "postcode"), ("3000", "urgency")]
    caller = Caller(flow, open_line).dial()
    previous = "welcome"
    for key, node in route:
        caller.press(key)
        assert caller.node == node
        menu = caller.last.actions
        caller.press("9")
        assert caller.node == node and caller.last.actions == menu  # the same words again
        assert caller.state["misses"] == 0
        caller.press("*")
        assert caller.node == previous
        caller.press(key)
        previous = node
