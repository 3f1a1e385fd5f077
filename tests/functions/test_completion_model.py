"""``functions._shared.completion``: the summary derivation both functions ship.

The orchestrator writes summaries and the canary and ``reconcile`` judge them with this one
derivation (the bundler adds the shared package to both zips), so they cannot disagree on
what a set of records means.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from functions._shared import completion
from functions.phase3_to_phase4 import tracking
from functions.pipeline_canary import health, state

NAMES = ["a_proc", "b_proc", "c_proc", "d_proc", "z_extra"]
record = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["success", "failed", "partial", None]),
        "recorded_at": st.datetimes(timezones=st.just(dt.UTC)),
        "completed_at": st.none() | st.datetimes(timezones=st.just(dt.UTC)),
        "execution_id": st.none() | st.text(max_size=5),
        "record_count": st.none() | st.integers(min_value=0),
        "output_table": st.none() | st.text(max_size=5),
    }
)


@settings(max_examples=50, deadline=None)
@given(
    records=st.dictionaries(st.sampled_from(NAMES), record, max_size=5),
    expected=st.lists(st.sampled_from(NAMES[:4]), min_size=1, unique=True),
)
def test_only_successes_of_expected_processors_count(records, expected):
    fields = completion.summary_fields(completion.tally(records, expected))
    assert fields["_completed_count"] + len(fields["_missing"]) == len(set(expected))
    assert fields["_completed"] == sorted(
        name for name, rec in records.items() if name in expected and rec["status"] == "success"
    )
    assert fields["_unexpected"] == sorted(set(records) - set(expected))
    assert set(fields) - set(records) == {
        "_completed", "_completed_count", "_expected", "_expected_count", "_missing",
        "_unexpected", "_first_completion_at", "_last_completion_at",
    }


def test_a_failed_record_is_missing_not_completed():
    t = completion.tally({"a_proc": {"status": "failed"}}, ["a_proc"])
    assert (t.completed, t.missing, t.complete) == ((), ("a_proc",), False)


def test_writer_and_readers_use_the_one_derivation():
    assert tracking.tally is health.tally is state.model.tally is completion.tally
    assert tracking.summary_fields is state.model.summary_fields is completion.summary_fields


def test_trigger_state_drops_details_unless_triggered():
    assert completion.trigger_state(False, "at", "m-1") == {
        "_triggered": False, "_triggered_at": None, "_trigger_message_id": None,
    }
    assert completion.trigger_state(True, "at", "m-1") == {
        "_triggered": True, "_triggered_at": "at", "_trigger_message_id": "m-1",
    }
