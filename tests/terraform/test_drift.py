"""Drift review (`python -m infra.drift`): one test per rule, each on input that breaks it."""

import copy
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from infra.model.provider import computed
from infra.terraform import drift, drift_classify, drift_gates, drift_ignore
from infra.terraform.plan_json import format_path, parse_path
from tests.terraform.support import FUNCTION, OLD_INVOKER, SVC, TABLE, Run

TODAY = "2026-11-22"

SUB = "google_pubsub_subscription.phase3_analytics_sub__subscription"
INVOKER = "google_cloud_run_v2_service_iam_member.phase3_analytics_sub__invoker"
SCHED_INVOKER = "google_cloud_run_v2_service_iam_member.same_day_phase3__invoker"
FN_INVOKER = "google_cloud_run_v2_service_iam_member.phase3_to_phase4_orchestrator__trigger_invoker"


@pytest.fixture
def run(capsys, fixtures_dir, no_ignores):
    """Run the CLI in-process on a fixture name or a path; return code, stdout, stderr."""

    def run_drift(plan: str | Path, *, ignore: Path | None = None, today: str = TODAY) -> Run:
        path = plan if isinstance(plan, Path) else fixtures_dir / plan
        argv = [str(path), "--ignore", str(ignore or no_ignores), "--today", today]
        code = drift.main(argv)
        out, err = capsys.readouterr()
        return Run(code, out, err)

    return run_drift


@pytest.fixture
def run_doc(run, write_json):
    """Run the CLI on a plan document built in the test."""

    def run_document(document: dict[str, Any], **kwargs: Any) -> Run:
        return run(write_json(document), **kwargs)

    return run_document


def section(report: str, title: str) -> str:
    """The text of one `## title (n)` section of the report."""
    start = report.index(f"## {title} (")
    end = report.find("\n## ", start + 1)
    return report[start : end if end != -1 else len(report)]


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


# --- critical: IAM -------------------------------------------------------------------------


def test_invoker_deleted_in_refresh_only_plan_is_critical_without_recreate(run_doc, load):
    plan = load("invoker_deleted.json")
    del plan["resource_changes"]
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL
    assert "deleted out of band |" in result.out
    assert "re-creates" not in result.out


@pytest.mark.parametrize("role", sorted(drift_classify.CRITICAL_ROLES))
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


def _drift_entry(address: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    rtype, name = address.split(".", 1)
    return {
        "address": address, "mode": "managed", "type": rtype, "name": name,
        "provider_name": "registry.terraform.io/hashicorp/google",
        "change": {"actions": ["update"], "before": before, "after": after,
                   "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}},
    }


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


def _with(block: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(block)
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


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
    plan["resource_drift"] = [_drift_entry(address, before, _with(before, path, value))]
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL, result.out
    critical = section(result.out, "Critical")
    assert f"{shown} changed out of band" in critical
    assert value in critical


def test_scheduler_schedule_change_is_drift_not_critical(run_doc, load):
    plan = load("refresh_clean.json")
    after = _with(JOB_BEFORE, ("schedule",), "0 11 * * *")
    plan["resource_drift"] = [_drift_entry(JOB, JOB_BEFORE, after)]
    result = run_doc(plan)
    assert result.code == drift.EXIT_DRIFT
    assert "`schedule` changed out of band | `\"30 10 * * *\"` → `\"0 11 * * *\"`" in result.out


def test_grant_widened_to_invoker_out_of_band_is_critical(run_doc, load):
    plan = load("refresh_clean.json")
    before = {"name": "nba-phase3-analytics-processors", "role": "roles/run.viewer",
              "member": "serviceAccount:nba-ops@nba-props-platform.iam.gserviceaccount.com"}
    plan["resource_drift"] = [
        _drift_entry(INVOKER, before, dict(before, role="roles/run.invoker"))]
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL
    assert "`role` of `roles/run.invoker` grant" in section(result.out, "Critical")


# --- critical: a gate's configuration ------------------------------------------------------

# The Phase 3 -> 4 gate's expected set as the stack generates it (gate_processor_*.json).
EXPECTED = ["player_game_summary", "team_defense_game_summary", "team_offense_game_summary",
            "upcoming_player_game_context", "upcoming_team_game_context"]
CANARY = "google_cloudfunctions2_function.pipeline_canary__function"
TRANSITIONS = [{"name": "phase3-to-phase4", "source_phase": "phase_3_analytics",
                "collection": "phase3_completion", "expected": EXPECTED, "stall_minutes": 30,
                "trigger_topic": "nba-phase4-trigger"}]
DEAD_LETTERS = [
    {"edge": "phase2-to-phase3", "subscription": "nba-phase3-analytics-sub-dlq-sub",
     "target": "nba-phase3-analytics-processors"},
    {"edge": "phase3-to-phase4", "subscription": "nba-phase4-precompute-sub-dlq-sub",
     "target": "nba-phase4-precompute-processors"},
]
CANARY_ENV = {"GCP_PROJECT": "nba-props-platform", "PIPELINE_ENV": "prod",
              "CANARY_TIMEZONE": "America/New_York",
              "GATED_TRANSITIONS": json.dumps(TRANSITIONS),
              "DEAD_LETTER_SUBSCRIPTIONS": json.dumps(DEAD_LETTERS)}
# What the stack generates for a function that is not a gate's configuration (read by the
# functions, but changing one does not change what a gate waits for or where it publishes).
NOT_GATE_VARIABLES = {"GCP_PROJECT", "PIPELINE_ENV", "COMPLETION_TTL_DAYS",
                      "BQ_COMPLETIONS_TABLE", "CANARY_TIMEZONE"}


def gate_drift(load, find, **live: str | None) -> dict[str, Any]:
    """gate_processor_reordered.json (refresh-only) with the live environment being the
    declared one with `live` set (None unsets a variable)."""
    plan = load("gate_processor_reordered.json")
    change = find(plan, "resource_drift", FUNCTION)["change"]
    env = dict(change["before"]["service_config"][0]["environment_variables"])
    for name, value in live.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    change["after"]["service_config"][0]["environment_variables"] = env
    return plan


def canary_drift(load, before_env: dict[str, str], after_env: dict[str, str]) -> dict[str, Any]:
    """A refresh-only plan where only the canary's environment changed."""
    plan = load("refresh_clean.json")
    block = {"name": "pipeline-canary", "service_config": [{"environment_variables": before_env}]}
    plan["resource_drift"] = [_drift_entry(
        CANARY, block, _with(block, ("service_config", 0, "environment_variables"), after_env))]
    return plan


def test_the_critical_set_is_every_gate_variable_the_issue_names():
    assert set(drift_gates.GATE_VARIABLES) == {
        "EXPECTED_PROCESSORS", "TRIGGER_TOPIC", "SOURCE_PHASE", "TRANSITION", "KNOWN_PHASES",
        "COMPLETION_COLLECTION", "GATED_TRANSITIONS", "DEAD_LETTER_SUBSCRIPTIONS"}
    assert drift_gates.GATE_ENV_PATHS == {
        "google_cloudfunctions2_function": ("service_config", "environment_variables")}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_variable_the_stack_generates_for_a_function_is_classified(stacks, env):
    # A new variable in infra.model.function_config forces a decision: gate or not.
    functions = stacks[env].data["resource"]["google_cloudfunctions2_function"]
    generated = {name for fn in functions.values()
                 for name in fn["service_config"]["environment_variables"]}
    assert generated - NOT_GATE_VARIABLES == set(drift_gates.GATE_VARIABLES), env
    assert not NOT_GATE_VARIABLES & set(drift_gates.GATE_VARIABLES)


def test_a_processor_removed_out_of_band_is_critical(run_doc, load, find):
    # The gate fires without it: Phase 4 starts on a game whose context never landed.
    plan = gate_drift(load, find, EXPECTED_PROCESSORS=json.dumps(EXPECTED[:-1]))
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL, result.out
    critical = section(result.out, "Critical")
    assert ("gate configuration changed out of band: EXPECTED_PROCESSORS of "
            "phase3-to-phase4-orchestrator") in critical
    assert f"→ `{json.dumps(EXPECTED[:-1])}`" in critical
    assert "(the gate would wait for / skip a processor: removed `upcoming_team_game_context`)" in (
        critical)


def test_a_disabled_processor_added_back_in_a_refresh_only_plan_is_critical(run_doc, load, find):
    plan = gate_drift(load, find, EXPECTED_PROCESSORS=json.dumps([*EXPECTED, "p2_bdl_box_scores"]))
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL, result.out
    assert "added `p2_bdl_box_scores`)" in section(result.out, "Critical")
    assert "None." in section(result.out, "Drift")


def test_a_trigger_topic_changed_out_of_band_is_critical(run_doc, load, find):
    result = run_doc(gate_drift(load, find, TRIGGER_TOPIC="nba-phase4-trigger-v2"))
    assert result.code == drift.EXIT_CRITICAL, result.out
    assert ("gate configuration changed out of band: TRIGGER_TOPIC of "
            "phase3-to-phase4-orchestrator `nba-phase4-trigger` → `nba-phase4-trigger-v2` "
            "(the gate would publish the trigger where the next phase does not listen)") in (
        section(result.out, "Critical"))


@pytest.mark.parametrize("variable", sorted(drift_gates.GATE_VARIABLES))
@pytest.mark.parametrize("live", ['["changed_by_hand"]', None], ids=["changed", "unset"])
def test_every_gate_variable_changed_or_unset_is_critical(run_doc, load, find, variable, live):
    if variable in CANARY_ENV:  # the canary's variables; the orchestrator does not carry them
        after = {k: v for k, v in (CANARY_ENV | {variable: live}).items() if v is not None}
        plan = canary_drift(load, CANARY_ENV, after)
    else:
        plan = gate_drift(load, find, **{variable: live})
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL, result.out
    critical = section(result.out, "Critical")
    assert f"gate configuration changed out of band: {variable} of " in critical
    assert drift_gates.GATE_VARIABLES[variable] in critical


def test_a_gate_variable_appearing_is_critical(run_doc, load, find):
    plan = gate_drift(load, find)
    change = find(plan, "resource_drift", FUNCTION)["change"]
    del change["before"]["service_config"][0]["environment_variables"]["EXPECTED_PROCESSORS"]
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL, result.out
    assert "phase3-to-phase4-orchestrator `(absent)` → `[" in section(result.out, "Critical")


@pytest.mark.parametrize("side", ["before", "after"])
def test_an_environment_present_on_one_side_only_is_critical(run_doc, load, find, side):
    plan = gate_drift(load, find)
    find(plan, "resource_drift", FUNCTION)["change"][side]["service_config"][0][
        "environment_variables"] = None
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL, result.out
    critical = section(result.out, "Critical")
    for variable in ("EXPECTED_PROCESSORS", "TRIGGER_TOPIC", "SOURCE_PHASE", "TRANSITION",
                     "KNOWN_PHASES", "COMPLETION_COLLECTION"):
        assert f": {variable} of phase3-to-phase4-orchestrator" in critical
    # The other generated variables are ordinary drift.
    assert "`service_config[0].environment_variables.COMPLETION_TTL_DAYS` changed out of band" in (
        section(result.out, "Drift"))


def test_an_unrelated_variable_added_is_drift_not_critical(run_doc, load, find):
    result = run_doc(gate_drift(load, find, LOG_LEVEL="DEBUG"))
    assert result.code == drift.EXIT_DRIFT, result.out
    assert "None." in section(result.out, "Critical")
    assert ("`service_config[0].environment_variables.LOG_LEVEL` changed out of band | "
            '`(absent)` → `"DEBUG"`') in section(result.out, "Drift")


@pytest.mark.parametrize(
    "live",
    [
        json.dumps(list(reversed(EXPECTED))),  # same set, other order
        json.dumps(EXPECTED, separators=(",", ":")),  # same list, other JSON spacing
        " " + json.dumps(EXPECTED) + "\n",  # blanks the orchestrator strips
    ],
    ids=["order", "spacing", "blanks"],
)
def test_the_same_expected_set_written_differently_is_drift_not_critical(
        run_doc, load, find, live):
    result = run_doc(gate_drift(load, find, EXPECTED_PROCESSORS=live))
    assert result.code == drift.EXIT_DRIFT, result.out
    assert "None." in section(result.out, "Critical")
    assert "the same EXPECTED_PROCESSORS in another order or spelling" in section(
        result.out, "Drift")


@pytest.mark.parametrize(
    ("live", "shown"),
    [
        # A repeated name: the orchestrator refuses to start (a name listed twice).
        (json.dumps([*EXPECTED, EXPECTED[0]]), "added `player_game_summary`"),
        # The same names as a comma list: not a JSON array, which the orchestrator rejects.
        (",".join(EXPECTED), "no longer a JSON array, which the function rejects when it starts"),
    ],
    ids=["repeated", "comma-list"],
)
def test_the_same_names_read_differently_are_critical(run_doc, load, find, live, shown):
    result = run_doc(gate_drift(load, find, EXPECTED_PROCESSORS=live))
    assert result.code == drift.EXIT_CRITICAL, result.out
    assert shown in section(result.out, "Critical")


def test_any_function_carrying_a_gate_variable_is_a_gate(run_doc, load, find):
    # No function name is written in the rule: another orchestrator is caught the same way.
    plan = gate_drift(load, find, EXPECTED_PROCESSORS=json.dumps(EXPECTED[1:]))
    entry = find(plan, "resource_drift", FUNCTION)
    entry["address"] = "google_cloudfunctions2_function.phase2_to_phase3_orchestrator__function"
    entry["name"] = "phase2_to_phase3_orchestrator__function"
    for side in ("before", "after"):
        entry["change"][side]["name"] = "phase2-to-phase3-orchestrator"
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL, result.out
    assert "EXPECTED_PROCESSORS of phase2-to-phase3-orchestrator" in section(result.out, "Critical")


def test_a_canary_transition_expecting_another_set_is_critical(run_doc, load):
    changed = [dict(TRANSITIONS[0], expected=EXPECTED[:-1])]
    plan = canary_drift(load, CANARY_ENV, CANARY_ENV | {"GATED_TRANSITIONS": json.dumps(changed)})
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL, result.out
    critical = section(result.out, "Critical")
    assert "gate configuration changed out of band: GATED_TRANSITIONS of pipeline-canary" in critical
    assert "(the canary would check the gates against another expectation: added `" in critical


def test_a_dead_letter_queue_dropped_from_the_canary_is_critical(run_doc, load):
    after = CANARY_ENV | {"DEAD_LETTER_SUBSCRIPTIONS": json.dumps(DEAD_LETTERS[:1])}
    result = run_doc(canary_drift(load, CANARY_ENV, after))
    assert result.code == drift.EXIT_CRITICAL, result.out
    assert "removed `{\"edge\": \"phase3-to-phase4\"" in section(result.out, "Critical")


def test_the_canarys_lists_in_another_order_are_drift_not_critical(run_doc, load):
    # The canary sorts each transition's `expected`; key order means nothing in JSON.
    reordered = [dict(t, expected=list(reversed(t["expected"]))) for t in TRANSITIONS]
    after = CANARY_ENV | {
        "GATED_TRANSITIONS": json.dumps([{k: t[k] for k in reversed(t)} for t in reordered]),
        "DEAD_LETTER_SUBSCRIPTIONS": json.dumps(list(reversed(DEAD_LETTERS))),
    }
    result = run_doc(canary_drift(load, CANARY_ENV, after))
    assert result.code == drift.EXIT_DRIFT, result.out
    assert "None." in section(result.out, "Critical")


def test_a_canary_stall_limit_written_as_a_float_is_critical(run_doc, load):
    # The canary accepts an integer only: 30.0 is not 30 to it.
    changed = [dict(TRANSITIONS[0], stall_minutes=30.0)]
    plan = canary_drift(load, CANARY_ENV, CANARY_ENV | {"GATED_TRANSITIONS": json.dumps(changed)})
    assert run_doc(plan).code == drift.EXIT_CRITICAL


def test_a_masked_environment_is_critical_without_showing_its_values(run_doc, load, find):
    plan = gate_drift(load, find, EXPECTED_PROCESSORS=json.dumps(EXPECTED[:-1]))
    change = find(plan, "resource_drift", FUNCTION)["change"]
    change["before_sensitive"] = change["after_sensitive"] = {"service_config": True}
    result = run_doc(plan)
    assert result.code == drift.EXIT_CRITICAL, result.out
    critical = section(result.out, "Critical")
    assert ("EXPECTED_PROCESSORS of phase3-to-phase4-orchestrator `(sensitive)` → `(sensitive)` "
            "(the gate would wait for / skip a processor)") in critical
    assert "upcoming" not in result.out
    # The masked block itself is still reported once, as drift.
    assert "| `service_config` changed out of band | `(sensitive)` → `(sensitive)` |" in (
        section(result.out, "Drift"))


def test_ignore_file_never_mutes_a_gate_change(run_doc, load, find, write_json):
    ignore = write_json({"ignore": [{
        "address": "google_cloudfunctions2_function.*",
        "attribute": "service_config[0].environment_variables",
        "reason": "env edited during the incident", "expires": "2027-01-31"}]}, "ignore-env.json")
    plan = gate_drift(load, find, EXPECTED_PROCESSORS=json.dumps(EXPECTED[:-1]), LOG_LEVEL="DEBUG")
    result = run_doc(plan, ignore=ignore)
    assert result.code == drift.EXIT_CRITICAL, result.out
    assert "| critical | 1 |\n| drift | 0 |" in result.out
    assert "| ignore file: env edited during the incident | 1 |" in result.out


def test_a_gate_variable_is_never_a_provider_computed_path():
    for rtype, env in drift_gates.GATE_ENV_PATHS.items():
        for variable in drift_gates.GATE_VARIABLES:
            path = (*_blocks(env), variable)  # service_config[0].environment_variables.X
            assert drift_classify.computed_prefix(rtype, path) is None, (rtype, variable)


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


@pytest.mark.parametrize("resource_type", sorted(drift_classify.RUNTIME_TYPES))
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


@pytest.mark.parametrize("resource_type", sorted(drift_classify.DATA_STORE_TYPES))
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


# --- drift ---------------------------------------------------------------------------------


def test_planned_changes_without_drift_are_not_drift(run):
    result = run("normal_plan_mixed.json")
    assert "**Verdict: no drift**" in result.out
    assert "pipeline_canary__job" not in result.out


def test_drift_that_the_plan_reverts_is_still_drift(run_doc, load, find):
    plan = load("env_var_drift.json")
    drifted = find(plan, "resource_drift", SVC)
    plan["resource_changes"] = [dict(drifted, change=dict(drifted["change"], actions=["update"]))]
    assert run_doc(plan).code == drift.EXIT_DRIFT


def test_sensitive_values_are_masked(run, load, find):
    plan = load("sensitive_drift.json")
    secret_before = find(plan, "resource_drift", SVC)["change"]["before"]
    secret = secret_before["template"][0]["containers"][0]["env"][3]["value"]
    result = run("sensitive_drift.json")
    assert "`template[0].containers[0].env[3].value` changed out of band" in result.out
    assert "`(sensitive)` → `(sensitive)`" in result.out
    assert secret not in result.out
    assert "oldsecret123" not in result.out
    assert "newsecret456" not in result.out


def test_value_marked_sensitive_on_one_side_only_is_masked(run_doc, load, find):
    plan = load("sensitive_drift.json")
    change = find(plan, "resource_drift", SVC)["change"]
    change["before_sensitive"] = {}
    result = run_doc(plan)
    assert "newsecret456" not in result.out
    assert "oldsecret123" not in result.out


def test_whole_sensitive_block_is_reported_once_without_its_shape(run_doc, load, find):
    plan = load("sensitive_drift.json")
    change = find(plan, "resource_drift", SVC)["change"]
    change["before_sensitive"] = change["after_sensitive"] = {"template": True}
    result = run_doc(plan)
    assert "| `template` changed out of band | `(sensitive)` → `(sensitive)` |" in result.out
    assert "env" not in section(result.out, "Drift")


def test_unknown_resource_type_is_drift_with_a_note_and_nothing_is_muted(run):
    result = run("unknown_type.json")
    rows = section(result.out, "Drift")
    assert "`state` changed out of band (unknown resource type)" in rows
    assert '`"RUNNING"` → `"PAUSED"`' in rows
    assert "`rate_limits[0].max_dispatches_per_second`" in rows
    assert "| noise (muted) | 0 |" in result.out


def test_unknown_resource_type_deleted_out_of_band_is_drift_with_a_note(run_doc, load):
    plan = load("unknown_type.json")
    plan["resource_drift"][0]["change"]["actions"] = ["delete"]
    plan["resource_drift"][0]["change"]["after"] = None
    result = run_doc(plan)
    assert result.code == drift.EXIT_DRIFT
    assert "deleted out of band (unknown resource type)" in result.out


def test_markdown_cells_escape_pipes(run_doc, load, find):
    plan = load("env_var_drift.json")
    env = find(plan, "resource_drift", SVC)["change"]["after"]["template"][0]["containers"][0]
    env["env"][2]["value"] = "INFO|DEBUG"
    result = run_doc(plan)
    assert '`"INFO\\|DEBUG"`' in result.out
    for line in section(result.out, "Drift").splitlines():
        if line.startswith("| `"):
            assert line.replace("\\|", "").count("|") == 5, line


# --- noise ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("update_time", "2026-11-22T00:00:00Z"),
        ("etag", '"other"'),
        ("uid", "0f0f"),
        ("generation", "99"),
        ("observed_generation", "99"),
        ("latest_ready_revision", "rev-00099"),
        ("latest_created_revision", "rev-00099"),
        ("conditions", [{"state": "CONDITION_FAILED", "type": "RoutesReady"}]),
        ("terminal_condition", [{"state": "CONDITION_FAILED", "type": "Ready"}]),
        ("reconciling", True),
        ("uri", "https://nba-phase3-analytics-processors-other.a.run.app"),
        ("creator", "someone@example.org"),
        ("traffic_statuses", [{"percent": 100, "type": "TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST"}]),
    ],
)
def test_provider_computed_attributes_are_muted(run_doc, load, find, attribute, value):
    plan = load("refresh_clean.json")
    service = plan["prior_state"]["values"]["root_module"]["resources"][0]
    before = service["values"]
    plan["resource_drift"] = [
        {
            "address": SVC,
            "mode": "managed",
            "type": "google_cloud_run_v2_service",
            "name": "phase3_analytics__service",
            "change": {
                "actions": ["update"],
                "before": before,
                "after": dict(before, **{attribute: value}),
            },
        }
    ]
    result = run_doc(plan)
    assert result.code == drift.EXIT_CLEAN, result.out
    assert f"`{attribute}`" in section(result.out, "Muted noise")


ALERT = "google_monitoring_alert_policy.pipeline_stall__alert"
ALERT_BEFORE = {
    "name": "projects/nba-props-platform/alertPolicies/1234567890",
    "display_name": "Pipeline stalled", "combiner": "OR", "enabled": True,
    "creation_record": [{"mutate_time": "2026-10-01T00:00:00Z", "mutated_by": "terraform"}],
    "conditions": [{
        "name": "projects/nba-props-platform/alertPolicies/1234567890/conditions/987",
        "display_name": "canary reports a stall",
        "condition_matched_log": [{
            "filter": 'resource.type="cloud_run_revision" AND jsonPayload.event="stall"',
            "label_extractors": {}}],
        "condition_threshold": [],
    }],
}
GCF_SOURCE = ("build_config", 0, "source", 0, "storage_source", 0, "generation")
GCF_BEFORE = {
    "name": "phase3-to-phase4-orchestrator", "state": "ACTIVE",
    "build_config": [{
        "build": "projects/756957797294/locations/us-west2/builds/1111", "runtime": "python312",
        "source": [{"storage_source": [{
            "bucket": "nba-props-platform-functions", "object": "orchestrator-4f1c2ab.zip",
            "generation": 1763600000000000}]}],
    }],
}
OBJECT = "google_storage_bucket_object.phase3_to_phase4_orchestrator__source"
OBJECT_BEFORE = {
    "bucket": "nba-props-platform-functions", "name": "orchestrator-4f1c2ab.zip",
    "generation": 1763600000000000, "md5hash": "k1P3rPMjXQ4qHk9fGmHk1w==",
    "self_link": "https://www.googleapis.com/storage/v1/b/nba-props-platform-functions/o/x",
}


def drift_of(run_doc, load, address: str, before: dict[str, Any], path: tuple[str | int, ...],
             value: Any) -> Run:
    """Run the review on a refresh-only plan where only `path` of `address` changed."""
    plan = load("refresh_clean.json")
    plan["resource_drift"] = [_drift_entry(address, before, _with(before, path, value))]
    return run_doc(plan)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        # Someone edits the alert's log filter in the console: Cloud Run's computed
        # `conditions` (any depth, by name) used to hide this.
        (("conditions", 0, "condition_matched_log", 0, "filter"),
         'resource.type="cloud_run_revision" AND jsonPayload.event="never"'),
        (("conditions", 0, "display_name"), "renamed in the console"),
        (("conditions", 0, "condition_threshold"), [{"threshold_value": 5, "duration": "60s"}]),
    ],
)
def test_alert_policy_condition_edited_in_the_console_is_drift(run_doc, load, path, value):
    result = drift_of(run_doc, load, ALERT, ALERT_BEFORE, path, value)
    assert result.code == drift.EXIT_DRIFT, result.out
    assert f"`{format_path(path)}" in section(result.out, "Drift")
    assert "| noise (muted) | 0 |" in result.out


def test_alert_policy_server_assigned_condition_name_is_muted(run_doc, load):
    path = ("conditions", 0, "name")
    result = drift_of(run_doc, load, ALERT, ALERT_BEFORE, path, "projects/p/alertPolicies/1/conditions/2")
    assert result.code == drift.EXIT_CLEAN, result.out
    assert "| provider-computed attribute | 1 | `conditions[0].name` |" in result.out


def test_function_source_generation_edited_out_of_band_is_drift(run_doc, load):
    # Optional+Computed (magic-modules default_from_api): the generation a deploy pins. Cloud
    # Run's output-only `generation` (any depth, by name) used to hide this.
    result = drift_of(run_doc, load, FUNCTION, GCF_BEFORE, GCF_SOURCE, 1763700000000000)
    assert result.code == drift.EXIT_DRIFT, result.out
    assert ("`build_config[0].source[0].storage_source[0].generation` changed out of band | "
            "`1763600000000000` → `1763700000000000`") in section(result.out, "Drift")


@pytest.mark.parametrize("path", [("generation",), ("md5hash",)])
def test_a_bare_generation_on_another_type_is_not_muted_by_cloud_runs_row(run_doc, load, path):
    # The object's content was rewritten out of band: its generation and hash are the trace.
    result = drift_of(run_doc, load, OBJECT, OBJECT_BEFORE, path, "changed")
    assert result.code == drift.EXIT_DRIFT, result.out
    assert f"`{path[0]}` changed out of band" in section(result.out, "Drift")


def test_any_type_etag_is_muted_at_the_top_level_only(run_doc, load):
    before = {"name": "nba-phase3-analytics-complete", "etag": "a",
              "message_storage_policy": [{"allowed_persistence_regions": ["us-west2"]}]}
    top = drift_of(run_doc, load, "google_pubsub_topic.t__topic", before, ("etag",), "b")
    assert top.code == drift.EXIT_CLEAN, top.out
    deep = drift_of(run_doc, load, "google_pubsub_topic.t__topic", before,
                    ("message_storage_policy", 0, "etag"), "b")
    assert deep.code == drift.EXIT_DRIFT, deep.out
    assert "`message_storage_policy[0].etag` changed out of band" in deep.out


def _nested(path: tuple[str | int, ...], leaf: Any) -> dict[str, Any]:
    """The smallest resource value holding `leaf` at `path`."""
    value: Any = leaf
    for step in reversed(path):
        value = [value] if isinstance(step, int) else {step: value}
    return value


COMPUTED_CASES = [
    (rtype, text)
    for rtype, paths in sorted(computed.COMPUTED_PATHS.items())
    for text in paths
]


def _concrete(text: str) -> tuple[str | int, ...]:
    """`conditions[].name` -> ("conditions", 0, "name")."""
    return tuple(0 if step is None else step for step in drift_classify.parse_computed_path(text))


@pytest.mark.parametrize(("rtype", "text"), COMPUTED_CASES,
                         ids=[f"{rtype}:{text}" for rtype, text in COMPUTED_CASES])
def test_every_computed_path_is_muted_on_its_type_and_its_name_is_not_muted_deeper(
        run_doc, load, rtype, text):
    path = _concrete(text)
    address = f"{rtype}.x__y"
    muted = drift_of(run_doc, load, address, _nested(path, "old"), path, "new")
    assert muted.code == drift.EXIT_CLEAN, muted.out
    assert f"| 1 | `{format_path(path)}` |" in section(muted.out, "Muted noise")
    # The same name under a block the user declares is a user's setting (the old rule, one
    # list of names matched at any depth, muted it).
    declared = ("declared_block", 0, path[-1])
    shown = drift_of(run_doc, load, address, _nested(declared, "old"), declared, "new")
    assert shown.code == drift.EXIT_DRIFT, shown.out
    assert f"`{format_path(declared)}` changed out of band" in shown.out


def test_a_computed_path_of_one_type_is_not_muted_on_another(run_doc, load):
    # Cloud Run's `conditions` and `generation` rows do not apply to an alert policy or a topic.
    for address, path in [(ALERT, ("conditions", 0, "display_name")),
                          ("google_pubsub_topic.t__topic", ("generation",))]:
        result = drift_of(run_doc, load, address, _nested(path, "old"), path, "new")
        assert result.code == drift.EXIT_DRIFT, (address, result.out)


def _blocks(steps: tuple[str, ...]) -> tuple[str | int, ...]:
    """(push_config, push_endpoint) -> (push_config, 0, push_endpoint): blocks are lists."""
    return tuple(x for step in steps[:-1] for x in (step, 0)) + steps[-1:]


def test_no_computed_path_hides_a_critical_or_release_attribute():
    # Computed changes are muted before any other rule looks at them.
    watched = [(rtype, path) for rtype, paths in drift_classify.DELIVERY_CRITICAL_PATHS.items()
               for path in paths]
    watched += list(drift_classify.DEPLOYED_IMAGE_PATHS.items())
    watched += [(rtype, path) for rtype, paths in drift_classify.RELEASE_CLIENT_PATHS.items()
                for path in paths]
    assert watched
    for rtype, path in watched:
        assert drift_classify.computed_prefix(rtype, _blocks(path)) is None, (rtype, path)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_synthesized_type_has_a_computed_paths_entry(stacks, env):
    # A new type forces a decision: list its output-only paths (or none) with their source.
    declared = set(stacks[env].data["resource"])
    assert declared, env
    assert sorted(declared - set(computed.COMPUTED_PATHS)) == []
    assert sorted(declared - drift_classify.KNOWN_TYPES) == []


def test_computed_paths_cover_exactly_the_known_types():
    # A known type without an entry would have nothing muted; an entry for an unknown type
    # would never be read (unknown types mute nothing).
    assert set(computed.COMPUTED_PATHS) == drift_classify.KNOWN_TYPES


def test_computed_paths_are_well_formed():
    for rtype, paths in computed.COMPUTED_PATHS.items():
        assert isinstance(paths, tuple), rtype
        assert len(set(paths)) == len(paths), rtype
        for text in paths:
            assert drift_classify.parse_computed_path(text)[0] is not None, (rtype, text)
    assert all(drift_classify.parse_computed_path(name) == (name,) for name in computed.ANY_TYPE)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("etag", ("etag",)), ("conditions[].name", ("conditions", None, "name")),
     ("a[].b[].c", ("a", None, "b", None, "c")), ("m[][]", ("m", None, None))],
)
def test_computed_path_syntax(text, parsed):
    assert drift_classify.parse_computed_path(text) == parsed


@pytest.mark.parametrize("text", ["", "a..b", "a[0].b", ".a", "a.", "Etag", "a[]b", 'a["k"]'])
def test_malformed_computed_path_is_rejected(text):
    with pytest.raises(ValueError, match="cannot parse computed path"):
        drift_classify.parse_computed_path(text)


@pytest.mark.parametrize(
    ("rtype", "path", "expected"),
    [
        ("google_cloud_run_v2_service", ("terminal_condition", 0, "state"), ("terminal_condition",)),
        ("google_cloud_run_v2_service", ("template", 0, "containers", 1, "build_info", 0, "x"),
         ("template", 0, "containers", 1, "build_info")),
        ("google_cloud_run_v2_service", ("template", 0, "containers", 1, "image"), None),
        # A map key is not a list index: `[]` matches only the latter.
        ("google_cloud_run_v2_service", ("template", "0", "containers", 0, "build_info"), None),
        ("google_monitoring_alert_policy", ("conditions", 0, "name"), ("conditions", 0, "name")),
        ("google_monitoring_alert_policy", ("conditions",), None),
        ("google_monitoring_alert_policy", ("etag",), ("etag",)),
        ("google_cloud_tasks_queue_iam_member", ("etag",), ("etag",)),
        ("google_cloud_tasks_queue_iam_member", ("condition", 0, "etag"), None),
    ],
)
def test_computed_prefix(rtype, path, expected):
    assert drift_classify.computed_prefix(rtype, path) == expected


def test_output_only_changes_are_muted_and_no_op_outputs_are_not_counted(run):
    result = run("output_only.json")
    assert "| output-only change | 1 | `phase3_service_latest_revision` |" in result.out
    assert "phase3_service_uri" not in result.out
    assert "**Verdict: no drift** - 1 muted change(s)." in result.out


# --- ignore file ---------------------------------------------------------------------------


def test_unexpired_ignore_entries_mute_with_their_reason(run, fixtures_dir):
    result = run("ignored_attribute.json", ignore=fixtures_dir / "ignore_client_unexpired.json")
    assert result.code == drift.EXIT_CLEAN, result.out
    assert "| ignore file: gcloud run deploy in the rollback runbook" in result.out
    assert "`client`, `client_version`" in result.out


def test_expired_ignore_entries_are_findings_and_stop_muting(run, fixtures_dir):
    result = run("ignored_attribute.json", ignore=fixtures_dir / "ignore_client_expired.json")
    assert result.code == drift.EXIT_DRIFT
    rows = section(result.out, "Drift")
    assert "ignore entry for `client` expired on 2026-10-31" in rows
    assert '`client` changed out of band | `(absent)` → `"gcloud"`' in rows
    assert "ignore file:" not in result.out


def test_ignore_file_never_mutes_a_critical_change(run, write_json):
    ignore = write_json(
        {
            "ignore": [
                {
                    "address": "google_pubsub_subscription.*",
                    "attribute": "push_config",
                    "reason": "someone thought this was noise",
                    "expires": "2027-01-31",
                }
            ]
        },
        "ignore-push.json",
    )
    result = run("push_endpoint_changed.json", ignore=ignore)
    assert result.code == drift.EXIT_CRITICAL
    assert "ignore file:" not in result.out


def test_ignore_file_mutes_non_critical_attributes_of_the_same_resource(
    run_doc, load, find, write_json
):
    plan = load("push_endpoint_changed.json")
    change = find(plan, "resource_drift", SUB)["change"]
    change["after"]["ack_deadline_seconds"] = 60
    ignore = write_json(
        {
            "ignore": [
                {
                    "address": SUB,
                    "attribute": "ack_deadline_seconds",
                    "reason": "tuning experiment, see incident 12",
                    "expires": "2027-01-31",
                }
            ]
        },
        "ignore-ack.json",
    )
    result = run_doc(plan, ignore=ignore)
    assert "| critical | 1 |\n| drift | 0 |\n| noise (muted) | 1 |" in result.out
    assert "| ignore file: tuning experiment, see incident 12 | 1 | `ack_deadline_seconds` |" in (
        result.out
    )


def test_expired_ignore_entry_is_a_finding_even_when_nothing_drifts(run, fixtures_dir):
    result = run("refresh_clean.json", ignore=fixtures_dir / "ignore_client_expired.json")
    assert result.code == drift.EXIT_DRIFT
    assert "renew it or fix the drift" in result.out


@pytest.mark.parametrize(
    ("today", "expected"),
    [("2027-01-31", drift.EXIT_CLEAN), ("2027-02-01", drift.EXIT_DRIFT)],
)
def test_ignore_entry_is_valid_through_its_expiry_day(run, fixtures_dir, today, expected):
    ignore = fixtures_dir / "ignore_client_unexpired.json"
    assert run("ignored_attribute.json", ignore=ignore, today=today).code == expected


@pytest.mark.parametrize(
    ("glob", "attribute", "address", "path", "expected"),
    [
        ("google_cloud_run_v2_service.*", "client", SVC, "client", True),
        ("google_cloud_run_v2_service.*", "client", SVC, "client_version", False),
        (
            "google_cloud_run_v2_service.phase3_*",
            "template.containers.env",
            SVC,
            "template[0].containers[0].env[2].value",
            True,
        ),
        (
            "google_cloud_run_v2_service.*",
            "template[0].containers[0].env[1]",
            SVC,
            "template[0].containers[0].env[2].value",
            False,
        ),
        (
            "google_cloud_run_v2_service.*",
            "template[0].labels",
            SVC,
            'template[0].labels["run.googleapis.com/x"]',
            True,
        ),
        ("google_pubsub_subscription.*", "labels", SVC, "labels", False),
        ('google_pubsub_topic.t["a"]', "labels", 'google_pubsub_topic.t["a"]', "labels", True),
        ('google_pubsub_topic.t["a"]', "labels", "google_pubsub_topic.ta", "labels", False),
    ],
)
def test_ignore_entry_matching(glob, attribute, address, path, expected):
    entry = drift_ignore.IgnoreEntry(glob, parse_path(attribute), "because", date(2027, 1, 1))
    assert entry.matches(address, parse_path(path)) is expected


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("ignore_missing_reason.json", "ignore[0]: missing 'reason'"),
        ("ignore_missing_expires.json", "ignore[1]: missing 'expires'"),
    ],
)
def test_ignore_entry_without_reason_or_expiry_is_unreadable(run, fixtures_dir, fixture, message):
    result = run("env_var_drift.json", ignore=fixtures_dir / fixture)
    assert result.code == drift.EXIT_UNREADABLE
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"drift: {fixtures_dir / fixture}: {message}")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], 'expected an object with an "ignore" list'),
        ({"ignore": {}}, 'expected an object with an "ignore" list'),
        ({"ignore": ["x"]}, "ignore[0] is not an object"),
        (
            {"ignore": [{"address": "a", "attribute": "b", "reason": "c", "expires": "soon"}]},
            "ignore[0]: expires 'soon' is not a YYYY-MM-DD date",
        ),
        (
            {
                "ignore": [
                    {"address": "a", "attribute": "b", "reason": " ", "expires": "2027-01-01"}
                ]
            },
            "ignore[0]: missing 'reason'",
        ),
        (
            {
                "ignore": [
                    {"address": "a", "attribute": "b..c", "reason": "r", "expires": "2027-01-01"}
                ]
            },
            "ignore[0]: cannot parse attribute path 'b..c'",
        ),
    ],
)
def test_malformed_ignore_file_is_unreadable(run, write_json, document, message):
    path = write_json(document, "bad-ignore.json")
    result = run("refresh_clean.json", ignore=path)
    assert result.code == drift.EXIT_UNREADABLE
    assert result.err.startswith(f"drift: {path}: {message}")


def test_missing_ignore_file_is_unreadable(run, tmp_path):
    result = run("refresh_clean.json", ignore=tmp_path / "nope.json")
    assert result.code == drift.EXIT_UNREADABLE
    assert result.err == f"drift: {tmp_path / 'nope.json'}: file not found\n"


def test_checked_in_ignore_file_is_valid():
    entries = drift_ignore.load_ignore_file(drift_ignore.DEFAULT_IGNORE_FILE)
    assert all(entry.reason and entry.expires for entry in entries)


# --- unreadable input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("malformed_not_json.json", "not JSON (line 4 column 1"),
        ("malformed_top_level_list.json", "not a plan JSON: top level is a list"),
        ("malformed_state_not_plan.json", "(this looks like state output)"),
        ("malformed_format_v2.json", "unsupported format_version 2.0 (this tool reads 1.x)"),
        ("malformed_missing_actions.json", "resource_changes[0] (" + SUB + "): change.actions"),
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
        (lambda p: p.update(format_version="1"), "unsupported format_version '1'"),
        (lambda p: p.update(format_version=1.2), "format_version is a number (1.2), expected a string"),
        (lambda p: p.update(resource_drift={}), "resource_drift is an object, expected a list"),
        (
            lambda p: p["resource_drift"][0].pop("type"),
            "resource_drift[0]: missing or empty 'type'",
        ),
        (lambda p: p["resource_drift"][0].pop("change"), "missing 'change' object"),
        (lambda p: p.update(output_changes=[]), "output_changes is a list, expected object"),
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
