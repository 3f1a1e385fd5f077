"""``iam.rules.identities``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    INV3_ADDR,
    ORCH,
    ORCH_ADDR,
    PUSH3_SA,
    SUB3,
    SVC3,
    SVC3_ADDR,
    Stack,
    add,
    case,
    inv3,
    mutation_tests,
    project_member,
    res,
    sub3,
)


@case("SA-001", SVC3_ADDR)
def omitted_service_account(s: Stack) -> None:
    del res(s, "google_cloud_run_v2_service", SVC3)["template"]["service_account"]


@case("SA-001", INV3_ADDR)
def compute_member(s: Stack) -> None:
    inv3(s)["member"] = "serviceAccount:756957797294-compute@developer.gserviceaccount.com"


@case("SA-001", ORCH_ADDR)
def omitted_build_account(s: Stack) -> None:
    del res(s, "google_cloudfunctions2_function", ORCH)["build_config"]["service_account"]


@case("SA-002", INV3_ADDR)
def other_project_member(s: Stack) -> None:
    inv3(s)["member"] = (
        "serviceAccount:nba-push-phase2-to-phase3@nba-props-platform-dev.iam.gserviceaccount.com")


@case("SA-002", "google_pubsub_subscription_iam_member."
                      "phase3_analytics_sub__subscriber_pubsub_agent")
def literal_agent_number(s: Stack) -> None:
    member = res(s, "google_pubsub_subscription_iam_member",
                 "phase3_analytics_sub__subscriber_pubsub_agent")
    member["member"] = "serviceAccount:service-756957797294@gcp-sa-pubsub.iam.gserviceaccount.com"


@case("ROLE-001", "google_project_iam_member.ops_editor")
def project_editor(s: Stack) -> None:
    add(s, "google_project_iam_member", "ops_editor", project_member(
        "roles/editor", f"serviceAccount:{PUSH3_SA}"))


@case("ROLE-001", "google_pubsub_topic_iam_member."
                        "phase4_trigger__topic_publisher_phase3_to_phase4_orchestrator_runtime_identity")
def topic_admin(s: Stack) -> None:
    res(s, "google_pubsub_topic_iam_member",
        "phase4_trigger__topic_publisher_phase3_to_phase4_orchestrator_runtime_identity")[
        "role"] = "roles/pubsub.admin"


@case("SA-002", INV3_ADDR)
def member_without_prefix(s: Stack) -> None:
    inv3(s)["member"] = PUSH3_SA


@case("SA-002", SUB3)
def oidc_email_with_prefix(s: Stack) -> None:
    sub3(s)["push_config"]["oidc_token"]["service_account_email"] = f"serviceAccount:{PUSH3_SA}"


test_mutation_is_caught = mutation_tests(__name__)


def test_literal_member_matching_the_account_is_accepted(prod, check):
    inv3(prod)["member"] = (
        "serviceAccount:nba-push-phase2-to-phase3@nba-props-platform.iam.gserviceaccount.com")
    assert check(prod) == []


def test_literal_member_of_default_account_names_the_fix(prod, check):
    compute_member(prod)
    (hit,) = [v for v in check(prod) if v.rule == "SA-001"]
    assert "756957797294-compute@developer" in hit.message
    assert "own identity" in hit.message
