"""``iam.rules.push``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    INV3,
    SUB3,
    Case,
    Stack,
    drop,
    inv3,
    mutation_tests,
    sub3,
    swapped_push_identity,
)


def no_oidc(s: Stack) -> None:
    del sub3(s)["push_config"]["oidc_token"]


def no_audience(s: Stack) -> None:
    del sub3(s)["push_config"]["oidc_token"]["audience"]


def wrong_audience(s: Stack) -> None:
    sub3(s)["push_config"]["oidc_token"]["audience"] = (
        "${google_cloud_run_v2_service.phase4_precompute_processors__service.uri}")


def literal_endpoint(s: Stack) -> None:
    sub3(s)["push_config"]["push_endpoint"] = (
        "https://nba-phase3-analytics-processors-756957797294.us-west2.run.app/process")


def invoker_removed(s: Stack) -> None:
    drop(s, "google_cloud_run_v2_service_iam_member", INV3)


def token_creator_removed(s: Stack) -> None:
    drop(s, "google_service_account_iam_member",
         "phase3_analytics_sub__push_identity_token_creator_pubsub_agent")


CASES: list[Case] = [
    ("PUSH-001", SUB3, no_oidc),
    ("PUSH-001", SUB3, no_audience),
    ("PUSH-001", SUB3, wrong_audience),
    ("PUSH-002", SUB3, literal_endpoint),
    ("PUSH-003", SUB3, invoker_removed),
    ("PUSH-003", SUB3, swapped_push_identity),
    ("PUSH-004", SUB3, token_creator_removed),
]


test_mutation_is_caught = mutation_tests(CASES)


def test_removed_invoker_is_caught_without_env(prod, check):
    invoker_removed(prod)
    rules = {v.rule for v in check(prod, None)}
    assert "PUSH-003" in rules
    assert not rules & {"GRANT-001", "GRANT-002", "GRANT-003", "WIRE-001", "DRIFT-003"}


def test_literal_target_name_is_resolved(prod, check):
    inv3(prod)["name"] = "nba-phase3-analytics-processors"
    assert check(prod) == []
