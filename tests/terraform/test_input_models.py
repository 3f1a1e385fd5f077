"""The typed models of the files the Terraform tools read: a plan JSON
(`infra.terraform.plan_model`), the drift-ignore file (`infra.terraform.drift_ignore`) and the
adoption record (`infra.model.adoption`), as the first-plan review (`infra.terraform.first_plan`)
reads it.

Each rejects a broken file with one `infra.errors.InputError` naming the file, the field path
of the problem (`InputError.field`) and the value found, and accepts what Terraform adds.
"""

import copy

import pytest

from infra.errors import InputError
from infra.input_files import validated
from infra.model.adoption_file import RecordFile
from infra.terraform.drift_ignore import load_ignore_file
from infra.terraform.first_plan import load_adoption
from infra.terraform.plan_json import parse_plan

TOPIC = "google_pubsub_topic.t__topic"
PLAN = {
    "format_version": "1.2",
    "resource_changes": [{
        "address": TOPIC, "type": "google_pubsub_topic", "name": "t__topic",
        "change": {"actions": ["update"], "before": {"labels": {"a": "1"}},
                   "after": {"labels": {"a": "2"}}, "replace_paths": [["labels", "a"]]},
    }],
}


def broken_plan(mutate) -> InputError:
    document = copy.deepcopy(PLAN)
    mutate(document)
    with pytest.raises(InputError) as caught:
        parse_plan(document, "dir/plan.json")
    assert "\n" not in str(caught.value)
    return caught.value


def test_a_plan_with_a_wrong_type_deep_inside_names_the_path_and_the_value():
    err = broken_plan(lambda p: p["resource_changes"][0]["change"]["replace_paths"][0]
                      .append(1.5))
    assert (err.source, err.field) == ("dir/plan.json", "resource_changes[0].change.replace_paths[0][2]")
    assert err.reason == f"expected an attribute name or a list index, found 1.5 ({TOPIC})"
    assert str(err) == f"dir/plan.json: {err.field}: {err.reason}"


def test_a_plan_entry_without_a_required_field():
    err = broken_plan(lambda p: p["resource_changes"][0].pop("address"))
    assert (err.field, err.reason) == ("resource_changes[0].address", "missing, required")


@pytest.mark.parametrize(("actions", "field", "found"), [
    (["explode"], "resource_changes[0].change.actions[0]", "'explode'"),
    (["update", "create"], "resource_changes[0].change.actions", "['update', 'create']"),
])
def test_a_plan_with_an_unknown_action_is_unreadable_never_uncounted(actions, field, found):
    err = broken_plan(lambda p: p["resource_changes"][0]["change"].update(actions=actions))
    assert err.field == field
    assert err.reason.startswith("expected ")
    assert err.reason.endswith(f", found {found} ({TOPIC})")


def test_a_plan_keeps_what_terraform_adds():
    document = copy.deepcopy(PLAN)
    document["timestamp"] = "2026-12-04T10:00:00Z"
    document["resource_changes"][0]["provider_name"] = "registry.terraform.io/hashicorp/google"
    document["resource_changes"][0]["change"]["generated_config"] = ""
    plan = parse_plan(document, "plan.json")
    [rc] = plan.resource_changes
    assert (rc.address, rc.action, rc.replace_paths) == (TOPIC, "update", (("labels", "a"),))


def test_a_file_that_is_not_a_plan_is_said_so_without_a_field():
    err = broken_plan(lambda p: p.pop("resource_changes"))
    assert err.field == ""
    assert err.reason.startswith("not a plan JSON: none of planned_values, resource_changes")


ENTRY = {"address": "google_pubsub_topic.*", "attribute": "labels", "reason": "noise",
         "expires": "2027-01-01"}


@pytest.mark.parametrize(("entry", "field", "reason"), [
    ({**ENTRY, "attribute": ["labels"]}, "ignore[0].attribute",
     "expected an attribute path such as template[0].labels, found ['labels']"),
    ({k: v for k, v in ENTRY.items() if k != "reason"}, "ignore[0].reason", "missing, required"),
    ({**ENTRY, "expires": "2027-02-30"}, "ignore[0].expires",
     "expected a date YYYY-MM-DD, found '2027-02-30'"),
    ({**ENTRY, "reason": True}, "ignore[0].reason", "expected a string, found True"),
])
def test_the_ignore_file_names_the_entry_field_and_value(write_json, entry, field, reason):
    path = write_json({"ignore": [entry]}, "ignore.json")
    with pytest.raises(InputError) as caught:
        load_ignore_file(path)
    assert (caught.value.source, caught.value.field, caught.value.reason) == (
        str(path), field, reason)


def test_the_ignore_file_keeps_fields_it_does_not_read(write_json):
    path = write_json({"$comment": "why", "ignore": [{**ENTRY, "ticket": "INC-12"}]})
    [entry] = load_ignore_file(path)
    assert entry.attribute == ("labels",)


@pytest.mark.parametrize(("record", "field", "reason"), [
    ({"changes": [{"address": TOPIC, "attribute": {"labels": 1}}]}, "changes[0].attribute",
     "expected a string, found {'labels': 1}"),
    ({"kept": [{"attribute": "labels"}]}, "kept[0].address", "missing, required"),
    ({"version": 7}, "version", "expected one of 1, 2, found 7"),
])
def test_the_adoption_record_names_the_entry_field_and_value(record, field, reason):
    with pytest.raises(InputError) as caught:
        validated(RecordFile, record, "prod.json")
    assert (caught.value.field, caught.value.reason) == (field, reason)


def test_a_kept_value_may_be_null_but_must_be_there(write_json):
    path = write_json({"version": 2, "changes": [], "kept": [
        {"address": TOPIC, "attribute": "labels", "value": None},
        {"address": TOPIC, "attribute": "message_retention_duration"}]}, "prod.json")
    adoption = load_adoption(path, "prod.json")
    assert [(k.attribute, k.has_value) for k in adoption.kept] == [
        ("labels", True), ("message_retention_duration", False)]
