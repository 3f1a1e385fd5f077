"""Drift review, critical: a gate's configuration (its environment) changed out of band."""

import json
from typing import Any

import pytest

from infra.terraform import drift, drift_gates, drift_rules
from tests.terraform.drift.support import (
    blocks,
    drift_entry,
    section,
    with_value,
)
from tests.terraform.support import FUNCTION

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
    plan["resource_drift"] = [drift_entry(
        CANARY, block, with_value(block, ("service_config", 0, "environment_variables"), after_env))]
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
            path = (*blocks(env), variable)  # service_config[0].environment_variables.X
            assert drift_rules.computed_prefix(rtype, path) is None, (rtype, variable)
