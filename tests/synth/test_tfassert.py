"""The inventory assertions fail naming the type whose count differs or the path and values
(and the file, for an inventory read from YAML)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.synth.tfassert import assert_inventory, assert_inventory_file, merged

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


@pytest.fixture
def inventory(tmp_path: Path) -> Path:
    path = tmp_path / "topic.yaml"
    path.write_text("base: &base\n  name: a\ncounts:\n  google_pubsub_topic: 1\n"
                    "  data.google_project: 1\nvalues:\n  google_pubsub_topic.a__topic:\n"
                    "    <<: *base\n")
    return path


def test_a_matching_inventory_file_passes_with_its_anchors_merged(inventory: Path) -> None:
    assert_inventory_file(DOC, inventory, {"google_pubsub_topic.a__topic": {"labels": {"k": "v"}}})


@pytest.mark.parametrize("edit,computed,error", [
    (("name: a", "name: b"), {}, r"a__topic.name: expected 'b', got 'a'$"),
    (("google_pubsub_topic: 1", "google_pubsub_topic: 2"), {},
     "resource counts differ: google_pubsub_topic: expected 2, got 1"),
    (("", ""), {"google_pubsub_topic.a__topic": {"labels": {"k": "w"}}},
     r"a__topic.labels.k: expected 'w', got 'v'$"),
])
def test_an_inventory_file_difference_names_the_file(
        inventory: Path, edit: tuple[str, str], computed: dict[str, dict[str, object]],
        error: str) -> None:
    inventory.write_text(inventory.read_text().replace(*edit))
    with pytest.raises(AssertionError, match=rf"^{re.escape(str(inventory))}: .*{error}"):
        assert_inventory_file(DOC, inventory, computed)


def test_merged_is_recursive_and_leaves_its_inputs_alone() -> None:
    base = {"a": {"b": 1, "c": {"d": 2}}, "l": [1]}
    assert merged(base, {"a": {"c": {"e": 3}}, "l": [2]}) == {"a": {"b": 1, "c": {"d": 2, "e": 3}},
                                                              "l": [2]}
    assert base == {"a": {"b": 1, "c": {"d": 2}}, "l": [1]}
