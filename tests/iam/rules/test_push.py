"""``iam.rules.push``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import INV3, SUB3, Stack, case, drop, inv3, mutation_tests, sub3


@case("PUSH-001", SUB3)
def no_oidc(s: Stack) -> None:
    del sub3(s)["push_config"]["oidc_token"]


@case("PUSH-001", SUB3)
def no_audience(s: Stack) -> None:
    del sub3(s)["push_config"]["oidc_token"]["audience"]


@case("PUSH-001", SUB3)
def wrong_audience(s: Stack) -> None:
    sub3(s)["push_config"]["oidc_token"]["audience"] = (
        "${google_cloud_run_v2_service.phase4_precompute_processors__service.uri}")


@case("PUSH-002", SUB3)
def literal_endpoint(s: Stack) -> None:
    sub3(s)["push_config"]["push_endpoint"] = (
        "https://nba-phase3-analytics-processors-756957797294.us-west2.run.app/process")


@case("PUSH-003", SUB3)
def invoker_removed(s: Stack) -> None:
    drop(s, "google_cloud_run_v2_service_iam_member", INV3)


@case("PUSH-004", SUB3)
def token_creator_removed(s: Stack) -> None:
    drop(s, "google_service_account_iam_member",
         "phase3_analytics_sub__push_identity_token_creator_pubsub_agent")


test_mutation_is_caught = mutation_tests(__name__)


def test_removed_invoker_is_caught_without_env(prod, check):
    invoker_removed(prod)
    rules = {v.rule for v in check(prod, None)}
    assert "PUSH-003" in rules
    assert not rules & {"GRANT-001", "GRANT-002", "GRANT-003", "WIRE-001", "DRIFT-003"}


def test_literal_target_name_is_resolved(prod, check):
    inv3(prod)["name"] = "nba-phase3-analytics-processors"
    assert check(prod) == []
