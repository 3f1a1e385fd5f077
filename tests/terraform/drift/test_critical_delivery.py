"""Drift review, critical: IAM grants and the delivery paths of push subscriptions, scheduler
jobs and functions changed out of band."""


import pytest

from infra.terraform import drift, drift_rules
from tests.terraform.drift.support import (
    INVOKER,
    SUB,
    drift_entry,
    section,
    with_value,
)
from tests.terraform.support import FUNCTION, OLD_INVOKER, SVC

# --- critical: IAM -------------------------------------------------------------------------


def test_invoker_deleted_in_refresh_only_plan_is_critical_without_recreate(run_doc, load):
    plan = load("invoker_deleted.json")
    del plan["resource_changes"]
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL
    assert "deleted out of band |" in result.out
    assert "re-creates" not in result.out


@pytest.mark.parametrize("role", sorted(drift_rules.CRITICAL_ROLES))
def test_every_critical_role_deleted_out_of_band_is_critical(run_doc, load, find, role):
    plan = load("invoker_deleted.json")
    find(plan, "resource_drift", INVOKER)["change"]["before"]["role"] = role
    assert run_doc(plan).code == drift.EXIT_CRITICAL


@pytest.mark.parametrize("actions", [["delete"], ["update"]])
def test_critical_role_rule_covers_iam_types_outside_the_known_list(run_doc, load, find, actions):
    plan = load("etag_noise.json")
    member = find(plan, "resource_drift", INVOKER)
    member["type"] = "google_cloud_tasks_queue_iam_member"
    member["change"]["actions"] = actions
    if actions == ["delete"]:
        member["change"]["after"] = None
    else:
        member["change"]["after"]["condition"] = [{"expression": "false", "title": "off"}]
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL
    assert "`etag`" not in section(result.out, "Critical")


def test_non_critical_grant_deleted_out_of_band_is_drift(run_doc, load, find):
    plan = load("invoker_deleted.json")
    find(plan, "resource_drift", INVOKER)["change"]["before"]["role"] = "roles/logging.logWriter"
    result = run_doc(plan)
    assert result.code == drift.EXIT_DRIFT
    assert "deleted out of band; the plan re-creates it" in section(result.out, "Drift")


def test_invoker_member_changed_out_of_band_is_critical(run_doc, load, find):
    plan = load("etag_noise.json")
    after = find(plan, "resource_drift", INVOKER)["change"]["after"]
    after["member"] = "serviceAccount:756957797294-compute@developer.gserviceaccount.com"
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL
    critical = section(result.out, "Critical")
    assert "`member` of `roles/run.invoker` grant" in critical
    assert "changed out of band" in critical
    # The etag that changed with it is still muted, just not as "etag-only".
    assert "| provider-computed attribute |" in result.out
    assert "etag-only" not in result.out


def test_planned_deletion_of_non_critical_grant_is_not_a_finding(run_doc, load, find):
    plan = load("orchestrator_removed.json")
    find(plan, "resource_changes", OLD_INVOKER)["change"]["before"]["role"] = "roles/run.viewer"
    assert run_doc(plan).code == drift.EXIT_CLEAN


# --- critical: push subscriptions ----------------------------------------------------------


def test_oidc_audience_change_is_critical(run_doc, load, find):
    plan = load("oidc_sa_changed.json")
    change = find(plan, "resource_drift", SUB)["change"]
    change["after"] = change["before"] | {"push_config": [dict(change["before"]["push_config"][0])]}
    token = dict(
        change["before"]["push_config"][0]["oidc_token"][0], audience="https://example.org"
    )
    change["after"]["push_config"][0]["oidc_token"] = [token]
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL
    assert "`push_config[0].oidc_token[0].audience`" in section(result.out, "Critical")


def test_push_config_removed_out_of_band_is_critical(run_doc, load, find):
    plan = load("push_endpoint_changed.json")
    find(plan, "resource_drift", SUB)["change"]["after"]["push_config"] = []
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL
    assert "(absent)" in section(result.out, "Critical")


def test_other_subscription_change_is_drift_not_critical(run_doc, load, find):
    plan = load("push_endpoint_changed.json")
    change = find(plan, "resource_drift", SUB)["change"]
    change["after"] = dict(change["before"], ack_deadline_seconds=60)
    result = run_doc(plan)
    assert result.code == drift.EXIT_DRIFT
    assert "`ack_deadline_seconds` changed out of band | `600` → `60`" in result.out


JOB = "google_cloud_scheduler_job.same_day_phase3__job"
JOB_BEFORE = {
    "name": "nba-same-day-phase3", "schedule": "30 10 * * *", "time_zone": "America/New_York",
    "http_target": [{
        "uri": "https://nba-phase3-analytics-processors-f7p3g7f6ya-wl.a.run.app/process-date-range",
        "http_method": "POST",
        "oidc_token": [{
            "service_account_email": "nba-job-same-day-phase3@nba-props-platform.iam.gserviceaccount.com",
            "audience": "https://nba-phase3-analytics-processors-f7p3g7f6ya-wl.a.run.app"}],
    }],
}


@pytest.mark.parametrize(
    ("address", "before", "path", "value", "shown"),
    [
        (JOB, JOB_BEFORE, ("http_target", 0, "oidc_token", 0, "service_account_email"),
         "756957797294-compute@developer.gserviceaccount.com",
         "`http_target[0].oidc_token[0].service_account_email`"),
        (JOB, JOB_BEFORE, ("http_target", 0, "oidc_token", 0, "audience"), "https://example.org",
         "`http_target[0].oidc_token[0].audience`"),
        (JOB, JOB_BEFORE, ("http_target", 0, "uri"), "https://example.org/process",
         "`http_target[0].uri`"),
        (FUNCTION, {"name": "phase3-to-phase4-orchestrator", "event_trigger": [{
            "service_account_email": "nba-trg-orch-p3p4@nba-props-platform.iam.gserviceaccount.com",
            "pubsub_topic": "projects/nba-props-platform/topics/nba-phase3-analytics-complete"}]},
         ("event_trigger", 0, "service_account_email"),
         "756957797294-compute@developer.gserviceaccount.com",
         "`event_trigger[0].service_account_email`"),
        # Where a gate listens: moved to another topic, it never hears a completion.
        (FUNCTION, {"name": "phase3-to-phase4-orchestrator", "event_trigger": [{
            "service_account_email": "nba-trg-orch-p3p4@nba-props-platform.iam.gserviceaccount.com",
            "pubsub_topic": "projects/nba-props-platform/topics/nba-phase3-analytics-complete"}]},
         ("event_trigger", 0, "pubsub_topic"),
         "projects/nba-props-platform/topics/nba-phase3-analytics-complete-v2",
         "`event_trigger[0].pubsub_topic`"),
        (FUNCTION, {"name": "phase3-to-phase4-orchestrator", "service_config": [{
            "service_account_email": "nba-fn-orch-p3p4@nba-props-platform.iam.gserviceaccount.com"}]},
         ("service_config", 0, "service_account_email"),
         "756957797294-compute@developer.gserviceaccount.com",
         "`service_config[0].service_account_email`"),
        (SVC, {"name": "nba-phase3-analytics-processors", "template": [{
            "service_account": "nba-run-p3-analytics@nba-props-platform.iam.gserviceaccount.com"}]},
         ("template", 0, "service_account"), "756957797294-compute@developer.gserviceaccount.com",
         "`template[0].service_account`"),
    ],
)
def test_delivery_target_or_identity_changed_out_of_band_is_critical(
        run_doc, load, address, before, path, value, shown):
    plan = load("refresh_clean.json")
    plan["resource_drift"] = [drift_entry(address, before, with_value(before, path, value))]
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL, result.out
    critical = section(result.out, "Critical")
    assert f"{shown} changed out of band" in critical
    assert value in critical


def test_scheduler_schedule_change_is_drift_not_critical(run_doc, load):
    plan = load("refresh_clean.json")
    after = with_value(JOB_BEFORE, ("schedule",), "0 11 * * *")
    plan["resource_drift"] = [drift_entry(JOB, JOB_BEFORE, after)]
    result = run_doc(plan)
    assert result.code == drift.EXIT_DRIFT
    assert "`schedule` changed out of band | `\"30 10 * * *\"` → `\"0 11 * * *\"`" in result.out


def test_grant_widened_to_invoker_out_of_band_is_critical(run_doc, load):
    plan = load("refresh_clean.json")
    before = {"name": "nba-phase3-analytics-processors", "role": "roles/run.viewer",
              "member": "serviceAccount:nba-ops@nba-props-platform.iam.gserviceaccount.com"}
    plan["resource_drift"] = [
        drift_entry(INVOKER, before, dict(before, role="roles/run.invoker"))]
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL
    assert "`role` of `roles/run.invoker` grant" in section(result.out, "Critical")
