"""``iam.rules.members``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    INV3,
    INV3_ADDR,
    ORCH,
    Stack,
    add,
    case,
    inv3,
    mutation_tests,
    res,
)

ORCH_INVOKER = ("phase3_to_phase4_orchestrator__invoker_"
                "phase3_to_phase4_orchestrator_trigger_identity")


@case("LIFE-001", INV3_ADDR)
def no_replace_triggered_by(s: Stack) -> None:
    del inv3(s)["lifecycle"]


@case("LIFE-001", INV3_ADDR)
def replace_triggered_by_other(s: Stack) -> None:
    inv3(s)["lifecycle"]["replace_triggered_by"] = [
        "google_cloud_run_v2_service.phase4_precompute_processors__service"]


@case("LIFE-001", f"google_cloud_run_v2_service_iam_member.{ORCH_INVOKER}")
def function_invoker_by_live_name_on_a_replaceable_function(s: Stack) -> None:
    """An adopted function's invoker names the live service; without PREVENT a replacement
    would leave it on a service that no longer exists."""
    res(s, "google_cloud_run_v2_service_iam_member", ORCH_INVOKER)["name"] = (
        "phase3-to-phase4-orchestrator")
    res(s, "google_cloudfunctions2_function", ORCH)["deletion_policy"] = "DELETE"


@case("COND-001", INV3_ADDR)
def conditional(s: Stack) -> None:
    inv3(s)["condition"] = {"title": "until", "expression":
                            'request.time < timestamp("2026-03-01T00:00:00Z")'}


@case("COND-001", INV3_ADDR)
def resource_name_condition_with_a_clock(s: Stack) -> None:
    inv3(s)["condition"] = {"title": "narrow", "expression":
                            'resource.name.startsWith("projects/_/buckets/x") && '
                            'request.time < timestamp("2026-03-01T00:00:00Z")'}


@case("COND-001", INV3_ADDR)
def resource_tag_condition(s: Stack) -> None:
    inv3(s)["condition"] = {"title": "tagged", "expression":
                            'resource.matchTag("123/env", "prod")'}


def test_a_condition_on_the_resource_name_only_is_static() -> None:
    from iam.rules.members import _static_resource_condition

    assert _static_resource_condition('resource.name.startsWith("projects/_/buckets/gcf-v2-")')
    assert not _static_resource_condition('request.time < timestamp("2026-01-01T00:00:00Z")')
    assert not _static_resource_condition("")


@case("AUTH-001", "google_cloud_run_v2_service_iam_binding.phase3_invokers")
def made_authoritative(s: Stack) -> None:
    body = s["resource"]["google_cloud_run_v2_service_iam_member"].pop(INV3)
    body["members"] = [body.pop("member")]
    add(s, "google_cloud_run_v2_service_iam_binding", "phase3_invokers", body)


@case("AUTH-001", "google_project_iam_policy.project")
def project_policy(s: Stack) -> None:
    s.setdefault("data", {})["google_iam_policy"] = {"admins": {"binding": [
        {"role": "roles/datastore.user", "members": [
            "serviceAccount:${google_service_account.phase3_to_phase4_orchestrator__runtime_identity.email}"]}]}}
    add(s, "google_project_iam_policy", "project", {
        "project": "nba-props-platform",
        "policy_data": "${data.google_iam_policy.admins.policy_data}"})


test_mutation_is_caught = mutation_tests(__name__)
