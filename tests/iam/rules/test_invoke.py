"""``iam.rules.invoke``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import (
    CANARY_JOB_ADDR,
    JOB,
    JOB_ADDR,
    ORCH_ADDR,
    Stack,
    case,
    drop,
    mutation_tests,
    res,
)


@case("INVOKE-001", ORCH_ADDR)
def trigger_invoker_removed(s: Stack) -> None:
    drop(s, "google_cloud_run_v2_service_iam_member",
         "phase3_to_phase4_orchestrator__invoker_phase3_to_phase4_orchestrator_trigger_identity")


@case("INVOKE-002", JOB_ADDR)
def job_without_oidc(s: Stack) -> None:
    del res(s, "google_cloud_scheduler_job", JOB)["http_target"]["oidc_token"]


@case("INVOKE-002", CANARY_JOB_ADDR)
def job_invoker_removed(s: Stack) -> None:
    drop(s, "google_cloud_run_v2_service_iam_member",
         "pipeline_canary__invoker_pipeline_canary_job_identity")


test_mutation_is_caught = mutation_tests(__name__)
