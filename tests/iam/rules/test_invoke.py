"""``iam.rules.invoke``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    CANARY_JOB_ADDR,
    INV3_ADDR,
    JOB,
    JOB_ADDR,
    ORCH_ADDR,
    Case,
    Stack,
    drop,
    mutation_tests,
    res,
    widened_to_admin,
)


def trigger_invoker_removed(s: Stack) -> None:
    drop(s, "google_cloud_run_v2_service_iam_member",
         "phase3_to_phase4_orchestrator__invoker_phase3_to_phase4_orchestrator_trigger_identity")


def job_without_oidc(s: Stack) -> None:
    del res(s, "google_cloud_scheduler_job", JOB)["http_target"]["oidc_token"]


def job_invoker_removed(s: Stack) -> None:
    drop(s, "google_cloud_run_v2_service_iam_member",
         "pipeline_canary__invoker_pipeline_canary_job_identity")


CASES: list[Case] = [
    ("INVOKE-001", ORCH_ADDR, trigger_invoker_removed),
    ("INVOKE-002", JOB_ADDR, job_without_oidc),
    ("INVOKE-002", CANARY_JOB_ADDR, job_invoker_removed),
    ("INVOKE-003", INV3_ADDR, widened_to_admin),
]


test_mutation_is_caught = mutation_tests(CASES)
