"""Topic: the topic with its retention and labels, publisher members on it only."""

from __future__ import annotations

from typing import Any

from cdktn import TerraformStack

from infra.synth.constructs.topic import Topic, TopicProps
from tests.synth.constructs.support import INVENTORIES, PROJECT, identity, synthesized
from tests.synth.tfassert import assert_inventory_file


def build(stack: TerraformStack) -> None:
    topic = Topic(stack, "t", TopicProps("nba-phase2-raw-complete", "phase2", PROJECT,
                                         labels=(("phase", "2"),)))
    topic.grant_publish(identity(stack, "nba-run-raw", "raw"))
    Topic(stack, "short", TopicProps("nba-short", "short", PROJECT, part="dlq",
                                     retention="600s"))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory_file(doc, INVENTORIES / "topic.yaml")


def test_no_labels_means_no_labels_attribute(doc: dict[str, Any]) -> None:
    assert "labels" not in doc["resource"]["google_pubsub_topic"]["short__dlq"]
