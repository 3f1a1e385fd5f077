"""The orchestrator and the canary derive summaries from records identically.

Each bundle is self-contained, so each carries its own copy of the derivation; this test
is what keeps the two copies one contract.
"""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from functions.phase3_to_phase4 import main as orch
from functions.pipeline_canary import main as canary

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
def test_summary_derivation_is_the_same_in_both_functions(records, expected):
    ours = orch.summary_fields(orch.tally(records, expected))
    theirs = canary.summary_fields(canary.tally(records, expected))
    assert ours == theirs
    assert ours["_completed_count"] + len(ours["_missing"]) == len(set(expected))
