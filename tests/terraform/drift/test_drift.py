"""Drift review (`python -m infra.drift`): exit codes and findings per fixture, unreadable input,
and the program. One test per rule, each on input that breaks it; the rules by class are in
the other files of this folder."""

import subprocess
import sys

import pytest

from infra.terraform import drift
from tests.terraform.drift.support import (
    FN_INVOKER,
    INVOKER,
    SUB,
    TODAY,
    section,
)
from tests.terraform.support import FUNCTION, OLD_INVOKER, TABLE

# --- exit codes per fixture ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("refresh_clean.json", drift.EXIT_CLEAN),
        ("invoker_deleted.json", drift.EXIT_CRITICAL),
        ("push_endpoint_changed.json", drift.EXIT_CRITICAL),
        ("oidc_sa_changed.json", drift.EXIT_CRITICAL),
        ("function_replaced_iam_not.json", drift.EXIT_CRITICAL),
        ("service_replaced_iam_replaced.json", drift.EXIT_CLEAN),
        ("bigquery_table_deleted.json", drift.EXIT_CRITICAL),
        ("orchestrator_removed.json", drift.EXIT_CRITICAL),
        ("normal_plan_mixed.json", drift.EXIT_CLEAN),
        ("env_var_drift.json", drift.EXIT_DRIFT),
        ("image_deployed.json", drift.EXIT_CLEAN),
        ("sensitive_drift.json", drift.EXIT_DRIFT),
        ("etag_noise.json", drift.EXIT_CLEAN),
        ("output_only.json", drift.EXIT_CLEAN),
        ("ignored_attribute.json", drift.EXIT_DRIFT),
        ("unknown_type.json", drift.EXIT_DRIFT),
        ("gate_processor_added.json", drift.EXIT_CRITICAL),
        ("gate_processor_reordered.json", drift.EXIT_DRIFT),
        ("bucket_location_replaced.json", drift.EXIT_CRITICAL),
    ],
)
def test_exit_code_per_fixture(run, fixture, expected):
    result = run(fixture)
    assert result.code == expected, result.out
    assert result.err == ""
    assert result.out.startswith("# Drift review: ")


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [
        ("env_var_drift.json", "refresh-only"),
        ("etag_noise.json", "refresh-only"),
        ("normal_plan_mixed.json", "normal"),
    ],
)
def test_plan_kind_is_stated(run, fixture, kind):
    assert f"Plan: {kind}, format_version 1.2" in run(fixture).out


def test_normal_plan_with_nothing_to_change_is_stated(run_doc, load, find):
    plan = load("invoker_deleted.json")
    plan["resource_changes"] = [
        rc for rc in plan["resource_changes"] if rc["change"]["actions"] == ["no-op"]
    ]
    assert "Plan: normal, nothing to change," in run_doc(plan).out


def test_clean_refresh_only_plan_says_no_drift(run):
    result = run("refresh_clean.json")
    assert "**Verdict: no drift** - 0 muted change(s)." in result.out
    assert "Plan: refresh-only, format_version 1.2" in result.out
    assert "| critical | 0 |\n| drift | 0 |\n| noise (muted) | 0 |" in result.out


# --- findings per fixture ------------------------------------------------------------------

# (fixture, a section of its report, what that section says, what the whole report says)
FINDINGS: list[tuple[str, str, list[str], list[str]]] = [
    ("invoker_deleted.json", "Critical",
     [f"`{INVOKER}`",
      "`roles/run.invoker` grant for `serviceAccount:phase3-analytics-sub-push@",
      "deleted out of band; the plan re-creates it"],
     ["**Verdict: CRITICAL** - 1 finding(s)"]),
    ("orchestrator_removed.json", "Critical",
     [f"`{OLD_INVOKER}`", "plan deletes `roles/run.invoker` grant",
      "(delete_because_no_resource_config)"],
     # The function, topic and identity deleted with it are planned, not findings.
     ["| critical | 1 |", "| drift | 0 |"]),
    ("push_endpoint_changed.json", "Critical",
     ["`push_config[0].push_endpoint` changed out of band",
      '"https://nba-phase3-analytics-processors-f7p3g7f6ya-wl.a.run.app/process"',
      "/process-date-range"],
     []),
    ("oidc_sa_changed.json", "Critical",
     ["`push_config[0].oidc_token[0].service_account_email`",
      "756957797294-compute@developer.gserviceaccount.com"],
     []),
    ("function_replaced_iam_not.json", "Critical",
     [f"`{FUNCTION}`", f"its IAM members are not: `{FN_INVOKER}` would be lost",
      "(replace_because_cannot_update: event_trigger[0].pubsub_topic)"],
     []),
    ("bigquery_table_deleted.json", "Critical",
     [f"`{TABLE}`", "plan will delete a data store: its data is destroyed",
      "`exists` → `deleted`"],
     []),
    ("env_var_drift.json", "Drift",
     ["`template[0].containers[0].env[2].value` changed out of band", '`"INFO"` → `"DEBUG"`'],
     ["| drift | 1 |"]),
    ("image_deployed.json", "Information",
     ["`template[0].containers[0].image`: the service's own release deployed "
      '"us-west2-docker.pkg.dev/nba-props-platform/pipeline/'
      'nba-phase3-analytics-processors:2026-11-21-9b2e7d0"',
      '`"us-west2-docker.pkg.dev/nba-props-platform/pipeline/'
      'nba-phase3-analytics-processors:2026-11-20-4f1c2ab"` →'],
     ["**Verdict: no drift** - 7 muted change(s), 1 deployed image(s) noted.",
      "| drift | 0 |", "| information | 1 |"]),
    ("gate_processor_added.json", "Critical",
     [f"`{FUNCTION}`",
      "gate configuration changed out of band: EXPECTED_PROCESSORS of "
      "phase3-to-phase4-orchestrator",
      '`["player_game_summary", "team_defense_game_summary", "team_offense_game_summary", '
      '"team_pace_summary", "upcoming_player_game_context", "upcoming_team_game_context"]`',
      "(the gate would wait for / skip a processor: added `team_pace_summary`)"],
     # The plan's revert of the same change is planned, not a second finding.
     ["| critical | 1 |", "| drift | 0 |", "1 drifted and 1 planned resource change(s)"]),
    ("gate_processor_reordered.json", "Drift",
     ["`service_config[0].environment_variables.EXPECTED_PROCESSORS` changed out of band: "
      "the same EXPECTED_PROCESSORS in another order"],
     ["| critical | 0 |", "| drift | 1 |"]),
    ("etag_noise.json", "Muted noise",
     ["| etag-only change on IAM member | 1 | `etag` |", "| provider-computed attribute | 4 |"],
     ["**Verdict: no drift** - 5 muted change(s)."]),
]


@pytest.mark.parametrize(("fixture", "title", "in_section", "in_report"), FINDINGS,
                         ids=[f"{row[0]}-{row[1]}" for row in FINDINGS])
def test_report_names_the_resource_the_change_and_the_class(run, fixture, title, in_section,
                                                            in_report):
    out = run(fixture).out
    found = section(out, title)
    for text in in_section:
        assert text in found, f"{fixture}: {text!r} not in the {title} section"
    for text in in_report:
        assert text in out, f"{fixture}: {text!r} not in the report"


# --- unreadable input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("malformed_not_json.json", "not JSON (line 4 column 1"),
        ("malformed_top_level_list.json", "not a plan JSON: top level is a list"),
        ("malformed_state_not_plan.json", "(this looks like state output)"),
        ("malformed_format_v2.json", "format_version: expected a format version 1.x such as "
         "\"1.2\" (this tool reads 1.x), found '2.0'"),
        ("malformed_missing_actions.json",
         "resource_changes[0].change.actions: missing, required (" + SUB + ")"),
    ],
)
def test_unreadable_plan_exits_1_with_one_line_naming_file_and_reason(
    run, fixtures_dir, fixture, reason
):
    result = run(fixture)
    assert result.code == drift.EXIT_UNREADABLE
    assert result.out == ""
    assert result.err.startswith(f"drift: {fixtures_dir / fixture}: ")
    assert reason in result.err
    assert result.err.count("\n") == 1


def test_missing_plan_file_is_unreadable(run, tmp_path):
    result = run(tmp_path / "plan.json")
    assert (result.code, result.err) == (1, f"drift: {tmp_path / 'plan.json'}: file not found\n")


def test_directory_is_unreadable(run, tmp_path):
    assert "is a directory" in run(tmp_path).err


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda p: p.pop("format_version"), "no format_version"),
        (lambda p: p.update(format_version="1"), "format_version: expected a format version 1.x"),
        (lambda p: p.update(format_version=1.2), "format_version: expected a string, found 1.2"),
        (lambda p: p.update(resource_drift={}), "resource_drift: expected a list, found {}"),
        (
            lambda p: p["resource_drift"][0].pop("type"),
            "resource_drift[0].type: missing, required",
        ),
        (
            lambda p: p["resource_drift"][0].update(type=""),
            "resource_drift[0].type: expected a non-empty string, found ''",
        ),
        (lambda p: p["resource_drift"][0].pop("change"), "resource_drift[0].change: missing"),
        (lambda p: p.update(output_changes=[]), "output_changes: expected an object, found []"),
    ],
)
def test_structurally_broken_plan_is_unreadable(run_doc, load, mutate, reason):
    plan = load("env_var_drift.json")
    mutate(plan)
    result = run_doc(plan)
    assert result.code == drift.EXIT_UNREADABLE
    assert reason in result.err


def test_newer_minor_format_version_is_accepted(run_doc, load):
    plan = load("env_var_drift.json")
    plan["format_version"] = "1.9"
    plan["some_future_field"] = {"ignored": True}
    assert run_doc(plan).code == drift.EXIT_DRIFT


def test_errored_plan_is_noted(run_doc, load):
    plan = load("refresh_clean.json")
    plan["errored"] = True
    assert "`errored: true`" in run_doc(plan).out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "drift: usage: the following arguments are required: plan_json"),
        (["plan.json", "--today", "22/11/2026"], "drift: --today '22/11/2026' is not a"),
        (["plan.json", "--bogus"], "drift: usage: unrecognized arguments: --bogus"),
    ],
)
def test_usage_errors_exit_1_not_2(capsys, argv, message):
    # 2 means drift, so a bad command line must not look like drift to CI.
    assert drift.main(argv) == drift.EXIT_UNREADABLE
    assert capsys.readouterr().err.startswith(message)


# --- as a program --------------------------------------------------------------------------


def test_python_m_infra_drift(repo_root, fixtures_dir, no_ignores):
    argv = ["--ignore", str(no_ignores), "--today", TODAY]
    done = subprocess.run(
        [sys.executable, "-m", "infra.drift", str(fixtures_dir / "invoker_deleted.json"), *argv],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == drift.EXIT_CRITICAL, done.stderr
    assert done.stdout.startswith("# Drift review: ")
    assert done.stderr == ""


def test_python_m_infra_drift_unreadable(repo_root, tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "infra.drift", str(tmp_path / "missing.json")],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == drift.EXIT_UNREADABLE
    assert done.stderr == f"drift: {tmp_path / 'missing.json'}: file not found\n"
