"""Mutations of the synthesized prod stack shared by the rule tests, and their helpers.

Each mutation is a minimal break of one class of mistake; ``caught`` asserts that the
engine reports it with the expected rule id at the expected address.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest

Stack = dict[str, Any]
Case = tuple[str, str, Callable[[Stack], None]]
"""(rule id, the address its violation must name, the mutation that breaks it)"""

SUB3 = "google_pubsub_subscription.phase3_analytics_sub__subscription"
SUB3_NAME = "phase3_analytics_sub__subscription"
INV3 = "phase3_analytics_processors__invoker_phase3_analytics_sub_push_identity"
INV3_ADDR = f"google_cloud_run_v2_service_iam_member.{INV3}"
SVC3 = "phase3_analytics_processors__service"
SVC3_ADDR = f"google_cloud_run_v2_service.{SVC3}"
ORCH = "phase3_to_phase4_orchestrator__function"
ORCH_ADDR = f"google_cloudfunctions2_function.{ORCH}"
CANARY = "pipeline_canary__function"
CANARY_ADDR = f"google_cloudfunctions2_function.{CANARY}"
JOB = "same_day_phase3_job__job"
JOB_ADDR = f"google_cloud_scheduler_job.{JOB}"
CANARY_JOB_ADDR = "google_cloud_scheduler_job.pipeline_canary_job__job"
PUSH3_SA = "${google_service_account.phase3_analytics_sub__push_identity.email}"
PUSH2_SA = "${google_service_account.phase2_raw_sub__push_identity.email}"


DATASET = "dataset_orchestration__dataset"
TABLE = "dataset_orchestration__table_phase_completions"


def res(stack: Stack, rtype: str, name: str) -> dict[str, Any]:
    return stack["resource"][rtype][name]


def sub3(stack: Stack) -> dict[str, Any]:
    return res(stack, "google_pubsub_subscription", SUB3_NAME)


def inv3(stack: Stack) -> dict[str, Any]:
    return res(stack, "google_cloud_run_v2_service_iam_member", INV3)


def add(stack: Stack, rtype: str, name: str, body: dict[str, Any]) -> None:
    stack["resource"].setdefault(rtype, {})[name] = body


def drop(stack: Stack, rtype: str, name: str) -> None:
    del stack["resource"][rtype][name]


def orch_env(stack: Stack) -> dict[str, str]:
    return res(stack, "google_cloudfunctions2_function", ORCH)["service_config"][
        "environment_variables"]


def canary_env(stack: Stack) -> dict[str, str]:
    return res(stack, "google_cloudfunctions2_function", CANARY)["service_config"][
        "environment_variables"]


def project_member(role: str, member: str) -> dict[str, Any]:
    return {"project": "nba-props-platform", "role": role, "member": member}


def caught(check: Callable[..., list[Any]], stack: Stack, rule: str, address: str,
           mutate: Callable[[Stack], None]) -> None:
    """``mutate`` the stack and assert ``rule`` names ``address`` (every message non-empty)."""
    mutate(stack)
    violations = check(stack)
    hits = [v for v in violations if v.rule == rule and v.address == address]
    assert hits, (f"expected {rule} on {address}; got:\n"
                  + "\n".join(v.line() for v in violations))
    assert all(v.message and v.stack == "pipeline-prod" for v in violations)


def mutation_tests(cases: Sequence[Case]) -> Callable[..., None]:
    """The test that every case is caught, one parametrized run per case."""

    @pytest.mark.parametrize(("rule", "address", "mutate"), cases,
                             ids=[f"{r}-{m.__name__}" for r, _, m in cases])
    def test_mutation_is_caught(prod, check, rule, address, mutate):
        caught(check, prod, rule, address, mutate)

    return test_mutation_is_caught


# ----- mutations used by the tests of more than one area -----

def widened_to_admin(s: Stack) -> None:
    inv3(s)["role"] = "roles/run.admin"


def canary_runs_as_orchestrator(s: Stack) -> None:
    res(s, "google_cloudfunctions2_function", CANARY)["service_config"][
        "service_account_email"] = (
        "${google_service_account.phase3_to_phase4_orchestrator__runtime_identity.email}")


def swapped_push_identity(s: Stack) -> None:
    sub3(s)["push_config"]["oidc_token"]["service_account_email"] = PUSH2_SA


def dead_letter_subscription_removed(s: Stack) -> None:
    drop(s, "google_pubsub_subscription", "phase3_analytics_sub__dead_letter_subscription")


def project_invoker(s: Stack) -> None:
    add(s, "google_project_iam_member", "push_invoker", project_member(
        "roles/run.invoker", f"serviceAccount:{PUSH3_SA}"))


def trigger_topic_env_removed_topic(s: Stack) -> None:
    orch_env(s)["TRIGGER_TOPIC"] = "nba-phase3-trigger"
