"""``iam.rules.monitoring``: each rule failing, with its id and address, on a minimal mutation."""

from __future__ import annotations

from typing import Any

from tests.iam.rules.support import (
    CANARY_ADDR,
    JOB,
    JOB_ADDR,
    ORCH_ADDR,
    SUB3,
    Stack,
    case,
    drop,
    mutation_tests,
    res,
)

POLICY = "google_monitoring_alert_policy"
DLQ3 = "google_pubsub_subscription.phase3_analytics_sub__dead_letter_subscription"
DLQ3_POLICY = "phase3_analytics_sub__dead_letter_alert"
ERRORS_POLICY = "alerts__errors_pipeline_canary"


def threshold(s: Stack, name: str) -> dict[str, Any]:
    return res(s, POLICY, name)["conditions"][0]["condition_threshold"]


@case("MON-001", SUB3)
def push_backlog_alert_removed(s: Stack) -> None:
    drop(s, POLICY, "phase3_analytics_sub__backlog_age_alert")


@case("MON-001", SUB3)
def push_backlog_alert_on_another_subscription(s: Stack) -> None:
    cond = threshold(s, "phase3_analytics_sub__backlog_age_alert")
    cond["filter"] = cond["filter"].replace("nba-phase3-analytics-sub", "nba-phase2-raw-sub")


@case("MON-002", ORCH_ADDR)
def trigger_backlog_alert_removed(s: Stack) -> None:
    drop(s, POLICY, "phase3_to_phase4_orchestrator__trigger_backlog_alert")


@case("MON-002", ORCH_ADDR)
def trigger_backlog_alert_on_another_function(s: Stack) -> None:
    cond = threshold(s, "phase3_to_phase4_orchestrator__trigger_backlog_alert")
    cond["filter"] = cond["filter"].replace("phase3-to-phase4-orchestrator", "other-function")


@case("MON-003", DLQ3)
def dead_letter_alert_removed(s: Stack) -> None:
    drop(s, POLICY, DLQ3_POLICY)


@case("MON-003", DLQ3)
def dead_letter_alert_only_above_ten(s: Stack) -> None:
    threshold(s, DLQ3_POLICY)["threshold_value"] = 10


@case("MON-003", DLQ3)
@case("MON-006", f"{POLICY}.{DLQ3_POLICY}")
def dead_letter_alert_notifies_no_channel(s: Stack) -> None:
    del res(s, POLICY, DLQ3_POLICY)["notification_channels"]


@case("MON-004", JOB_ADDR)
def job_failure_alert_removed(s: Stack) -> None:
    drop(s, POLICY, JOB.replace("__job", "__failure_alert"))


@case("MON-005", CANARY_ADDR)
def heartbeat_alert_removed(s: Stack) -> None:
    drop(s, POLICY, "pipeline_canary__heartbeat_alert")


@case("MON-005", CANARY_ADDR)
def heartbeat_counter_removed(s: Stack) -> None:
    drop(s, "google_logging_metric", "pipeline_canary__heartbeat_metric")


@case("MON-006", f"{POLICY}.{ERRORS_POLICY}")
def error_alert_disabled(s: Stack) -> None:
    res(s, POLICY, ERRORS_POLICY)["enabled"] = False


@case("MON-006", f"{POLICY}.{ERRORS_POLICY}")
def error_alert_notifies_a_channel_of_no_stack(s: Stack) -> None:
    res(s, POLICY, ERRORS_POLICY)["notification_channels"] = ["${var.channel}"]


test_mutation_is_caught = mutation_tests(__name__)


def test_a_stack_without_monitoring_names_every_silent_path(prod, check):
    for name in list(prod["resource"][POLICY]):
        if not name.startswith("alerts__errors_"):
            drop(prod, POLICY, name)
    found = {(v.rule, v.address) for v in check(prod) if v.rule.startswith("MON-")}
    subs = prod["resource"]["google_pubsub_subscription"]
    assert {a for r, a in found if r == "MON-001"} == {
        f"google_pubsub_subscription.{n}" for n, body in subs.items() if "push_config" in body}
    assert {a for r, a in found if r == "MON-003"} == {
        f"google_pubsub_subscription.{n}" for n in subs if n.endswith("__dead_letter_subscription")}
    assert {a for r, a in found if r == "MON-002"} == {ORCH_ADDR}
    assert {a for r, a in found if r == "MON-004"} == {
        f"google_cloud_scheduler_job.{n}" for n in prod["resource"]["google_cloud_scheduler_job"]}
    assert {a for r, a in found if r == "MON-005"} == {CANARY_ADDR}
