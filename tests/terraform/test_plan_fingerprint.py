"""The plan fingerprint (`infra.terraform.tf.plan_fingerprint`): what CI compares between the
reviewed plan and the one it applies."""


import pytest

from infra.terraform.plan_json import load_plan, parse_plan
from infra.terraform.tf import plan_fingerprint
from tests.terraform.fake_terraform import (
    CANNED,
    FIXTURES,
)


def change(address, actions, after, after_sensitive=None, after_unknown=None):
    kind, name = address.split(".", 1)
    return {"address": address, "type": kind, "name": name,
            "change": {"actions": actions, "before": None, "after": after,
                       "after_unknown": after_unknown or {},
                       "after_sensitive": after_sensitive or {}}}


def fingerprint(resource_changes, output_changes=None):
    document = {"format_version": "1.2", "resource_changes": resource_changes}
    if output_changes is not None:
        document["output_changes"] = output_changes
    return plan_fingerprint(parse_plan(document, "plan.json"))


def test_fingerprint_ignores_order_noops_and_reads():
    a = change("google_pubsub_topic.a__topic", ["create"], {"name": "nba-a"})
    b = change("google_pubsub_topic.b__topic", ["update"], {"name": "nba-b"})
    noop = change("google_pubsub_topic.c__topic", ["no-op"], {"name": "nba-c"})
    read = change("data.google_project.project", ["read"], {"number": "1"})
    one = fingerprint([a, b])
    assert one[1] == len([a, b])
    assert fingerprint([b, noop, a, read]) == one


def test_fingerprint_sees_planned_values_and_outputs():
    base = fingerprint([change("google_pubsub_topic.a__topic", ["create"], {"name": "nba-a"})])
    other_value = fingerprint([
        change("google_pubsub_topic.a__topic", ["create"], {"name": "nba-b"})])
    with_output = fingerprint(
        [change("google_pubsub_topic.a__topic", ["create"], {"name": "nba-a"})],
        {"topic_a": {"actions": ["create"], "after": "nba-a"}})
    assert len({base, other_value, with_output}) == 3
    assert with_output[1] == base[1] + 1


def test_fingerprint_masks_sensitive_values():
    def with_token(token):
        return fingerprint([change(
            "google_monitoring_notification_channel.alerts__slack", ["update"],
            {"sensitive_labels": [{"auth_token": token}], "type": "slack"},
            after_sensitive={"sensitive_labels": [{"auth_token": True}]})])

    assert with_token("xoxb-one") == with_token("xoxb-two")


# Fingerprints the untyped reader of the plan JSON computed for these plans: CI compares the
# PR's fingerprint with the one main computes, so reading the plan through its typed model
# must not change a fingerprint (a change here needs every open PR re-planned).
UNTYPED_FINGERPRINTS = {
    CANNED / "plan.json":
        "sha256:fd85705fbc1ff90bcd53b9b1cd0123f780cfcf055a48a924ef1f24f670ad2a1c",
    FIXTURES / "normal_plan_mixed.json":
        "sha256:9134eddf837dc76d428a158abd48475d3e79920f0565066a4cfe3d269462ec1a",
    FIXTURES / "output_only.json":
        "sha256:bf3d388b58bd1e880e1e33732ba8e1f3bf944e2483e4d14c47f7ff6cd9ecbc55",
    FIXTURES / "first-plan-unknown.json":
        "sha256:00a409ad9a710f30ab03fb56d3273b3c6a430f21c75910e28be60d63d64c28e9",
}


@pytest.mark.parametrize("path", sorted(UNTYPED_FINGERPRINTS), ids=lambda p: p.name)
def test_fingerprint_is_the_one_the_untyped_reader_computed(path):
    assert plan_fingerprint(load_plan(path))[0] == UNTYPED_FINGERPRINTS[path]
