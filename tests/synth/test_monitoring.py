"""The stacks' alerting and dashboard are derived from the stacks themselves and the manifest:
every delivery subscription, dead letter, scheduler job and the canary's heartbeat is watched,
with the thresholds the formula gives for the settings the stack declares."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from functions.pipeline_canary import health
from functions.pipeline_canary.config import CanaryConfig
from functions.pipeline_canary.findings import Finding
from infra.model.envs import get_env
from infra.model.pipeline import load
from infra.model.wiring import derive
from infra.stackjson.stack import Resource, StackJson
from infra.synth.app import synthesize
from infra.synth.constructs.backlog import (
    DETECTION_BUDGET_SECONDS,
    EVENTARC_MAX_BACKOFF_SECONDS,
    Delivery,
    backlog_threshold,
    seconds_of,
)
from infra.synth.constructs.dashboard import dashboard_rows, pipeline_dashboard
from infra.synth.constructs.monitoring import (
    CANARY_SUMMARY_PREFIX,
    HEARTBEAT_RUNS,
    schedule_interval_seconds,
)
from tests.synth.tfassert import at

CHANNEL = "${google_monitoring_notification_channel.alerts__slack_channel.name}"


def policies(stack: StackJson) -> list[Resource]:
    return list(stack.of_type("google_monitoring_alert_policy"))


def condition(policy: Resource) -> tuple[str, dict[str, Any]]:
    (cond,) = policy.body["conditions"]
    (kind,) = (k for k in cond if k.startswith("condition_"))
    return kind, cond[kind]


def watching(stack: StackJson, needle: str) -> Resource:
    """The one policy whose condition filter contains ``needle``."""
    found = [p for p in policies(stack) if needle in condition(p)[1].get("filter", "")]
    assert len(found) == 1, f"{needle}: {[p.address for p in found]}"
    assert found[0].body["notification_channels"] == [CHANNEL], found[0].address
    return found[0]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_push_subscription_backlog_threshold_follows_its_settings(
        stacks: dict[str, StackJson], env: str) -> None:
    stack = stacks[env]
    pushes = [s for s in stack.of_type("google_pubsub_subscription") if "push_config" in s.body]
    assert len(pushes) == len(derive(load(), get_env(env)).edges) == len(load().transitions)
    for sub in pushes:
        name = sub.body["name"]
        kind, cond = condition(watching(
            stack, f'subscription/oldest_unacked_message_age" AND resource.type="pubsub_subscription" '
                   f'AND resource.label.subscription_id="{name}"'))
        delivery = Delivery(name, sub.body["ack_deadline_seconds"],
                            seconds_of("min", sub.body["retry_policy"]["minimum_backoff"]),
                            seconds_of("max", sub.body["retry_policy"]["maximum_backoff"]),
                            sub.body["dead_letter_policy"]["max_delivery_attempts"])
        assert (kind, cond["comparison"], cond["duration"]) == (
            "condition_threshold", "COMPARISON_GT", "120s")
        assert cond["threshold_value"] == backlog_threshold(delivery) == 750, name


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_any_dead_letter_is_alerted(stacks: dict[str, StackJson], env: str) -> None:
    for edge in derive(load(), get_env(env)).edges:
        _, cond = condition(watching(stacks[env], f'subscription/num_undelivered_messages" AND '
                                     'resource.type="pubsub_subscription" AND '
                                     f'resource.label.subscription_id="{edge.dead_letter_subscription}"'))
        assert (cond["comparison"], cond["threshold_value"], cond["duration"]) == (
            "COMPARISON_GT", 0, "0s")


def test_the_orchestrator_trigger_backlog_is_its_timeout_plus_eventarcs_longest_backoff(
        prod: StackJson) -> None:
    fn = prod.resources["google_cloudfunctions2_function.phase3_to_phase4_orchestrator__function"]
    timeout = at(fn.body, "service_config.timeout_seconds")
    policy = watching(prod, 'subscription_id=starts_with("eventarc-us-west2-'
                            'phase3-to-phase4-orchestrator-")')
    assert condition(policy)[1]["threshold_value"] == timeout + EVENTARC_MAX_BACKOFF_SECONDS == 1140
    assert policy.body["display_name"] == "Backlog age: phase3-to-phase4-orchestrator trigger"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_scheduler_job_failure_is_alerted(stacks: dict[str, StackJson], env: str) -> None:
    jobs = list(stacks[env].of_type("google_cloud_scheduler_job"))
    assert sorted(j.body["name"] for j in jobs) == sorted(j.job for j in derive(
        load(), get_env(env)).jobs)
    for job in jobs:
        policy = watching(stacks[env], f'resource.labels.job_id="{job.body["name"]}"')
        kind, _ = condition(policy)
        assert kind == "condition_matched_log"
        assert policy.body["alert_strategy"]["notification_rate_limit"] == {"period": "300s"}


def test_the_canary_heartbeat_is_two_runs_of_its_job(prod: StackJson) -> None:
    (metric,) = prod.of_type("google_logging_metric")
    assert 'resource.labels.service_name="pipeline-canary"' in metric.body["filter"]
    (job,) = (j for j in load().jobs if j.target == "pipeline-canary")
    policy = watching(prod, f"logging.googleapis.com/user/${{{metric.address}.name}}")
    kind, cond = condition(policy)
    assert kind == "condition_absent"
    absence = HEARTBEAT_RUNS * schedule_interval_seconds(job.schedule, job.time_zone)
    assert cond["duration"] == f"{absence}s"
    assert HEARTBEAT_RUNS == 2 and absence <= DETECTION_BUDGET_SECONDS


def test_display_names_are_unique_and_every_policy_closes_itself(prod: StackJson) -> None:
    names = [p.body["display_name"] for p in policies(prod)]
    assert names and len(names) == len(set(names))
    assert {p.body["alert_strategy"]["auto_close"] for p in policies(prod)} == {"3600s"}


def summary_lines(text: str) -> list[str]:
    return [json.loads(line)["message"] for line in text.splitlines()
            if json.loads(line).get("severity") == "INFO"]


def test_the_canary_summary_line_matches_the_heartbeat_filter(prod: StackJson, capsys,
                                                               monkeypatch) -> None:
    """Every run of the canary (healthy or not) logs a line the heartbeat counter counts."""
    (metric,) = prod.of_type("google_logging_metric")
    match = re.search(r'jsonPayload\.message=~"([^"]+)"', metric.body["filter"])
    assert match is not None and match.group(1) == f"^{CANARY_SUMMARY_PREFIX}"
    config = CanaryConfig(project="p", timezone="America/New_York", transitions=())
    now = dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)
    health.check_health(None, config, now)
    monkeypatch.setattr(health, "check_dead_letters", lambda peek, config: [
        Finding("dead_letters", "phase2-to-phase3", "", "nba-phase3-analytics-sub-dlq-sub: 2")])
    health.check_health(None, config, now, peek=object())
    lines = summary_lines(capsys.readouterr().out)
    assert lines == ["pipeline canary: healthy", "pipeline canary: 1 finding(s)"]
    assert all(re.match(match.group(1), line) for line in lines)


# --- the dashboard ---

ROWS = [
    "push nba-phase2-raw-sub: nba-phase1-scrapers-complete → nba-phase2-raw-processors/process",
    "push nba-phase3-analytics-sub: nba-phase2-raw-complete → "
    "nba-phase3-analytics-processors/process",
    "trigger nba-phase3-analytics-complete → function phase3-to-phase4-orchestrator "
    "(eventarc-us-west2-phase3-to-phase4-orchestrator-*)",
    "gate phase3-to-phase4: phase 3 completions → nba-phase4-trigger",
    "push nba-phase4-precompute-sub: nba-phase4-trigger → "
    "nba-phase4-precompute-processors/process",
    "push nba-phase5-predictions-sub: nba-phase4-precompute-complete → prediction-coordinator/start",
]


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_dashboard_is_rebuilt_from_the_manifest(stacks: dict[str, StackJson], env: str) -> None:
    (dashboard,) = stacks[env].of_type("google_monitoring_dashboard")
    manifest = load()
    expected = pipeline_dashboard(manifest, derive(manifest, get_env(env)))
    assert json.loads(dashboard.body["dashboard_json"]) == expected
    groups = [t["widget"]["title"] for t in expected["mosaicLayout"]["tiles"]
              if "collapsibleGroup" in t["widget"]]
    assert groups == ROWS
    assert [r.title for r in dashboard_rows(manifest, derive(manifest, get_env(env)))] == ROWS


def test_disabling_a_processor_leaves_the_dashboard_as_it_is() -> None:
    manifest = load()
    changed = manifest.with_processor_enabled(manifest.enabled_processors(3)[-1], False)
    assert pipeline_dashboard(changed, derive(changed, get_env("prod"))) == \
        pipeline_dashboard(manifest, derive(manifest, get_env("prod")))


def test_an_edge_too_slow_to_be_loud_in_30_minutes_stops_synthesis(tmp_path: Path) -> None:
    manifest = load()
    slow = replace(manifest, transitions=tuple(
        replace(t, max_delivery_attempts=8) if t.key == "phase2-to-phase3" else t
        for t in manifest.transitions)).validate()
    with pytest.raises(ValueError, match=r"edge nba-phase3-analytics-sub: a stuck delivery would "
                       r"be loud only after 2070s"):
        synthesize(slow, ("prod",), outdir=tmp_path, bundle_dir=tmp_path / "bundles")
