"""``iam.rules.grant_data``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    CANARY_ADDR,
    INV3_ADDR,
    PUSH2_SA,
    SUB3,
    Case,
    Stack,
    canary_runs_as_orchestrator,
    drop,
    inv3,
    mutation_tests,
    project_invoker,
    swapped_push_identity,
    widened_to_admin,
)


def publisher_removed(s: Stack) -> None:
    drop(s, "google_pubsub_topic_iam_member",
         "phase4_trigger__topic_publisher_phase3_to_phase4_orchestrator_runtime_identity")


CASES: list[Case] = [
    ("GRANT-001", "google_project_iam_member.push_invoker", project_invoker),
    ("GRANT-001", INV3_ADDR, widened_to_admin),
    ("GRANT-002", "google_pubsub_topic.phase4_trigger__topic", publisher_removed),
    ("GRANT-003", CANARY_ADDR, canary_runs_as_orchestrator),
    ("GRANT-003", SUB3, swapped_push_identity),
]


test_mutation_is_caught = mutation_tests(CASES)


def test_swapped_identity_grant_names_the_right_target(prod, check):
    inv3(prod)["member"] = f"serviceAccount:{PUSH2_SA}"
    (hit,) = [v for v in check(prod) if v.rule == "GRANT-001"]
    assert hit.address == INV3_ADDR
    assert "only on ['run.service nba-phase2-raw-processors']" in hit.message
