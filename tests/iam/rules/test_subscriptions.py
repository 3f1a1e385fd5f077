"""``iam.rules.subscriptions``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    SUB3,
    Case,
    Stack,
    add,
    dead_letter_subscription_removed,
    mutation_tests,
    res,
    sub3,
)


def orphan_topic(s: Stack) -> None:
    add(s, "google_pubsub_topic", "phase9_orphan__topic",
        {"name": "nba-phase9-orphan", "project": "nba-props-platform"})


def subscription_expires(s: Stack) -> None:
    del res(s, "google_pubsub_subscription",
            "phase3_analytics_sub__dead_letter_subscription")["expiration_policy"]


def no_retry_policy(s: Stack) -> None:
    del sub3(s)["retry_policy"]


def retry_without_backoff(s: Stack) -> None:
    sub3(s)["retry_policy"] = {"maximum_backoff": "600s"}


CASES: list[Case] = [
    ("SUB-001", "google_pubsub_subscription.phase3_analytics_sub__dead_letter_subscription",
     subscription_expires),
    ("SUB-002", SUB3, no_retry_policy),
    ("SUB-002", SUB3, retry_without_backoff),
    ("TOPIC-001", "google_pubsub_topic.phase9_orphan__topic", orphan_topic),
    ("TOPIC-001", "google_pubsub_topic.phase3_analytics_sub__dead_letter_topic",
     dead_letter_subscription_removed),
]


test_mutation_is_caught = mutation_tests(CASES)
