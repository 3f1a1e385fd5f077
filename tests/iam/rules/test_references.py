"""``iam.rules.references``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    SUB3,
    Case,
    Stack,
    drop,
    mutation_tests,
)


def push_account_removed(s: Stack) -> None:
    drop(s, "google_service_account", "phase3_analytics_sub__push_identity")


CASES: list[Case] = [
    ("REF-001", SUB3, push_account_removed),
]


test_mutation_is_caught = mutation_tests(CASES)
