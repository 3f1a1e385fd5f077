"""Topic: the topic with its retention and labels, publisher members on it only."""

from __future__ import annotations

from typing import Any

from cdktn import TerraformStack

from infra.synth.constructs.topic import Topic, TopicProps
from tests.synth.constructs.support import PROJECT, identity, synthesized
from tests.synth.tfassert import assert_inventory

TOPIC = "google_pubsub_topic.phase2__topic"


def build(stack: TerraformStack) -> None:
    topic = Topic(stack, "t", TopicProps("nba-phase2-raw-complete", "phase2", PROJECT,
                                         labels=(("phase", "2"),)))
    topic.grant_publish(identity(stack, "nba-run-raw", "raw"))
    Topic(stack, "short", TopicProps("nba-short", "short", PROJECT, part="dlq",
                                     retention="600s"))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory(doc, counts={
        "google_pubsub_topic": 2,
        "google_pubsub_topic_iam_member": 1,
        "google_service_account": 1,
    }, values={
        TOPIC: {"name": "nba-phase2-raw-complete", "project": PROJECT,
                "message_retention_duration": "604800s", "labels": {"phase": "2"}},
        "google_pubsub_topic.short__dlq": {"name": "nba-short",
                                           "message_retention_duration": "600s"},
        "google_pubsub_topic_iam_member.phase2__topic_publisher_raw_identity": {
            "role": "roles/pubsub.publisher", "topic": f"${{{TOPIC}.name}}",
            "member": "serviceAccount:${google_service_account.raw__identity.email}",
            "lifecycle": {"replace_triggered_by": [f"{TOPIC}.id"]},
        },
    })


def test_no_labels_means_no_labels_attribute(doc: dict[str, Any]) -> None:
    assert "labels" not in doc["resource"]["google_pubsub_topic"]["short__dlq"]
