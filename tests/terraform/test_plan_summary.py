"""Plan summary (`python -m infra.plan_summary`): counts per component and ⚠ flags."""

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.terraform import first_plan as review_module
from infra.terraform import plan_summary
from infra.terraform.plan_json import parse_plan
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


MALFORMED = [
    ("unknown action", lambda p: change_of(p).update(actions=["explode"]),
     'resource_changes[0] (google_pubsub_topic.t__topic): change.actions: unknown actions '
     '["explode"]; Terraform writes one of'),
    ("unknown action pair", lambda p: change_of(p).update(actions=["update", "delete"]),
     'change.actions: unknown actions ["update", "delete"]'),
    ("empty actions", lambda p: change_of(p).update(actions=[]), "unknown actions []"),
    ("actions a string", lambda p: change_of(p).update(actions="update"),
     'change.actions is a string ("update"), expected a list of action names'),
    ("missing actions", lambda p: change_of(p).pop("actions"),
     "change.actions is missing"),
    ("unknown output action", lambda p: p["output_changes"]["o"].update(actions=["boom"]),
     'output_changes.o.actions: unknown actions ["boom"]'),
    ("numeric format_version", lambda p: p.update(format_version=1.2),
     'format_version is a number (1.2), expected a string such as "1.2"'),
    ("list format_version", lambda p: p.update(format_version=["1.2"]),
     'format_version is a list (["1.2"]), expected a string'),
    ("numeric terraform_version", lambda p: p.update(terraform_version=1.11),
     "terraform_version is a number (1.11), expected a string"),
    ("string errored", lambda p: p.update(errored="false"),
     'errored is a string ("false"), expected a boolean'),
    ("numeric mode", lambda p: p["resource_changes"][0].update(mode=1),
     "resource_changes[0] (google_pubsub_topic.t__topic).mode is a number (1)"),
    ("unknown mode", lambda p: p["resource_changes"][0].update(mode="ghost"),
     '.mode: unknown value "ghost"'),
    ("replace_paths an object", lambda p: change_of(p).update(replace_paths={"a": 1}),
     "change.replace_paths is an object"),
    ("output change not an object", lambda p: p["output_changes"].update(o=3),
     "output_changes.o is a number (3), expected an object"),
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


# --- first plan: imported resources updated in place, against the adoption record ----------

RECORD = "first-plan-adoption.json"
CHANNEL = "google_monitoring_notification_channel.alerts__slack_channel"
SUB = "google_pubsub_subscription.phase3_analytics_sub__subscription"
JOB = "google_cloud_scheduler_job.pipeline_canary__job"
FAKE_TOKEN = "xoxb-FAKE-live-token-0000"
NOT_ANNOUNCED = "not announced by the adoption report"

CLEAN_ATTRIBUTES = {
    (SVC, "template.0.timeout"): ('"300s"', '"540s"', "template.timeout"),
    (CHANNEL, "sensitive_labels.0.auth_token"): ("(sensitive)", "(sensitive)", "sensitive_labels"),
    (CHANNEL, "sensitive_labels.0.auth_token_wo_version"): ("(absent)", '"1"', "sensitive_labels"),
    **{(SUB, f"{labels}.{key}"): ("(absent)", f'"{value}"', "labels")
       for labels in ("effective_labels", "labels", "terraform_labels")
       for key, value in (("component", "phase3-analytics-sub"), ("managed-by", "cdktn"),
                          ("pipeline", "nba-props"))},
    (SUB, "push_config.0.oidc_token.0.service_account_email"): (
        '"756957797294-compute@developer.gserviceaccount.com"',
        '"nba-push-phase2-to-phase3@nba-props-platform.iam.gserviceaccount.com"',
        "push_config.oidc_token.service_account_email"),
}


@dataclass(frozen=True)
class Reviewed:
    """One row of the first-plan review table."""

    flag: str
    before: str
    after: str
    note: str


def review_rows(report: str) -> dict[tuple[str, str], Reviewed]:
    """(address, attribute) → row of the "Imported resources updated in place" table."""
    section = report.partition("## Imported resources updated in place\n")[2]
    found = {}
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith(("| | address", "|---")):
            continue
        flag, address, attribute, values, note = (
            cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1])
        before, _arrow, after = values.partition(" → ")
        key = (address.strip("`"), attribute.strip("`"))
        assert key not in found, f"{key} listed twice"
        found[key] = Reviewed(flag, before.strip("`"), after.strip("`"), note)
    return found


@pytest.fixture
def first_plan(capsys, fixtures_dir, load, write_json, tmp_path):
    """Run the CLI on a first-plan fixture (name or document) with a record (name, document,
    Path, or None for no --adoption option)."""

    def run_first_plan(plan: str | dict[str, Any] | Path,
                       record: str | dict[str, Any] | Path | None = RECORD,
                       adoption_dir: Path | None = None) -> Run:
        plan_path = (plan if isinstance(plan, Path) else write_json(plan) if isinstance(plan, dict)
                     else fixtures_dir / plan)
        args = [str(plan_path)]
        if record is not None:
            record_path = (record if isinstance(record, Path)
                           else write_json(record, "record.json") if isinstance(record, dict)
                           else fixtures_dir / record)
            args = ["--adoption", str(record_path), *args]
        code = plan_summary.main(args, adoption_dir=adoption_dir or tmp_path / "no-adoption")
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run_first_plan


def drop_changes(record: dict[str, Any], address: str, attribute: str) -> dict[str, Any]:
    """The record without the `changes` entry announcing ``attribute`` of ``address``."""
    before = len(record["changes"])
    record["changes"] = [c for c in record["changes"]
                         if (c["address"], c["attribute"]) != (address, attribute)]
    assert len(record["changes"]) == before - 1, (address, attribute)
    return record


def test_clean_first_plan_lists_every_changed_attribute_as_announced(first_plan, fixtures_dir):
    result = first_plan("first-plan-clean.json")
    assert (result.code, result.err) == (0, "")
    assert ("**4 to import, 0 to create, 3 to update, 0 to replace, 0 to delete; "
            "3 imported resources updated (13 attributes, 0 not announced).**") in result.out
    rows = review_rows(result.out)
    assert set(rows) == set(CLEAN_ATTRIBUTES)
    for key, (before, after, announced_by) in CLEAN_ATTRIBUTES.items():
        assert rows[key] == Reviewed("", before, after, f"announced (`{announced_by}`)"), key
    assert "⚠" not in result.out
    assert f"Checked against the changes announced in `{fixtures_dir / RECORD}`." in result.out


def test_imported_resource_without_changes_is_not_reviewed(first_plan):
    out = first_plan("first-plan-clean.json").out
    assert "google_pubsub_topic.phase4_trigger__topic" in out  # imported, no-op
    assert not [key for key in review_rows(out) if key[0].startswith("google_pubsub_topic.")]


def test_sensitive_value_never_reaches_the_summary(first_plan, fixtures_dir):
    assert FAKE_TOKEN in (fixtures_dir / "first-plan-clean.json").read_text()
    result = first_plan("first-plan-clean.json")
    assert FAKE_TOKEN not in result.out + result.err
    assert "xoxb" not in result.out
    row = review_rows(result.out)[CHANNEL, "sensitive_labels.0.auth_token"]
    assert (row.before, row.after) == ("(sensitive)", "(sensitive)")


def test_sensitive_mark_on_a_parent_block_masks_everything_under_it(first_plan, load, find):
    plan = load("first-plan-clean.json")
    change = find(plan, "resource_changes", CHANNEL)["change"]
    change["before_sensitive"] = {"sensitive_labels": True}
    change["after_sensitive"] = {"sensitive_labels": True}
    result = first_plan(plan)
    assert FAKE_TOKEN not in result.out
    row = review_rows(result.out)[CHANNEL, "sensitive_labels"]
    assert (row.before, row.after, row.flag) == ("(sensitive)", "(sensitive)", "")


def test_write_only_value_is_masked_even_when_not_marked_sensitive(first_plan, load, find):
    plan = load("first-plan-clean.json")
    change = find(plan, "resource_changes", CHANNEL)["change"]
    change["after"]["sensitive_labels"][0]["auth_token_wo"] = "xoxb-FAKE-write-only-1111"
    for marks in (change["before_sensitive"], change["after_sensitive"]):
        del marks["sensitive_labels"][0]["auth_token_wo"]
    result = first_plan(plan)
    assert "xoxb-FAKE-write-only-1111" not in result.out
    row = review_rows(result.out)[CHANNEL, "sensitive_labels.0.auth_token_wo"]
    assert (row.before, row.after) == ("(sensitive)", "(sensitive)")


def test_unannounced_change_is_flagged_and_exits_2(first_plan, fixtures_dir):
    result = first_plan("first-plan-unannounced.json")
    assert result.code == 2
    assert "3 imported resources updated (14 attributes, 1 not announced).**" in result.out
    assert f"⚠ 1 change(s) to imported resources {NOT_ANNOUNCED}." in result.out
    rows = review_rows(result.out)
    row = rows[SVC, "template.0.scaling.0.max_instance_count"]
    assert row == Reviewed("⚠", "100", "10", f"{NOT_ANNOUNCED}; it lists "
                           "`template.scaling.max_instance_count` as kept at `100`")
    assert [key for key, r in rows.items() if r.flag] == [
        (SVC, "template.0.scaling.0.max_instance_count")]
    assert result.err == (
        "plan_summary: 1 change to imported resources not announced by "
        f"{fixtures_dir / RECORD}: {SVC} template.0.scaling.0.max_instance_count\n")


def test_nested_list_change_lists_each_leaf_under_the_announced_list(first_plan, load):
    result = first_plan("first-plan-nested-list.json")
    assert result.code == 0, result.err
    rows = review_rows(result.out)
    env = "template.0.containers.0.env"
    announced = "announced (`template.containers.0.env`)"
    assert {key[1]: (r.before, r.after, r.note) for key, r in rows.items()
            if key[0] == SVC and key[1].startswith(env)} == {
        f"{env}.2.value": ('"DEBUG"', '"INFO"', announced),
        f"{env}.3.name": ("(absent)", '"PIPELINE_ENV"', announced),
        f"{env}.3.value": ("(absent)", '"prod"', announced),
    }
    unannounced = first_plan("first-plan-nested-list.json",
                             drop_changes(load(RECORD), SVC, "template.containers.0.env"))
    assert unannounced.code == 2
    assert sorted(key[1] for key, r in review_rows(unannounced.out).items() if r.flag) == [
        f"{env}.2.value", f"{env}.3.name", f"{env}.3.value"]


def test_unknown_value_is_known_after_apply(first_plan, load):
    result = first_plan("first-plan-unknown.json")
    assert result.code == 0, result.err
    assert "1 imported resource updated (1 attribute, 0 not announced)" in result.out
    assert review_rows(result.out) == {
        (JOB, "http_target.0.oidc_token.0.service_account_email"): Reviewed(
            "", '"756957797294-compute@developer.gserviceaccount.com"', "(known after apply)",
            "announced (`http_target.oidc_token.service_account_email`)")}
    # The service account it waits for is created, not imported: not in the review.
    flagged = first_plan("first-plan-unknown.json", drop_changes(
        load(RECORD), JOB, "http_target.oidc_token.service_account_email"))
    assert flagged.code == 2
    (row,) = review_rows(flagged.out).values()
    assert (row.flag, row.after, row.note) == ("⚠", "(known after apply)", NOT_ANNOUNCED)


def test_unknown_attribute_absent_from_before_and_after_is_listed(first_plan, load, find):
    plan = load("first-plan-unknown.json")
    job = find(plan, "resource_changes", JOB)["change"]
    job["after_unknown"]["next_run_time"] = True
    rows = review_rows(first_plan(plan).out)
    assert rows[JOB, "next_run_time"] == Reviewed("⚠", "(absent)", "(known after apply)",
                                                  NOT_ANNOUNCED)


def test_derived_label_maps_are_announced_only_with_their_labels(first_plan, load):
    result = first_plan("first-plan-clean.json", drop_changes(load(RECORD), SUB, "labels"))
    assert result.code == 2
    flagged = sorted(key[1] for key, r in review_rows(result.out).items() if r.flag)
    assert flagged == sorted(f"{labels}.{key}"
                             for labels in ("effective_labels", "labels", "terraform_labels")
                             for key in ("component", "managed-by", "pipeline"))


def test_an_announcement_of_another_address_does_not_count(first_plan, load):
    record = load(RECORD)
    for entry in record["changes"]:
        if entry["attribute"] == "template.timeout":
            entry["address"] = "google_cloud_run_v2_service.prediction_worker__service"
    rows = review_rows(first_plan("first-plan-clean.json", record).out)
    assert rows[SVC, "template.0.timeout"].flag == "⚠"


@pytest.mark.parametrize(("attribute", "path", "expected"), [
    ("template.timeout", ("template", 0, "timeout"), True),
    ("template.0.timeout", ("template", 0, "timeout"), True),
    ("template", ("template", 0, "timeout"), True),
    ("template.containers.0.env", ("template", 0, "containers", 0, "env", 3, "value"), True),
    ("template.containers.0.en", ("template", 0, "containers", 0, "env", 3, "value"), False),
    ("template.containers.env", ("template", 0, "containers", 1, "env", 0, "value"), False),
    ("template.containers.1.env", ("template", 0, "containers", 0, "env"), False),
    ("template.timeout.seconds", ("template", 0, "timeout"), False),
    ("labels.managed-by", ("labels", "managed-by"), True),
    ("labels.managed", ("labels", "managed-by"), False),
    ("push_config.oidc_token", ("push_config", 0, "oidc_token", 0, "audience"), True),
])
def test_an_announcement_covers_its_path_and_below_at_a_dot_boundary(attribute, path, expected):
    steps = review_module.attribute_steps(attribute)
    assert review_module.covers(steps, path) is expected


def stack_folder(tmp_path: Path, fixtures_dir: Path, fixture: str, env: str = "prod") -> Path:
    """The fixture copied where `make plan` writes plan.json: cdktf.out/stacks/pipeline-<env>."""
    folder = tmp_path / "cdktf.out" / "stacks" / f"pipeline-{env}"
    folder.mkdir(parents=True)
    target = folder / "plan.json"
    shutil.copy(fixtures_dir / fixture, target)
    return target


def test_default_record_is_the_envs_for_a_plan_in_its_stack_folder(first_plan, tmp_path,
                                                                   fixtures_dir):
    plan = stack_folder(tmp_path, fixtures_dir, "first-plan-clean.json")
    adoption_dir = tmp_path / "adoption"
    adoption_dir.mkdir()
    shutil.copy(fixtures_dir / RECORD, adoption_dir / "prod.json")
    result = first_plan(plan, None, adoption_dir)
    assert (result.code, result.err) == (0, "")
    assert f"Checked against the changes announced in `{adoption_dir / 'prod.json'}`." \
        in result.out


def test_missing_record_flags_every_change_and_names_the_record_once(first_plan, tmp_path,
                                                                     fixtures_dir):
    plan = stack_folder(tmp_path, fixtures_dir, "first-plan-clean.json")
    adoption_dir = tmp_path / "adoption"
    result = first_plan(plan, None, adoption_dir)
    assert result.code == 2
    record = str(adoption_dir / "prod.json")
    assert result.out.count(record) == 1
    assert f"⚠ No adoption record `{record}`: nothing was announced" in result.out
    rows = review_rows(result.out)
    assert set(rows) == set(CLEAN_ATTRIBUTES)
    assert all(r.flag == "⚠" and r.note == NOT_ANNOUNCED for r in rows.values())
    assert "13 attributes, 13 not announced" in result.out
    assert result.err.count("\n") == 1
    assert f"(no adoption record {record})" in result.err


def test_plan_outside_a_stack_folder_without_option_has_no_record(first_plan):
    result = first_plan("first-plan-clean.json", None)
    assert result.code == 2
    assert "is not in a stack folder `pipeline-<env>` and no `--adoption FILE` was given" \
        in result.out
    assert all(r.flag == "⚠" for r in review_rows(result.out).values())


def test_record_without_changes_list_announces_nothing(first_plan, load):
    record = load(RECORD)
    record["version"] = 1
    del record["changes"], record["kept"]
    result = first_plan("first-plan-unannounced.json", record)
    assert result.code == 2
    assert "has no `changes` list (written before version 2)" in result.out
    rows = review_rows(result.out)
    assert all(r.flag == "⚠" and r.note == NOT_ANNOUNCED for r in rows.values())


def test_plan_without_imports_never_reads_the_record(first_plan, tmp_path, fixtures_dir):
    plan = stack_folder(tmp_path, fixtures_dir, "normal_plan_mixed.json")
    adoption_dir = tmp_path / "adoption"
    adoption_dir.mkdir()
    (adoption_dir / "prod.json").write_text("not JSON")
    result = first_plan(plan, None, adoption_dir)
    assert (result.code, result.err) == (0, "")
    assert "imported resource" not in result.out


def test_updated_import_without_a_visible_difference_is_flagged_but_not_counted(first_plan, load,
                                                                               find):
    plan = load("first-plan-unknown.json")
    job = find(plan, "resource_changes", JOB)["change"]
    job["after"] = job["before"]
    job["after_unknown"] = {}
    result = first_plan(plan)
    assert result.code == 0
    assert "1 imported resource updated (0 attributes, 0 not announced)" in result.out
    assert (f"| ⚠ | `{JOB}` | | | updated, but no attribute differs in the plan JSON"
            in result.out)


def test_render_without_a_review_reads_as_no_record(load):
    data = load("first-plan-clean.json")
    text = plan_summary.render(parse_plan(data, "plan.json"), plan_summary.importing(data))
    assert "No adoption record was given: nothing was announced" in text
    assert "13 attributes, 13 not announced" in text


RECORD_ERRORS = [
    ("not JSON", "{", "not JSON (line 1"),
    ("top-level list", [], "top level is a list, expected an adoption record object"),
    ("unknown version", {"version": 3, "changes": []}, "version is a number (3), expected one of 1, 2"),
    ("changes an object", {"changes": {}}, "changes is an object ({}), expected a list"),
    ("entry a string", {"changes": ["labels"]},
     'changes[0] is a string ("labels"), expected an object with address and attribute'),
    ("address missing", {"changes": [{"attribute": "labels"}]},
     "changes[0].address is missing, expected a non-empty string"),
    ("attribute a number", {"changes": [{"address": SVC, "attribute": 3}]},
     "changes[0].attribute is a number (3), expected a non-empty string"),
    ("attribute empty part", {"changes": [{"address": SVC, "attribute": "template..timeout"}]},
     'changes[0].attribute: "template..timeout" has an empty part'),
    ("kept attribute empty", {"changes": [], "kept": [{"address": SVC, "attribute": ""}]},
     'kept[0].attribute is a string (""), expected a non-empty string'),
    ("env not a string", {"env": ["prod"], "changes": []}, 'env is a list (["prod"]), expected'),
]


@pytest.mark.parametrize(("record", "reason"), [e[1:] for e in RECORD_ERRORS],
                         ids=[e[0] for e in RECORD_ERRORS])
def test_malformed_record_exits_1_with_one_line_naming_file_and_field(first_plan, write_json,
                                                                      record, reason):
    path = write_json(record, "record.json")
    result = first_plan("first-plan-clean.json", path)
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(f"plan_summary: {path}: "), result.err
    assert result.err.count("\n") == 1
    assert reason in result.err, result.err


def test_record_of_another_env_is_refused(first_plan, load, tmp_path, fixtures_dir):
    plan = stack_folder(tmp_path, fixtures_dir, "first-plan-clean.json")
    record = load(RECORD)
    record["env"] = "dev"
    result = first_plan(plan, record)
    assert result.code == 1
    assert result.err.endswith(': env is "dev", but the plan is of pipeline-prod; pass the '
                               'record of "prod"\n')


def test_adoption_option_naming_a_missing_file_exits_1(first_plan, tmp_path):
    result = first_plan("first-plan-clean.json", tmp_path / "prod.json")
    assert (result.code, result.err) == (
        1, f"plan_summary: {tmp_path / 'prod.json'}: file not found\n")


@pytest.mark.parametrize("argv", [["--adoption", "r.json"], ["--adoption"], ["p.json", "--adoption"],
                                  ["--adoption=", "p.json"],
                                  ["--adoption", "a.json", "--adoption", "b.json", "p.json"],
                                  ["--adoption", "-x", "p.json"]])
def test_adoption_option_usage_errors_exit_1(capsys, argv):
    assert plan_summary.main(argv) == 1
    assert capsys.readouterr().err == f"plan_summary: {plan_summary.USAGE}\n"


@pytest.mark.parametrize("order", ["option first", "option last", "equals"])
def test_adoption_option_anywhere(first_plan, fixtures_dir, capsys, order):
    plan, record = str(fixtures_dir / "first-plan-clean.json"), str(fixtures_dir / RECORD)
    argv = {"option first": ["--adoption", record, plan],
            "option last": [plan, "--adoption", record],
            "equals": [f"--adoption={record}", plan]}[order]
    assert plan_summary.main(argv) == 0
    assert "0 not announced" in capsys.readouterr().out
