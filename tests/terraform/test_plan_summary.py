"""Plan summary (`python -m infra.plan_summary`): counts per component and ⚠ flags."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from infra.terraform import plan_summary
from tests.terraform.support import FUNCTION, OLD_INVOKER, SVC, TABLE, Run


@pytest.fixture
def run(capsys, fixtures_dir, write_json):
    """Run the CLI in-process on a fixture name or a plan document."""

    def run_summary(plan: str | dict[str, Any] | Path) -> Run:
        if isinstance(plan, dict):
            path = write_json(plan)
        elif isinstance(plan, Path):
            path = plan
        else:
            path = fixtures_dir / plan
        code = plan_summary.main([str(path)])
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run_summary


def rows_for(report: str, address: str) -> list[str]:
    """Detail-table rows that mention an address."""
    return [line for line in report.splitlines() if f"`{address}`" in line]


def test_counts_per_component(run):
    result = run("normal_plan_mixed.json")
    assert result.code == 0
    assert "**3 to create, 1 to update, 0 to replace, 0 to delete, 1 moved.**" in result.out
    assert "| component | create | update | replace | delete |" in result.out
    assert "| orchestration | 2 | 0 | 0 | 0 |" in result.out
    assert "| pipeline_canary | 0 | 1 | 0 | 0 |" in result.out
    assert "| reference | 1 | 0 | 0 | 0 |" in result.out
    assert "⚠" not in result.out


def test_no_op_and_data_reads_are_left_out_but_moves_are_listed(run):
    result = run("normal_plan_mixed.json")
    assert SVC not in result.out
    assert "data.google_project.current" not in result.out
    assert (
        "| phase3_analytics | move | `google_service_account.phase3_analytics__identity` "
        "| moved from google_service_account.phase3_analytics_identity |"
    ) in result.out


def test_function_replacement_is_flagged_with_reason(run):
    (row,) = rows_for(run("function_replaced_iam_not.json").out, FUNCTION)
    assert row.startswith("| ⚠ | phase3_to_phase4_orchestrator | replace |")
    assert "replace_because_cannot_update; forced by event_trigger[0].pubsub_topic" in row


def test_service_replacement_is_flagged_but_iam_replacement_is_not(run):
    result = run("service_replaced_iam_replaced.json")
    (service_row,) = rows_for(result.out, SVC)
    assert service_row.startswith("| ⚠ |")
    invoker = "google_cloud_run_v2_service_iam_member.phase3_analytics_sub__invoker"
    (invoker_row,) = rows_for(result.out, invoker)
    assert invoker_row.startswith("|  | phase3_analytics_sub | replace |")
    assert "⚠ 1 change(s) need a careful look." in result.out


def test_iam_deletion_is_flagged(run):
    result = run("orchestrator_removed.json")
    (row,) = rows_for(result.out, OLD_INVOKER)
    assert row.startswith("| ⚠ | phase2_to_phase3_orchestrator | delete |")
    assert "IAM grant deleted" in row
    assert "| phase2_to_phase3_orchestrator | 0 | 0 | 0 | 3 |" in result.out
    assert "| phase3_trigger | 0 | 0 | 0 | 1 |" in result.out


def test_iam_deletion_names_the_role_and_the_member_it_took(run):
    (row,) = rows_for(run("orchestrator_removed.json").out, OLD_INVOKER)
    assert ("IAM grant deleted: `roles/run.invoker` for "
            "`serviceAccount:phase2-to-phase3-trigger@nba-props-platform.iam.gserviceaccount.com`"
            "; delete_because_no_resource_config") in row


def test_iam_binding_deletion_names_every_member(run, load, find):
    plan = load("orchestrator_removed.json")
    entry = find(plan, "resource_changes", OLD_INVOKER)
    entry["type"] = "google_cloud_run_v2_service_iam_binding"
    before = entry["change"]["before"]
    before["members"] = [before.pop("member"), "serviceAccount:other@p.iam.gserviceaccount.com"]
    (row,) = rows_for(run(plan).out, OLD_INVOKER)
    assert ("IAM grant deleted: `roles/run.invoker` for `serviceAccount:phase2-to-phase3-trigger"
            "@nba-props-platform.iam.gserviceaccount.com`, "
            "`serviceAccount:other@p.iam.gserviceaccount.com`;") in row


BUCKET = "google_storage_bucket.function_sources__bucket"


def test_replacement_forced_by_location_shows_both_locations(run):
    result = run("bucket_location_replaced.json")
    (row,) = rows_for(result.out, BUCKET)
    assert row.startswith("| ⚠ | function_sources | replace |")
    assert row.endswith("| data store replaced: its data is destroyed; "
                        "replace_because_cannot_update; forced by location: "
                        '`"US"` → `"US-WEST2"` |')


def test_replacement_forced_by_a_nested_attribute_shows_before_and_after(run):
    (row,) = rows_for(run("function_replaced_iam_not.json").out, FUNCTION)
    assert ('forced by event_trigger[0].pubsub_topic: '
            '`"projects/nba-props-platform/topics/nba-phase3-analytics-complete"` → '
            '`"projects/nba-props-platform/topics/nba-phase3-analytics-complete-v2"`') in row


def test_replacement_forced_by_several_attributes_lists_each_secrets_and_unknowns_hidden(
        run, load, find):
    plan = load("bucket_location_replaced.json")
    change = find(plan, "resource_changes", BUCKET)["change"]
    change["before"]["name"], change["after"]["name"] = "old-secret-name", "new-secret-name"
    change["before_sensitive"]["name"] = change["after_sensitive"]["name"] = True
    change["before"]["storage_class"] = "NEARLINE"
    del change["after"]["storage_class"]
    change["after_unknown"]["storage_class"] = True
    change["replace_paths"] = [["location"], ["name"], ["storage_class"]]
    (row,) = rows_for(run(plan).out, BUCKET)
    assert ('forced by location: `"US"` → `"US-WEST2"`, name: `(sensitive)` → `(sensitive)`, '
            'storage_class: `"NEARLINE"` → `(known after apply)` |') in row
    assert "secret-name" not in row


def test_data_store_deletion_is_flagged(run):
    (row,) = rows_for(run("bigquery_table_deleted.json").out, TABLE)
    assert row.startswith("| ⚠ |")
    assert "data store deleted: its data is destroyed" in row


def test_plain_deletion_is_not_flagged(run, load, find):
    plan = load("bigquery_table_deleted.json")
    find(plan, "resource_changes", TABLE)["type"] = "google_pubsub_topic"
    (row,) = rows_for(run(plan).out, TABLE)
    assert row.startswith("|  |")


def test_resources_without_double_underscore_are_shared(run, load, find):
    plan = load("normal_plan_mixed.json")
    job = find(plan, "resource_changes", "google_cloud_scheduler_job.pipeline_canary__job")
    job["name"] = "pipeline_canary_job"
    job["address"] = "google_cloud_scheduler_job.pipeline_canary_job"
    result = run(plan)
    assert "| shared | 0 | 1 | 0 | 0 |" in result.out
    assert "| pipeline_canary |" not in result.out


def test_refresh_only_plan_has_no_changes(run):
    result = run("env_var_drift.json")
    assert result.code == 0
    assert result.out.endswith("No changes.\n")


@pytest.mark.parametrize(
    "fixture",
    [
        "malformed_not_json.json",
        "malformed_top_level_list.json",
        "malformed_state_not_plan.json",
        "malformed_format_v2.json",
        "malformed_missing_actions.json",
    ],
)
def test_unreadable_plan_exits_1_with_one_line(run, fixtures_dir, fixture):
    result = run(fixture)
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith(f"plan_summary: {fixtures_dir / fixture}: ")
    assert result.err.count("\n") == 1


def test_missing_file_exits_1(run, tmp_path):
    result = run(tmp_path / "plan.json")
    assert (result.code, result.err) == (
        1,
        f"plan_summary: {tmp_path / 'plan.json'}: file not found\n",
    )


@pytest.mark.parametrize("argv", [[], ["a.json", "b.json"], ["--verbose"], ["--help", "x"]])
def test_usage_exits_1(capsys, argv):
    assert plan_summary.main(argv) == 1
    assert capsys.readouterr().err == f"plan_summary: {plan_summary.USAGE}\n"


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_exits_0(capsys, flag):
    assert plan_summary.main([flag]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(plan_summary.USAGE)
    assert captured.err == ""


def write_plan(tmp_path, mutate):
    plan = {"format_version": "1.2", "terraform_version": "1.11.4", "resource_changes": [
        {"address": "google_pubsub_topic.t__topic", "type": "google_pubsub_topic",
         "name": "t__topic", "mode": "managed",
         "change": {"actions": ["update"], "before": {}, "after": {}}}],
        "output_changes": {"o": {"actions": ["no-op"]}}}
    mutate(plan)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(plan))
    return path


def change_of(plan):
    return plan["resource_changes"][0]["change"]


T = "(google_pubsub_topic.t__topic)"
ACTION_LISTS = "expected one of the action lists Terraform writes ("

MALFORMED = [
    ("unknown action", lambda p: change_of(p).update(actions=["explode"]),
     "resource_changes[0].change.actions[0]: expected 'no-op', 'create', 'read', 'update', "
     f"'delete' or 'forget', found 'explode' {T}"),
    ("unknown action pair", lambda p: change_of(p).update(actions=["update", "delete"]),
     f"resource_changes[0].change.actions: {ACTION_LISTS}"),
    ("empty actions", lambda p: change_of(p).update(actions=[]), f"found [] {T}"),
    ("actions a string", lambda p: change_of(p).update(actions="update"),
     f"resource_changes[0].change.actions: expected a list, found 'update' {T}"),
    ("missing actions", lambda p: change_of(p).pop("actions"),
     f"resource_changes[0].change.actions: missing, required {T}"),
    ("unknown output action", lambda p: p["output_changes"]["o"].update(actions=["boom"]),
     "output_changes.o.actions[0]: expected 'no-op', 'create', 'read', 'update', 'delete' or "
     "'forget', found 'boom'"),
    ("numeric format_version", lambda p: p.update(format_version=1.2),
     "format_version: expected a string, found 1.2"),
    ("list format_version", lambda p: p.update(format_version=["1.2"]),
     "format_version: expected a string, found ['1.2']"),
    ("numeric terraform_version", lambda p: p.update(terraform_version=1.11),
     "terraform_version: expected a string, found 1.11"),
    ("string errored", lambda p: p.update(errored="false"),
     "errored: expected true or false, found 'false'"),
    ("numeric mode", lambda p: p["resource_changes"][0].update(mode=1),
     f"resource_changes[0].mode: expected 'managed' or 'data', found 1 {T}"),
    ("unknown mode", lambda p: p["resource_changes"][0].update(mode="ghost"),
     f"resource_changes[0].mode: expected 'managed' or 'data', found 'ghost' {T}"),
    ("replace_paths an object", lambda p: change_of(p).update(replace_paths={"a": 1}),
     f"resource_changes[0].change.replace_paths: expected a list, found {{'a': 1}} {T}"),
    ("replace_paths step a boolean", lambda p: change_of(p).update(replace_paths=[["a", True]]),
     "resource_changes[0].change.replace_paths[0][1]: expected an attribute name or a list "
     f"index, found True {T}"),
    ("output change not an object", lambda p: p["output_changes"].update(o=3),
     "output_changes.o: expected an object, found 3"),
    ("output name not an identifier", lambda p: p["output_changes"].update({"a-b": {}}),
     'output_changes["a-b"].actions: missing, required'),
    ("configuration address a number",
     lambda p: p.update(configuration={"root_module": {"resources": [{"address": 3}]}}),
     "configuration.root_module.resources[0].address: expected a string, found 3"),
]


@pytest.mark.parametrize(("mutate", "reason"), [m[1:] for m in MALFORMED],
                         ids=[m[0] for m in MALFORMED])
def test_malformed_plan_is_unreadable_one_line_naming_field_and_value(run, tmp_path, mutate,
                                                                      reason):
    path = write_plan(tmp_path, mutate)
    result = run(path)
    assert (result.code, result.out) == (1, "")
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"plan_summary: {path}: ")
    assert reason in result.err, result.err


def test_the_base_plan_of_the_malformed_cases_is_readable(run, tmp_path):
    result = run(write_plan(tmp_path, lambda p: None))
    assert result.code == 0, result.err


def test_python_m_infra_plan_summary(repo_root, fixtures_dir):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "infra.plan_summary",
            str(fixtures_dir / "orchestrator_removed.json"),
        ],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Plan summary: ")
    assert "⚠" in done.stdout
