"""PipelineMonitoring: backlog, dead-letter, trigger-backlog, job-failure and heartbeat alerts,
each threshold derived from the construct it watches (formula: infra.synth.constructs.backlog)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cdktn import TerraformStack

from infra.synth.bundle import Bundle
from infra.synth.constructs.alerting import AlertChannel, AlertChannelProps
from infra.synth.constructs.backlog import (
    DETECTION_BUDGET_SECONDS,
    Delivery,
    backlog_detection_seconds,
    backlog_threshold,
    checked_backlog_threshold,
    retry_budget,
    seconds_of,
)
from infra.synth.constructs.monitoring import (
    MonitoringProps,
    PipelineMonitoring,
    eventarc_subscription_prefix,
    heartbeat_absence_seconds,
    heartbeat_log_filter,
    schedule_interval_seconds,
    scheduler_failure_filter,
)
from infra.synth.constructs.scheduled_job import ScheduledJob, ScheduledJobProps
from tests.synth.constructs.support import (
    AGENT,
    INVENTORIES,
    PROJECT,
    REGION,
    edge,
    function,
    new_stack,
    service,
    topic,
)
from tests.synth.tfassert import assert_inventory_file, synth


def job(stack: TerraformStack, target: Any, component: str = "canary-job",
        schedule: str = "*/15 * * * *") -> ScheduledJob:
    return ScheduledJob(stack, component, ScheduledJobProps(
        name=f"nba-{component}", component=component, project=PROJECT, region=REGION,
        schedule=schedule, time_zone="America/New_York", target=target, path="/",
        identity_account_id=f"nba-job-{component}", http_method="GET"))


def monitoring(stack: TerraformStack) -> PipelineMonitoring:
    channel = AlertChannel(stack, "alerts", AlertChannelProps(PROJECT, "#pipeline", "slack-token"))
    return PipelineMonitoring(stack, "monitoring", MonitoringProps(PROJECT, channel))


@pytest.fixture(scope="module")
def built(bundle: Bundle) -> tuple[PipelineMonitoring, dict[str, Any]]:
    stack = new_stack("monitoring")
    mon = monitoring(stack)
    watched = edge(stack)
    orch = function(stack, bundle, "orch", trigger_topic=topic(stack, "done"),
                    trigger_account_id="nba-trg-orch", pubsub_agent=AGENT, timeout_seconds=540)
    canary = function(stack, bundle, "canary", timeout_seconds=120)
    runs = job(stack, canary)
    mon.alert_on_backlog(watched)
    mon.alert_on_dead_letters(watched)
    mon.alert_on_trigger_backlog(orch)
    mon.alert_on_job_failures(runs)
    mon.alert_on_missing_heartbeat(canary, runs)
    return mon, synth(stack)


def test_inventory(built: tuple[PipelineMonitoring, dict[str, Any]]) -> None:
    assert_inventory_file(built[1], INVENTORIES / "monitoring.yaml")


def test_watches_report_each_derived_condition(
        built: tuple[PipelineMonitoring, dict[str, Any]]) -> None:
    assert [(w.kind, w.watched, w.threshold) for w in built[0].watches] == [
        ("backlog", "nba-sub", "age > 750s for 120s"),
        ("dead_letters", "nba-sub-dlq-sub", "messages > 0"),
        ("trigger_backlog", "eventarc-us-west2-nba-orch-*", "age > 1140s for 120s"),
        ("job_failures", "nba-canary-job", "any failed attempt"),
        ("heartbeat", "nba-canary", "absent for 1800s"),
    ]
    assert len({w.display_name for w in built[0].watches}) == 5


# --- the formula ---

def test_push_edge_threshold_is_one_deadline_plus_the_backoff_before_dead_lettering() -> None:
    d = Delivery("nba-sub", 600, 10, 600, 5)
    assert retry_budget(d) == 10 + 20 + 40 + 80
    assert backlog_threshold(d) == 750
    assert backlog_detection_seconds(d) == 990 <= DETECTION_BUDGET_SECONDS
    # Backoff doubles up to its cap: 10, 20, 40, ..., 600, 600.
    assert retry_budget(Delivery("e", 60, 10, 100, 6)) == 10 + 20 + 40 + 80 + 100


def test_trigger_threshold_is_one_run_plus_the_longest_backoff() -> None:
    d = Delivery("nba-orch trigger", 540, 10, 600, None)
    assert (retry_budget(d), backlog_threshold(d), backlog_detection_seconds(d)) == (600, 1140, 1380)


def test_the_threshold_follows_the_edge(bundle: Bundle) -> None:
    stack = new_stack("monitoring-follows")
    mon = monitoring(stack)
    mon.alert_on_backlog(edge(stack, ack_deadline_seconds=300, minimum_backoff="20s",
                              maximum_backoff="60s"))
    assert mon.watches[0].threshold == f"age > {300 + 20 + 40 + 60 + 60}s for 120s"


def test_an_edge_that_cannot_be_loud_in_30_minutes_is_refused() -> None:
    with pytest.raises(ValueError, match=r"edge nba-slow-sub: a stuck delivery would be loud only "
                       r"after 2070s \(threshold 1830s = attempt deadline 600s \+ retry backoff "
                       r"1230s.*beyond the 1800s budget"):
        checked_backlog_threshold(Delivery("nba-slow-sub", 600, 10, 600, 8))
    stack = new_stack("monitoring-refused")
    with pytest.raises(ValueError, match=r"^edge nba-sub: a stuck delivery"):
        monitoring(stack).alert_on_backlog(edge(stack, max_delivery_attempts=20))


@pytest.mark.parametrize(("delivery", "error"), [
    (dict(attempt_deadline_seconds=0), "edge e: attempt_deadline_seconds 0 must be a positive"),
    (dict(min_backoff_seconds=700), "edge e: min_backoff_seconds 700 exceeds max_backoff_seconds 600"),
    (dict(max_delivery_attempts=0), "edge e: max_delivery_attempts 0 must be at least 1"),
])
def test_delivery_validates_and_names_the_field(delivery: dict[str, int], error: str) -> None:
    with pytest.raises(ValueError, match=re.escape(error)):
        Delivery(**({"edge": "e", "attempt_deadline_seconds": 600, "min_backoff_seconds": 10,
                     "max_backoff_seconds": 600, "max_delivery_attempts": 5} | delivery))


def test_durations_are_whole_seconds() -> None:
    assert seconds_of("x", "600s") == 600
    with pytest.raises(ValueError, match=r"edge nba-sub minimum_backoff: '1m' is not a duration"):
        seconds_of("edge nba-sub minimum_backoff", "1m")


def test_a_function_without_trigger_has_no_delivery(bundle: Bundle) -> None:
    stack = new_stack("monitoring-http")
    with pytest.raises(ValueError, match="function nba-canary: trigger_topic is None"):
        monitoring(stack).alert_on_trigger_backlog(function(stack, bundle, "canary"))


# --- schedules and the heartbeat ---

@pytest.mark.parametrize(("schedule", "interval"), [
    ("*/15 * * * *", 900),
    ("30 10 * * *", 86400),
    ("0 9,17 * * *", 16 * 3600),
    ("*/15 9-16 * * 1-5", (24 * 2 + 16 + 1) * 3600 - 45 * 60),  # Friday 16:45 → Monday 09:00
])
def test_schedule_interval_is_the_longest_gap(schedule: str, interval: int) -> None:
    assert schedule_interval_seconds(schedule, "America/New_York") == interval


def test_heartbeat_is_two_runs_and_must_fit_the_budget() -> None:
    assert heartbeat_absence_seconds("nba-canary-job", "*/15 * * * *", "America/New_York") == 1800
    assert heartbeat_absence_seconds("nba-canary-job", "*/5 * * * *", "America/New_York") == 600
    with pytest.raises(ValueError, match=r"job nba-canary-job: 2 runs of '0 \* \* \* \*' take "
                       r"7200s, beyond the 1800s budget; run the canary at least every 15"):
        heartbeat_absence_seconds("nba-canary-job", "0 * * * *", "America/New_York")


def test_heartbeat_needs_the_job_that_runs_the_function(bundle: Bundle) -> None:
    stack = new_stack("monitoring-heartbeat")
    canary = function(stack, bundle, "canary")
    other = job(stack, service(stack), "other-job")
    with pytest.raises(ValueError, match="job nba-other-job does not call function nba-canary"):
        monitoring(stack).alert_on_missing_heartbeat(canary, other)


def test_filters() -> None:
    assert eventarc_subscription_prefix("us-west2", "nba-orch") == "eventarc-us-west2-nba-orch-"
    f = scheduler_failure_filter("nba-job", "us-west2")
    assert f.startswith('resource.type="cloud_scheduler_job" AND resource.labels.job_id="nba-job"')
    assert "severity>=ERROR OR" in f and 'NOT jsonPayload.status="OK"' in f
    assert heartbeat_log_filter("nba-canary", "pipeline canary: ").endswith(
        'jsonPayload.message=~"^pipeline canary: "')
    with pytest.raises(ValueError, match=r"heartbeat prefix 'a\.b': use letters"):
        heartbeat_log_filter("nba-canary", "a.b")
