"""``iam.rules.grant_data``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import INV3_ADDR, PUSH2_SA, Stack, case, drop, inv3, mutation_tests


@case("GRANT-002", "google_pubsub_topic.phase4_trigger__topic")
def publisher_removed(s: Stack) -> None:
    drop(s, "google_pubsub_topic_iam_member",
         "phase4_trigger__topic_publisher_phase3_to_phase4_orchestrator_runtime_identity")


test_mutation_is_caught = mutation_tests(__name__)


def test_swapped_identity_grant_names_the_right_target(prod, check):
    inv3(prod)["member"] = f"serviceAccount:{PUSH2_SA}"
    (hit,) = [v for v in check(prod) if v.rule == "GRANT-001"]
    assert hit.address == INV3_ADDR
    assert "only on ['run.service nba-phase2-raw-processors']" in hit.message
