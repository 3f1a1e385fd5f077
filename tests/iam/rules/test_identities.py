"""``iam.rules.identities``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    CANARY_ADDR,
    INV3_ADDR,
    ORCH,
    ORCH_ADDR,
    PUSH3_SA,
    SUB3,
    SVC3,
    SVC3_ADDR,
    Case,
    Stack,
    add,
    canary_runs_as_orchestrator,
    inv3,
    mutation_tests,
    project_invoker,
    project_member,
    res,
    sub3,
    swapped_push_identity,
)


def omitted_service_account(s: Stack) -> None:
    del res(s, "google_cloud_run_v2_service", SVC3)["template"]["service_account"]


def compute_member(s: Stack) -> None:
    inv3(s)["member"] = "serviceAccount:756957797294-compute@developer.gserviceaccount.com"


def omitted_build_account(s: Stack) -> None:
    del res(s, "google_cloudfunctions2_function", ORCH)["build_config"]["service_account"]


def other_project_member(s: Stack) -> None:
    inv3(s)["member"] = (
        "serviceAccount:nba-push-phase2-to-phase3@nba-props-platform-dev.iam.gserviceaccount.com")


def literal_agent_number(s: Stack) -> None:
    member = res(s, "google_pubsub_subscription_iam_member",
                 "phase3_analytics_sub__subscriber_pubsub_agent")
    member["member"] = "serviceAccount:service-756957797294@gcp-sa-pubsub.iam.gserviceaccount.com"


def project_editor(s: Stack) -> None:
    add(s, "google_project_iam_member", "ops_editor", project_member(
        "roles/editor", f"serviceAccount:{PUSH3_SA}"))


def topic_admin(s: Stack) -> None:
    res(s, "google_pubsub_topic_iam_member",
        "phase4_trigger__topic_publisher_phase3_to_phase4_orchestrator_runtime_identity")[
        "role"] = "roles/pubsub.admin"


def member_without_prefix(s: Stack) -> None:
    inv3(s)["member"] = PUSH3_SA


def oidc_email_with_prefix(s: Stack) -> None:
    sub3(s)["push_config"]["oidc_token"]["service_account_email"] = f"serviceAccount:{PUSH3_SA}"


CASES: list[Case] = [
    ("SA-001", SVC3_ADDR, omitted_service_account),
    ("SA-001", INV3_ADDR, compute_member),
    ("SA-001", ORCH_ADDR, omitted_build_account),
    ("SA-002", INV3_ADDR, other_project_member),
    ("SA-002", "google_pubsub_subscription_iam_member."
               "phase3_analytics_sub__subscriber_pubsub_agent", literal_agent_number),
    ("SA-002", INV3_ADDR, member_without_prefix),
    ("SA-002", SUB3, oidc_email_with_prefix),
    ("SA-003", CANARY_ADDR, canary_runs_as_orchestrator),
    ("SA-003", SUB3, swapped_push_identity),
    ("ROLE-001", "google_project_iam_member.ops_editor", project_editor),
    ("ROLE-001", "google_pubsub_topic_iam_member."
                 "phase4_trigger__topic_publisher_phase3_to_phase4_orchestrator_runtime_identity",
     topic_admin),
    ("ROLE-002", "google_project_iam_member.push_invoker", project_invoker),
]


test_mutation_is_caught = mutation_tests(CASES)


def test_literal_member_matching_the_account_is_accepted(prod, check):
    inv3(prod)["member"] = (
        "serviceAccount:nba-push-phase2-to-phase3@nba-props-platform.iam.gserviceaccount.com")
    assert check(prod) == []


def test_literal_member_of_default_account_names_the_fix(prod, check):
    compute_member(prod)
    (hit,) = [v for v in check(prod) if v.rule == "SA-001"]
    assert "756957797294-compute@developer" in hit.message
    assert "own identity" in hit.message
