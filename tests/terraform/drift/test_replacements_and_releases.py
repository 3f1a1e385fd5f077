"""Drift review: functions and services replaced (with or without their IAM), data stores
lost, and a service's released image (information)."""

from datetime import date
from typing import Any

import pytest

from infra.terraform import drift, drift_classify, drift_rules
from tests.terraform.drift.support import (
    FN_INVOKER,
    INVOKER,
    SCHED_INVOKER,
    section,
)
from tests.terraform.support import SVC, TABLE

# --- critical: replacement of functions and services ----------------------------------------


@pytest.mark.parametrize("actions", [["delete", "create"], ["create", "delete"]])
def test_function_replaced_with_its_invoker_is_not_critical(run_doc, load, find, actions):
    plan = load("function_replaced_iam_not.json")
    member = find(plan, "resource_changes", FN_INVOKER)
    member["change"]["actions"] = actions
    member["action_reason"] = "replace_by_triggers"
    assert run_doc(plan).code == drift.EXIT_CLEAN


def test_function_replaced_with_no_iam_in_plan_is_critical(run_doc, load):
    plan = load("function_replaced_iam_not.json")
    plan["resource_changes"] = [
        rc for rc in plan["resource_changes"] if rc["address"] != FN_INVOKER
    ]
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL
    assert "no IAM member in the plan grants access to it" in result.out


def test_service_replaced_with_its_iam_is_not_critical(run):
    result = run("service_replaced_iam_replaced.json")
    assert "**Verdict: no drift**" in result.out
    assert "3 planned resource change(s) checked" in result.out


def invoker_left_behind(load, find, granted_on: str | None = None) -> dict[str, Any]:
    """The service replaced while the scheduler's invoker is not (named `granted_on`)."""
    plan = load("service_replaced_iam_replaced.json")
    member = find(plan, "resource_changes", SCHED_INVOKER)
    member["change"]["actions"] = ["no-op"]
    if granted_on is not None:
        member["change"]["before"]["name"] = f"projects/p/locations/l/services/{granted_on}"
    member["change"]["after"] = member["change"]["before"]
    return plan


def test_service_replaced_with_one_invoker_left_behind_is_critical(run_doc, load, find):
    result = run_doc(invoker_left_behind(load, find))
    assert result.code == drift.EXIT_CRITICAL
    critical = section(result.out, "Critical")
    assert f"`{SCHED_INVOKER}` would be lost" in critical
    assert INVOKER not in critical


def test_invoker_found_by_config_reference_when_names_differ(run_doc, load, find):
    plan = invoker_left_behind(load, find, "renamed-elsewhere")
    assert run_doc(plan).code == drift.EXIT_CRITICAL


def test_invoker_of_another_service_is_not_counted(run_doc, load, find):
    plan = invoker_left_behind(load, find, "prediction-worker")
    plan["configuration"]["root_module"]["resources"] = [
        r
        for r in plan["configuration"]["root_module"]["resources"]
        if r["address"] != SCHED_INVOKER
    ]
    assert run_doc(plan).code == drift.EXIT_CLEAN


@pytest.mark.parametrize("resource_type", sorted(drift_rules.RUNTIME_TYPES))
def test_runtime_deleted_out_of_band_is_critical(run_doc, load, find, resource_type):
    plan = load("env_var_drift.json")
    found = find(plan, "resource_drift", SVC)
    found["type"] = resource_type
    found["change"]["actions"] = ["delete"]
    found["change"]["after"] = None
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL
    assert "deleted out of band, with the IAM policy on it" in result.out


# --- critical: data stores -----------------------------------------------------------------


@pytest.mark.parametrize("resource_type", sorted(drift_rules.DATA_STORE_TYPES))
@pytest.mark.parametrize("actions", [["delete"], ["delete", "create"], ["create", "delete"]])
def test_every_data_store_deleted_or_replaced_is_critical(
    run_doc, load, find, resource_type, actions
):
    plan = load("bigquery_table_deleted.json")
    found = find(plan, "resource_changes", TABLE)
    found["type"] = resource_type
    found["change"]["actions"] = actions
    assert run_doc(plan).code == drift.EXIT_CRITICAL


def test_firestore_field_deletion_is_not_a_data_store_loss(run_doc, load, find):
    plan = load("bigquery_table_deleted.json")
    find(plan, "resource_changes", TABLE)["type"] = "google_firestore_field"
    assert run_doc(plan).code == drift.EXIT_CLEAN


def test_data_store_deleted_out_of_band_is_critical(run_doc, load, find):
    plan = load("bigquery_table_deleted.json")
    deleted = find(plan, "resource_changes", TABLE)
    plan["resource_drift"] = [deleted]
    plan["resource_changes"] = []
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL
    assert "data store deleted out of band" in result.out


def test_data_store_updated_out_of_band_is_only_drift(run_doc, load, find):
    plan = load("bigquery_table_deleted.json")
    table = find(plan, "resource_changes", TABLE)
    change = table["change"]
    change["actions"] = ["update"]
    change["after"] = dict(change["before"], description="edited in the console")
    plan["resource_drift"] = [table]
    plan["resource_changes"] = []
    assert run_doc(plan).code == drift.EXIT_DRIFT


# --- information: a service's deployed image -----------------------------------------------


def test_an_image_change_beside_another_change_stays_drift(run_doc, load, find):
    plan = load("image_deployed.json")
    after = find(plan, "resource_drift", SVC)["change"]["after"]
    after["template"][0]["containers"][0]["env"][2]["value"] = "DEBUG"
    result = run_doc(plan)
    assert result.code == drift.EXIT_DRIFT
    found = section(result.out, "Drift")
    assert "`template[0].containers[0].image` changed out of band" in found
    assert "`template[0].containers[0].env[2].value` changed out of band" in found
    assert "None." in section(result.out, "Information")


def test_an_image_change_beside_a_critical_change_is_critical_and_drift(run_doc, load, find):
    plan = load("image_deployed.json")
    after = find(plan, "resource_drift", SVC)["change"]["after"]
    after["template"][0]["service_account"] = "756957797294-compute@developer.gserviceaccount.com"
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL
    assert "`template[0].containers[0].image` changed out of band" in section(result.out, "Drift")


def test_an_image_with_drift_elsewhere_in_the_plan_is_still_information(run_doc, load):
    plan = load("image_deployed.json")
    other = load("env_var_drift.json")["resource_drift"][0]
    other["address"] = other["address"].replace("phase3_analytics", "phase2_raw")
    plan["resource_drift"].append(other)
    result = run_doc(plan)
    assert result.code == drift.EXIT_DRIFT
    assert "| drift | 1 |" in result.out and "| information | 1 |" in result.out


def test_an_image_change_on_a_type_releases_do_not_deploy_is_drift(run_doc, load, find):
    plan = load("image_deployed.json")
    entry = find(plan, "resource_drift", SVC)
    entry["type"] = "google_cloud_run_v2_job"
    entry["address"] = entry["address"].replace("google_cloud_run_v2_service",
                                                "google_cloud_run_v2_job")
    # A job has no revisions: its computed attributes are a service's minus these.
    for side in ("before", "after"):
        for attribute in ("latest_created_revision", "latest_ready_revision"):
            del entry["change"][side][attribute]
    result = run_doc(plan)
    assert result.code == drift.EXIT_DRIFT
    assert "| drift | 1 |" in result.out
    assert "`template[0].containers[0].image` changed out of band" in section(result.out, "Drift")


def test_information_never_changes_the_exit_code(load):
    from infra.terraform.plan_json import parse_plan

    plan = parse_plan(load("image_deployed.json"), "image_deployed.json")
    result = drift_classify.review(plan, [], date(2026, 11, 22))
    assert [f.severity for f in result.findings] == ["info"]
    assert result.info == result.findings and result.exit_code == drift.EXIT_CLEAN


def test_the_release_tools_client_fields_beside_the_image_are_information(run_doc, load, find):
    plan = load("image_deployed.json")
    after = find(plan, "resource_drift", SVC)["change"]["after"]
    after["client"], after["client_version"] = "gcloud", "528.0.0"
    result = run_doc(plan)
    assert result.code == drift.EXIT_CLEAN
    assert "| information | 1 |" in result.out
    assert "None." in section(result.out, "Drift")


def test_client_fields_without_a_deployed_image_stay_drift(run_doc, load, find):
    plan = load("image_deployed.json")
    entry = find(plan, "resource_drift", SVC)["change"]
    entry["after"]["template"][0]["containers"][0]["image"] = (
        entry["before"]["template"][0]["containers"][0]["image"])
    entry["after"]["client"] = "gcloud"
    result = run_doc(plan)
    assert result.code == drift.EXIT_DRIFT
    assert "`client` changed out of band" in section(result.out, "Drift")
