"""The inventory assertion fails naming the type whose count differs or the path and values."""

from __future__ import annotations

import pytest

from tests.synth.tfassert import assert_inventory

DOC = {"resource": {"google_pubsub_topic": {"a__topic": {"name": "a", "labels": {"k": "v"}}}},
       "data": {"google_project": {"project": {"project_id": "p"}}}}
COUNTS = {"google_pubsub_topic": 1, "data.google_project": 1}


def test_a_matching_inventory_passes() -> None:
    assert_inventory(DOC, COUNTS, {"google_pubsub_topic.a__topic": {"labels": {"k": "v"}},
                                   "data.google_project.project": {"project_id": "p"}})


@pytest.mark.parametrize("counts,values,error", [
    ({**COUNTS, "google_pubsub_topic": 2}, {}, "google_pubsub_topic: expected 2, got 1"),
    ({"google_pubsub_topic": 1}, {}, "data.google_project: expected 0, got 1"),
    (COUNTS, {"google_pubsub_topic.b__topic": {}}, r"b__topic: not synthesized .*a__topic"),
    (COUNTS, {"google_pubsub_topic.a__topic": {"labels": {"k": "w"}}},
     r"a__topic.labels.k: expected 'w', got 'v'"),
    (COUNTS, {"google_pubsub_topic.a__topic": {"project": "p"}}, "a__topic.project: missing"),
])
def test_a_difference_is_named(counts: dict[str, int], values: dict[str, dict[str, object]],
                               error: str) -> None:
    with pytest.raises(AssertionError, match=error):
        assert_inventory(DOC, counts, values)
