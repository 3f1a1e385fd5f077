"""``iam.rules.ordering``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from tests.iam.rules.support import INV3_ADDR, ORCH, ORCH_ADDR, SUB3, Stack, case, mutation_tests, res, sub3

TOKEN3 = ("google_service_account_iam_member."
          "phase3_analytics_sub__push_identity_token_creator_pubsub_agent")
TRIGGER_TOKEN = ("google_service_account_iam_member."
                 "phase3_to_phase4_orchestrator__trigger_identity_token_creator_pubsub_agent")
BUILD_LOGS = "google_project_iam_member.function_builder__identity_logging_logWriter"


def _undepend(body: dict, address: str) -> None:
    body["depends_on"] = [d for d in body["depends_on"] if d != address]


@case("ORDER-001", SUB3)
def subscription_before_invoker(s: Stack) -> None:
    _undepend(sub3(s), INV3_ADDR)


@case("ORDER-001", SUB3)
def subscription_before_token_creator(s: Stack) -> None:
    _undepend(sub3(s), TOKEN3)


@case("ORDER-001", ORCH_ADDR)
def trigger_before_token_creator(s: Stack) -> None:
    _undepend(res(s, "google_cloudfunctions2_function", ORCH), TRIGGER_TOKEN)


@case("ORDER-002", ORCH_ADDR)
def build_before_its_grants(s: Stack) -> None:
    _undepend(res(s, "google_cloudfunctions2_function", ORCH), BUILD_LOGS)


SLEEP3 = "time_sleep.phase3_analytics_sub__push_identity_grants_propagated"
SERVICE3 = "google_cloud_run_v2_service.phase3_analytics_processors__service"
SLEEP_SERVICE3 = "time_sleep.phase3_analytics_processors__identity_grants_propagated"
JOB = "google_cloud_scheduler_job.same_day_phase3_job__job"


@case("ORDER-003", SUB3)
def push_identity_switch_without_the_wait(s: Stack) -> None:
    _undepend(sub3(s), SLEEP3)


@case("ORDER-003", SUB3)
def wait_that_misses_the_invoker(s: Stack) -> None:
    _undepend(res(s, "time_sleep", SLEEP3.split(".", 1)[1]), INV3_ADDR)


@case("ORDER-003", SERVICE3)
def service_runs_as_its_identity_before_its_data_grants(s: Stack) -> None:
    _undepend(res(s, "google_cloud_run_v2_service", SERVICE3.split(".", 1)[1]), SLEEP_SERVICE3)


@case("ORDER-003", JOB)
def job_switches_identity_without_the_wait(s: Stack) -> None:
    job = res(s, "google_cloud_scheduler_job", JOB.split(".", 1)[1])
    job["depends_on"] = [d for d in job["depends_on"] if not d.startswith("time_sleep.")]


test_mutation_is_caught = mutation_tests(__name__)
