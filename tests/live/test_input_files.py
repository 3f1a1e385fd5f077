"""Reading input files into typed models (`infra.input_files`) and the models of the
recorded inventory and trigger list (`infra.live.adopt_inputs`): one `InputError` line naming
the file, the field path and the value; fields Google adds are ignored."""

from pathlib import Path

import pytest
from pydantic import BaseModel

from infra.errors import InputError
from infra.input_files import STRICT, field_path, read_json, validated
from infra.live.adopt_inputs import parse_inventory, parse_triggers

P = "nba-props-platform"
TOPIC = {"name": f"//pubsub.googleapis.com/projects/{P}/topics/nba-phase4-trigger",
         "assetType": "pubsub.googleapis.com/Topic", "location": "global"}


def inventory_error(entries) -> InputError:
    with pytest.raises(InputError) as caught:
        parse_inventory(entries, Path("prod.inventory.json"), P)
    assert "\n" not in str(caught.value)
    return caught.value


def test_an_inventory_entry_with_a_wrong_type_deep_inside():
    entry = {**TOPIC, "versionedResources": [{"version": "v1", "resource": {}},
                                             {"version": 1, "resource": {}}]}
    err = inventory_error([TOPIC, entry])
    assert (err.source, err.field, err.reason) == (
        "prod.inventory.json", "[1].versionedResources[1].version", "expected a string, found 1")


def test_an_inventory_entry_without_its_type():
    err = inventory_error([{k: v for k, v in TOPIC.items() if k != "assetType"}])
    assert (err.field, err.reason) == ("[0].assetType", "missing, required")


def test_an_inventory_entry_whose_name_is_not_a_full_resource_name():
    err = inventory_error([{**TOPIC, "name": "projects/p/topics/t"}])
    assert err.field == "[0].name"
    assert err.reason == ("expected a full resource name //<service>.googleapis.com/..., found "
                          "'projects/p/topics/t'")


def test_an_inventory_keeps_what_google_adds():
    [live] = parse_inventory([{**TOPIC, "labels": {"a": "b"}, "kmsKeys": [],
                               "versionedResources": [{"version": "v1", "resource": {"x": 1},
                                                       "assetExceptions": []}]}],
                             Path("prod.inventory.json"), P)
    assert (live.short, live.resource_version, live.resource) == ("nba-phase4-trigger", "v1",
                                                                  {"x": 1})


def test_a_trigger_list_names_the_trigger_and_field():
    with pytest.raises(InputError) as caught:
        parse_triggers([{"name": "deploy"}, {"name": "x", "resourceName": 5}], Path("t.json"))
    assert (caught.value.field, caught.value.reason) == ("[1].resourceName",
                                                         "expected a string, found 5")


class Document(BaseModel):
    model_config = STRICT

    entries: dict[str, list[int]]


def test_field_paths_name_map_keys_that_are_not_names_in_brackets():
    assert field_path(("a", 0, "b")) == "a[0].b"
    assert field_path((3, "x-y", "z")) == '[3]["x-y"].z'
    with pytest.raises(InputError) as caught:
        validated(Document, {"entries": {"phase-3": [1, "2"]}}, "d.json")
    assert str(caught.value) == 'd.json: entries["phase-3"][1]: expected an integer, found \'2\''


def test_strict_models_take_no_number_for_a_string_or_text_for_a_number():
    with pytest.raises(InputError, match=r"entries\.a\[0\]: expected an integer, found True"):
        validated(Document, {"entries": {"a": [True]}}, "d.json")


@pytest.mark.parametrize(("content", "reason"), [
    (None, "file not found; run `make inventory`"),
    (b"\xff", "not UTF-8 text, expected JSON"),
    (b"[1,", "not JSON (line 1 column 4: Expecting value)"),
])
def test_read_json_says_why_a_file_cannot_be_read(tmp_path, content, reason):
    path = tmp_path / "x.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read_json(path, "run `make inventory`")
    assert (caught.value.source, caught.value.reason) == (str(path), reason)
