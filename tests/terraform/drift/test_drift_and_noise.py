"""Drift review: plain drift, secrets masked, and the noise it mutes (provider-computed and
output-only changes)."""

from typing import Any

import pytest

from infra.model.provider import computed
from infra.terraform import drift, drift_rules
from infra.terraform.plan_json import format_path
from tests.terraform.drift.support import (
    blocks,
    drift_entry,
    section,
    with_value,
)
from tests.terraform.support import FUNCTION, SVC, Run

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
    plan["resource_drift"] = [drift_entry(address, before, with_value(before, path, value))]
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
    return tuple(0 if step is None else step for step in drift_rules.parse_computed_path(text))


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


def test_no_computed_path_hides_a_critical_or_release_attribute():
    # Computed changes are muted before any other rule looks at them.
    watched = [(rtype, path) for rtype, paths in drift_rules.DELIVERY_CRITICAL_PATHS.items()
               for path in paths]
    watched += list(drift_rules.DEPLOYED_IMAGE_PATHS.items())
    watched += [(rtype, path) for rtype, paths in drift_rules.RELEASE_CLIENT_PATHS.items()
                for path in paths]
    assert watched
    for rtype, path in watched:
        assert drift_rules.computed_prefix(rtype, blocks(path)) is None, (rtype, path)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_synthesized_type_has_a_computed_paths_entry(stacks, env):
    # A new type forces a decision: list its output-only paths (or none) with their source.
    declared = set(stacks[env].data["resource"])
    assert declared, env
    assert sorted(declared - set(computed.COMPUTED_PATHS)) == []
    assert sorted(declared - drift_rules.KNOWN_TYPES) == []


def test_computed_paths_cover_exactly_the_known_types():
    # A known type without an entry would have nothing muted; an entry for an unknown type
    # would never be read (unknown types mute nothing).
    assert set(computed.COMPUTED_PATHS) == drift_rules.KNOWN_TYPES


def test_computed_paths_are_well_formed():
    for rtype, paths in computed.COMPUTED_PATHS.items():
        assert isinstance(paths, tuple), rtype
        assert len(set(paths)) == len(paths), rtype
        for text in paths:
            assert drift_rules.parse_computed_path(text)[0] is not None, (rtype, text)
    assert all(drift_rules.parse_computed_path(name) == (name,) for name in computed.ANY_TYPE)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [("etag", ("etag",)), ("conditions[].name", ("conditions", None, "name")),
     ("a[].b[].c", ("a", None, "b", None, "c")), ("m[][]", ("m", None, None))],
)
def test_computed_path_syntax(text, parsed):
    assert drift_rules.parse_computed_path(text) == parsed


@pytest.mark.parametrize("text", ["", "a..b", "a[0].b", ".a", "a.", "Etag", "a[]b", 'a["k"]'])
def test_malformed_computed_path_is_rejected(text):
    with pytest.raises(ValueError, match="cannot parse computed path"):
        drift_rules.parse_computed_path(text)


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
    assert drift_rules.computed_prefix(rtype, path) == expected


def test_output_only_changes_are_muted_and_no_op_outputs_are_not_counted(run):
    result = run("output_only.json")
    assert "| output-only change | 1 | `phase3_service_latest_revision` |" in result.out
    assert "phase3_service_uri" not in result.out
    assert "**Verdict: no drift** - 1 muted change(s)." in result.out
