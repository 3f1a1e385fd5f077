"""``iam.rules.dead_letters``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import SUB3, Stack, case, drop, mutation_tests, sub3


@case("DLQ-001", SUB3)
def dead_letter_cut(s: Stack) -> None:
    del sub3(s)["dead_letter_policy"]


@case("DLQ-001", SUB3)
def dead_letter_is_source(s: Stack) -> None:
    sub3(s)["dead_letter_policy"]["dead_letter_topic"] = sub3(s)["topic"]


@case("DLQ-002", SUB3)
def dead_letter_publisher_removed(s: Stack) -> None:
    drop(s, "google_pubsub_topic_iam_member",
         "phase3_analytics_sub__dead_letter_topic_publisher_pubsub_agent")


@case("DLQ-003", SUB3)
def dead_letter_subscriber_removed(s: Stack) -> None:
    drop(s, "google_pubsub_subscription_iam_member",
         "phase3_analytics_sub__subscriber_pubsub_agent")


test_mutation_is_caught = mutation_tests(__name__)
