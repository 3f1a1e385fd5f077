"""The base modules every layer may use: the one input error and the one wait loop."""

from __future__ import annotations

import itertools

import pytest

from infra.errors import InputError, shown
from infra.wait import WaitTimeout, wait_until


def test_an_input_error_names_the_file_the_field_and_the_reason():
    err = InputError("plan.json", "expected a list, found 'x'", field="resource_changes[3].change")
    assert str(err) == "plan.json: resource_changes[3].change: expected a list, found 'x'"
    assert (err.source, err.field, err.reason) == ("plan.json", "resource_changes[3].change",
                                                   "expected a list, found 'x'")
    assert str(InputError("plan.json", "file not found")) == "plan.json: file not found"
    assert isinstance(err, ValueError)


def test_a_shown_value_is_one_short_line():
    assert shown("a\nb") == "'a\\nb'"
    long = shown("x" * 500)
    assert len(long) == 80 and long.endswith("…") and "\n" not in long


def test_wait_until_returns_the_first_answer_that_is_not_none_or_false():
    answers = iter([None, False, 0, "done"])
    assert wait_until(lambda: next(answers), timeout=5, what="x", interval=0) == 0


def test_wait_until_names_what_it_waited_for_when_time_runs_out():
    calls = itertools.count()
    with pytest.raises(WaitTimeout, match=r"timed out waiting for the emulator after 0.05 s"):
        wait_until(lambda: next(calls) is None, timeout=0.05, what="the emulator", interval=0.01)
    assert next(calls) >= 2  # asked more than once, and once more at the deadline


def test_wait_until_asks_at_least_once_even_with_no_time():
    assert wait_until(lambda: "ready", timeout=0, what="x") == "ready"
