"""The first-plan review in the plan summary (`python -m infra.plan_summary`): every attribute
an imported resource's first apply changes, checked against the changes the adoption record
announced (`infra.terraform.first_plan`), and the record's own errors."""

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.model.adoption import attribute_steps
from infra.terraform import first_plan as review_module
from infra.terraform import plan_summary
from infra.terraform.plan_json import parse_plan
from tests.terraform.support import SVC, Run

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
CLEAN_UPDATED = {address for address, _ in CLEAN_ATTRIBUTES}
"""The imported resources the clean first plan updates in place."""


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
            f"{len(CLEAN_UPDATED)} imported resources updated ({len(CLEAN_ATTRIBUTES)} attributes, "
            "0 not announced).**") in result.out
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
    rows = review_rows(result.out)
    assert (f"{len(CLEAN_UPDATED)} imported resources updated ({len(rows)} attributes, 1 not "
            "announced).**") in result.out
    assert f"⚠ 1 change(s) to imported resources {NOT_ANNOUNCED}." in result.out
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
    steps = attribute_steps(attribute)
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
    assert f"{len(CLEAN_ATTRIBUTES)} attributes, {len(CLEAN_ATTRIBUTES)} not announced" \
        in result.out
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
    plan = parse_plan(data, "plan.json")
    text = plan_summary.render(plan)
    assert "No adoption record was given: nothing was announced" in text
    assert text == plan_summary.render(
        plan, review_module.review_first_plan(plan, plan.imports, review_module.NO_RECORD))


RECORD_ERRORS = [
    ("not JSON", "{", "not JSON (line 1"),
    ("top-level list", [], "expected an object, found []"),
    ("unknown version", {"version": 3, "changes": []}, "version: expected one of 1, 2, found 3"),
    ("version a boolean", {"version": True}, "version: expected an integer, found True"),
    ("changes an object", {"changes": {}}, "changes: expected a list, found {}"),
    ("entry a string", {"changes": ["labels"]}, "changes[0]: expected an object, found 'labels'"),
    ("address missing", {"changes": [{"attribute": "labels"}]},
     "changes[0].address: missing, required"),
    ("attribute a number", {"changes": [{"address": SVC, "attribute": 3}]},
     "changes[0].attribute: expected a string, found 3"),
    ("attribute empty part", {"changes": [{"address": SVC, "attribute": "template..timeout"}]},
     "changes[0].attribute: expected dotted names without an empty part, such as "
     "\"template.containers.0.env\", found 'template..timeout'"),
    ("kept attribute empty", {"changes": [], "kept": [{"address": SVC, "attribute": ""}]},
     "kept[0].attribute: expected dotted names without an empty part"),
    ("env not a string", {"env": ["prod"], "changes": []}, "env: expected a string, found ['prod']"),
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
    assert result.err.endswith(': env: the plan is of pipeline-prod; pass the record of "prod", '
                               'found "dev"\n')


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
