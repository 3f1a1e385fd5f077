"""``iam.rules.environment``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import Stack, case, mutation_tests, res


@case("ENV-001", "google_pubsub_topic.phase4_trigger__topic")
def topic_in_dev_project(s: Stack) -> None:
    res(s, "google_pubsub_topic", "phase4_trigger__topic")["project"] = "nba-props-platform-dev"


@case("ENV-001", "provider.google")
def provider_of_dev(s: Stack) -> None:
    s["provider"]["google"][0]["project"] = "nba-props-platform-dev"


test_mutation_is_caught = mutation_tests(__name__)
