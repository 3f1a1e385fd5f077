"""Mutations of the synthesized prod stack shared by the rule tests, and their helpers.

Each mutation is a minimal break of one class of mistake, registered with
``@case(rule, address)`` in the area that declares the rule; ``caught`` asserts that the
engine reports it with that rule id at that address.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from iam.rules import RULES

Stack = dict[str, Any]
Mutation = Callable[[Stack], None]
Case = tuple[str, str, Mutation]
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


AREA_OF = {r.id: r.check.__module__ for r in RULES}
"""Rule id → the ``iam.rules`` module (area) that declares it."""

CASES: dict[str, list[Case]] = {}
"""Area → its registered cases, in registration order (``case`` fills it)."""


def case(rule: str, address: str) -> Callable[[Mutation], Mutation]:
    """Register the decorated mutation as breaking ``rule`` at ``address``, in the rule's area."""

    def register(mutate: Mutation) -> Mutation:
        area = AREA_OF[rule]
        # A test module registers only its own area's cases: the area's module runs them, so
        # one registered elsewhere would run only when that other module happens to be imported.
        if mutate.__module__ != __name__ and area_cases_key(mutate.__module__) != area:
            raise ValueError(f"case {rule} ({mutate.__name__}) is in {mutate.__module__}, "
                             f"not in the tests of {area}")
        CASES.setdefault(area, []).append((rule, address, mutate))
        return mutate

    return register


def area_cases_key(test_module: str) -> str:
    """The area the test module ``test_<area>`` (tests/iam/rules/) tests: ``iam.rules.<area>``."""
    return "iam.rules." + test_module.rsplit(".", 1)[-1].removeprefix("test_")


def area_cases(test_module: str) -> list[Case]:
    """The cases of the area ``test_module`` tests, in registration order."""
    return CASES.get(area_cases_key(test_module), [])


def mutation_tests(test_module: str) -> Callable[..., None]:
    """The test that every case of the module's area is caught, one parametrized run per case."""
    cases = area_cases(test_module)

    @pytest.mark.parametrize(("rule", "address", "mutate"), cases,
                             ids=[f"{r}-{m.__name__}" for r, _, m in cases])
    def test_mutation_is_caught(prod, check, rule, address, mutate):
        caught(check, prod, rule, address, mutate)

    return test_mutation_is_caught


# ----- mutations that break rules of more than one area -----

@case("GRANT-001", INV3_ADDR)
@case("INVOKE-003", INV3_ADDR)
def widened_to_admin(s: Stack) -> None:
    inv3(s)["role"] = "roles/run.admin"


@case("GRANT-003", CANARY_ADDR)
@case("SA-003", CANARY_ADDR)
def canary_runs_as_orchestrator(s: Stack) -> None:
    res(s, "google_cloudfunctions2_function", CANARY)["service_config"][
        "service_account_email"] = (
        "${google_service_account.phase3_to_phase4_orchestrator__runtime_identity.email}")


@case("GRANT-003", SUB3)
@case("SA-003", SUB3)
@case("PUSH-003", SUB3)
def swapped_push_identity(s: Stack) -> None:
    sub3(s)["push_config"]["oidc_token"]["service_account_email"] = PUSH2_SA


@case("DLQ-001", SUB3)
@case("TOPIC-001", "google_pubsub_topic.phase3_analytics_sub__dead_letter_topic")
def dead_letter_subscription_removed(s: Stack) -> None:
    drop(s, "google_pubsub_subscription", "phase3_analytics_sub__dead_letter_subscription")


@case("GRANT-001", "google_project_iam_member.push_invoker")
@case("ROLE-002", "google_project_iam_member.push_invoker")
def project_invoker(s: Stack) -> None:
    add(s, "google_project_iam_member", "push_invoker", project_member(
        "roles/run.invoker", f"serviceAccount:{PUSH3_SA}"))


@case("DRIFT-002", ORCH_ADDR)
@case("DRIFT-001", ORCH_ADDR)
def trigger_topic_env_removed_topic(s: Stack) -> None:
    orch_env(s)["TRIGGER_TOPIC"] = "nba-phase3-trigger"
