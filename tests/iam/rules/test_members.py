"""``iam.rules.members``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    INV3,
    INV3_ADDR,
    Case,
    Stack,
    add,
    inv3,
    mutation_tests,
)


def no_replace_triggered_by(s: Stack) -> None:
    del inv3(s)["lifecycle"]


def replace_triggered_by_other(s: Stack) -> None:
    inv3(s)["lifecycle"]["replace_triggered_by"] = [
        "google_cloud_run_v2_service.phase4_precompute_processors__service"]


def conditional(s: Stack) -> None:
    inv3(s)["condition"] = {"title": "until", "expression":
                            'request.time < timestamp("2026-03-01T00:00:00Z")'}


def made_authoritative(s: Stack) -> None:
    body = s["resource"]["google_cloud_run_v2_service_iam_member"].pop(INV3)
    body["members"] = [body.pop("member")]
    add(s, "google_cloud_run_v2_service_iam_binding", "phase3_invokers", body)


def project_policy(s: Stack) -> None:
    s.setdefault("data", {})["google_iam_policy"] = {"admins": {"binding": [
        {"role": "roles/datastore.user", "members": [
            "serviceAccount:${google_service_account.phase3_to_phase4_orchestrator__runtime_identity.email}"]}]}}
    add(s, "google_project_iam_policy", "project", {
        "project": "nba-props-platform",
        "policy_data": "${data.google_iam_policy.admins.policy_data}"})


CASES: list[Case] = [
    ("COND-001", INV3_ADDR, conditional),
    ("LIFE-001", INV3_ADDR, no_replace_triggered_by),
    ("LIFE-001", INV3_ADDR, replace_triggered_by_other),
    ("AUTH-001", "google_cloud_run_v2_service_iam_binding.phase3_invokers", made_authoritative),
    ("AUTH-001", "google_project_iam_policy.project", project_policy),
]


test_mutation_is_caught = mutation_tests(CASES)
