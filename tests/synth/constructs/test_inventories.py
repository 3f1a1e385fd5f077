"""The inventory files (``inventories/<construct>.yaml``) and the assertion that reads them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.synth.constructs import support
from tests.synth.constructs.support import INVENTORIES, assert_expected_inventory, merged

DOC = {"resource": {"google_pubsub_topic": {"a__topic": {"name": "nba-a", "labels": {"k": "v"}}}}}


def test_every_inventory_is_asserted_by_its_constructs_tests() -> None:
    for path in sorted(INVENTORIES.glob("*.yaml")):
        tests = Path(support.__file__).with_name(f"test_{path.stem}.py")
        assert 'assert_expected_inventory(' in tests.read_text(), f"{path.name}: no test reads it"
        assert {"counts", "values"} <= set(yaml.safe_load(path.read_text())), path.name


@pytest.fixture
def inventory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(support, "INVENTORIES", tmp_path)
    path = tmp_path / "topic.yaml"
    path.write_text("base: &base\n  name: nba-a\ncounts:\n  google_pubsub_topic: 1\n"
                    "values:\n  google_pubsub_topic.a__topic:\n    <<: *base\n")
    return path


def test_a_matching_inventory_passes_with_its_anchors_merged(inventory: Path) -> None:
    assert_expected_inventory(DOC, "topic", {"google_pubsub_topic.a__topic": {"labels": {"k": "v"}}})


def test_a_differing_value_names_the_file_the_path_and_both_values(inventory: Path) -> None:
    inventory.write_text(inventory.read_text().replace("name: nba-a", "name: nba-b"))
    with pytest.raises(AssertionError, match=rf"^{re.escape(str(inventory))}: "
                       r"google_pubsub_topic.a__topic.name: expected 'nba-b', got 'nba-a'$"):
        assert_expected_inventory(DOC, "topic")


def test_a_differing_computed_value_fails(inventory: Path) -> None:
    with pytest.raises(AssertionError, match=r"a__topic.labels.k: expected 'w', got 'v'"):
        assert_expected_inventory(DOC, "topic", {"google_pubsub_topic.a__topic": {"labels": {"k": "w"}}})


def test_a_differing_count_fails(inventory: Path) -> None:
    inventory.write_text(inventory.read_text().replace("google_pubsub_topic: 1", "google_pubsub_topic: 2"))
    with pytest.raises(AssertionError,
                       match=r"resource counts differ: google_pubsub_topic: expected 2, got 1"):
        assert_expected_inventory(DOC, "topic")


def test_merged_is_recursive_and_leaves_its_inputs_alone() -> None:
    base = {"a": {"b": 1, "c": {"d": 2}}, "l": [1]}
    assert merged(base, {"a": {"c": {"e": 3}}, "l": [2]}) == {"a": {"b": 1, "c": {"d": 2, "e": 3}},
                                                              "l": [2]}
    assert base == {"a": {"b": 1, "c": {"d": 2}}, "l": [1]}
