"""``iam.rules.subscriptions``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import SUB3, Stack, add, case, mutation_tests, res, sub3


@case("TOPIC-001", "google_pubsub_topic.phase9_orphan__topic")
def orphan_topic(s: Stack) -> None:
    add(s, "google_pubsub_topic", "phase9_orphan__topic",
        {"name": "nba-phase9-orphan", "project": "nba-props-platform"})


@case("SUB-001", "google_pubsub_subscription.phase3_analytics_sub__dead_letter_subscription")
def subscription_expires(s: Stack) -> None:
    del res(s, "google_pubsub_subscription",
            "phase3_analytics_sub__dead_letter_subscription")["expiration_policy"]


@case("SUB-002", SUB3)
def no_retry_policy(s: Stack) -> None:
    del sub3(s)["retry_policy"]


@case("SUB-002", SUB3)
def retry_without_backoff(s: Stack) -> None:
    sub3(s)["retry_policy"] = {"maximum_backoff": "600s"}


test_mutation_is_caught = mutation_tests(__name__)
