"""``iam.rules.references``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import SUB3, Stack, case, drop, mutation_tests


@case("REF-001", SUB3)
def push_account_removed(s: Stack) -> None:
    drop(s, "google_service_account", "phase3_analytics_sub__push_identity")


test_mutation_is_caught = mutation_tests(__name__)
