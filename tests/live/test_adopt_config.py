"""Adoption compares configuration, not only names: a recorded inventory whose entries hold
each resource as its mirrored REST API returns it (``configured.inventory.json``: values other
than the seeds' — 900 s timeouts, 100 instances, PITR on, a NEARLINE bucket with lifecycle
rules, a table without the stack's columns) is adopted keeping every live setting the manifest
does not own, announcing every intended change with both values, and blocking on anything
that would replace a live resource."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from infra.live.adopt import main
from infra.live.adopt_config import MANIFEST_OWNED, merged_schema, owned
from infra.live.adopt_inputs import parse_inventory
from infra.live.adopt_report import Adoption, plan_adoption
from infra.model.envs import get_env
from infra.model.pipeline import load
from infra.model.provider.attributes import normalize_path
from infra.paths import stack_file
from infra.stackjson.stack import StackJson

REC = Path(__file__).parent / "recorded" / "adoption"
PROD = get_env("prod")
P = PROD.project_id
CONFIGURED = json.loads((REC / "configured.inventory.json").read_text())

SVC3 = "google_cloud_run_v2_service.phase3_analytics_processors__service"
WORKER = "google_cloud_run_v2_service.prediction_worker__service"
ORCH = "google_cloudfunctions2_function.phase3_to_phase4_orchestrator__function"
SUB3 = "google_pubsub_subscription.phase3_analytics_sub__subscription"
JOB = "google_cloud_scheduler_job.same_day_phase3_job__job"
TABLE = "google_bigquery_table.dataset_orchestration__table_phase_completions"
RAW = "google_bigquery_dataset.dataset_raw__dataset"
DB = "google_firestore_database.firestore__database"
BUCKET = "google_storage_bucket.bucket_raw__bucket"
TOPIC = "google_pubsub_topic.phase2_raw_complete__topic"


def adopt(prod: StackJson, inventory: list[dict[str, Any]] | None = None) -> Adoption:
    lives = parse_inventory(inventory if inventory is not None else CONFIGURED,
                            REC / "configured.inventory.json", P)
    return plan_adoption(prod, load(), PROD, lives, [])


def entry(inventory: list[dict[str, Any]], suffix: str) -> dict[str, Any]:
    """The mirrored REST representation of the inventory entry named ``...suffix``."""
    (found,) = [e for e in inventory if e["name"].endswith(suffix)]
    return found["versionedResources"][-1]["resource"]


def kept(a: Adoption) -> dict[tuple[str, str], Any]:
    return {(k.address, k.attribute): k.value for k in a.kept}


def changes(a: Adoption) -> dict[tuple[str, str], tuple[Any, Any]]:
    return {(c.address, c.attribute): (c.live, c.stack) for c in a.changes}


@pytest.fixture(scope="module")
def configured(prod: StackJson) -> Adoption:
    return adopt(prod)


def test_live_settings_nobody_decided_are_kept(configured: Adoption) -> None:
    k = kept(configured)
    assert k[(SVC3, "template.timeout")] == "900s"
    assert k[(SVC3, "template.scaling.max_instance_count")] == 100
    assert k[(SVC3, "template.execution_environment")] == "EXECUTION_ENVIRONMENT_GEN2"
    assert k[(DB, "point_in_time_recovery_enablement")] == "POINT_IN_TIME_RECOVERY_ENABLED"
    assert k[(RAW, "default_table_expiration_ms")] == 7776000000
    assert k[(RAW, "default_partition_expiration_ms")] == 15552000000
    assert k[(BUCKET, "storage_class")] == "NEARLINE"
    assert k[(BUCKET, "lifecycle_rule")] == [
        {"action": {"type": "SetStorageClass", "storage_class": "COLDLINE"},
         "condition": {"age": 90}},
        {"action": {"type": "Delete"}, "condition": {"age": 730}}]
    assert k[(TOPIC, "message_retention_duration")] == "86400s"
    # Maps merge: the stack's label stays, the live one is kept beside it.
    assert k[(TOPIC, "labels")] == {"pipeline": "nba", "owner": "data-eng"}
    assert k[(JOB, "retry_config.retry_count")] == 3
    assert k[(ORCH, "service_config.max_instance_count")] == 100
    # Equal values are never listed (the worker's 50 instances and 540 s are the stack's too).
    assert (WORKER, "template.scaling.max_instance_count") not in k
    assert (WORKER, "template.timeout") not in k


def test_a_services_live_only_variables_are_kept_and_declared_ones_announced(
        configured: Adoption) -> None:
    env = kept(configured)[(SVC3, "template.containers.0.env")]
    names = [e["name"] for e in env]
    assert {"GCP_PROJECT_ID", "BQ_LOCATION", "STACK_ENV"} <= set(names)
    assert "ODDS_API_KEY" not in names, "a masked value is never written back"
    announced = [c for c in configured.changes
                 if (c.address, c.attribute) == (SVC3, "template.containers.0.env")]
    assert any(c.live == {"ODDS_API_KEY": "<masked>"} and "Secret Manager" in str(c.stack)
               for c in announced)


def test_intended_changes_are_listed_with_both_values(configured: Adoption) -> None:
    ch = changes(configured)
    default = "756957797294-compute@developer.gserviceaccount.com"
    assert ch[(SVC3, "template.service_account")] == (
        default, f"nba-run-p3-analytics@{P}.iam.gserviceaccount.com")
    assert ch[(SUB3, "push_config.oidc_token.service_account_email")] == (
        default, f"nba-push-phase2-to-phase3@{P}.iam.gserviceaccount.com")
    assert ch[(ORCH, "event_trigger.service_account_email")][0] == default
    assert ch[(ORCH, "service_config.ingress_settings")] == ("ALLOW_ALL", "ALLOW_INTERNAL_ONLY")
    assert ch[(DB, "delete_protection_state")] == (
        "DELETE_PROTECTION_DISABLED", "DELETE_PROTECTION_ENABLED")
    assert ch[(BUCKET, "public_access_prevention")] == ("inherited", "enforced")
    assert ch[(SUB3, "dead_letter_policy.max_delivery_attempts")] == (None, 5)


def test_owned_attributes_are_never_kept_and_kept_ones_never_owned(configured: Adoption) -> None:
    for k in configured.kept:
        rtype = k.address.split(".")[0]
        # Maps and the env list merge: live entries nobody declares are kept beside owned ones.
        if not isinstance(k.value, dict) and k.attribute not in (
                "template.containers.0.env", "schema"):
            assert not owned(rtype, normalize_path(k.attribute)), k
    assert set(MANIFEST_OWNED) <= {
        "google_cloud_run_v2_service", "google_cloudfunctions2_function",
        "google_pubsub_subscription", "google_cloud_scheduler_job",
        "google_monitoring_alert_policy", "google_monitoring_notification_channel",
        "google_storage_bucket", "google_firestore_database", "google_bigquery_dataset",
        "google_bigquery_table"}


def test_the_table_schema_is_taken_from_live_and_new_columns_are_nullable(
        configured: Adoption) -> None:
    schema = json.loads(kept(configured)[(TABLE, "schema")])
    by_name = {f["name"]: f for f in schema}
    # Live columns as they are (REQUIRED stays, legacy type names stay, extra ones stay).
    assert by_name["game_date"]["mode"] == "REQUIRED"
    assert by_name["is_triggered"]["type"] == "BOOLEAN"
    assert "metadata" in by_name
    # The stack's columns live lacks are added, never REQUIRED.
    assert by_name["event"]["mode"] == by_name["recorded_at"]["mode"] == "NULLABLE"
    assert [f["name"] for f in schema][:8] == [
        f["name"] for f in entry(CONFIGURED, "/tables/phase_completions")["schema"]["fields"]]
    assert "adds NULLABLE columns" in changes(configured)[(TABLE, "schema")][1]


def test_merged_schema_never_drops_or_tightens() -> None:
    declared = [{"name": "a", "type": "STRING", "mode": "REQUIRED"},
                {"name": "b", "type": "INT64", "mode": "REQUIRED"},
                {"name": "tags", "type": "STRING", "mode": "REPEATED"}]
    live = [{"name": "A", "type": "STRING", "mode": "NULLABLE"},
            {"name": "old", "type": "STRING"}]
    merged, added = merged_schema(declared, live)
    assert merged == [{"name": "A", "type": "STRING", "mode": "NULLABLE"},
                      {"name": "old", "type": "STRING"},
                      {"name": "b", "type": "INT64", "mode": "NULLABLE"},
                      {"name": "tags", "type": "STRING", "mode": "REPEATED"}]
    assert added == ["b", "tags"]


def test_a_record_carries_kept_values_changes_and_live_services(
        synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "configured.inventory.json"
    inv.write_text(json.dumps(CONFIGURED))
    code = main(["--env", "prod", "--inventory", str(inv), "--stack",
                 str(stack_file("prod", synth_dir)), "--adoption-dir", str(tmp_path)])
    report = capsys.readouterr().out
    assert code == 2
    record = json.loads((tmp_path / "prod.json").read_text())
    assert record["version"] == 2
    assert record["services"] == {ORCH: "phase3-to-phase4-orchestrator"}
    assert {"address": DB, "attribute": "point_in_time_recovery_enablement",
            "value": "POINT_IN_TIME_RECOVERY_ENABLED"} in record["kept"]
    assert "<masked>" not in json.dumps(record["kept"])
    assert "## Kept from live" in report and "## What the first apply changes" in report


# --- the first apply resets nothing: adopt, synthesize with the record, compare again ------


@pytest.fixture(scope="module")
def adopted(configured: Adoption, tmp_path_factory: pytest.TempPathFactory) -> StackJson:
    """The prod stack synthesized with the configured inventory's adoption record."""
    from infra.model.adoption import render_record
    from infra.synth.app import synthesize

    folder = tmp_path_factory.mktemp("adoption")
    (folder / "prod.json").write_text(render_record(
        "prod", P, configured.imports, configured.kept, configured.changes,
        dict(configured.services)))
    out = tmp_path_factory.mktemp("adopted.out")
    paths = synthesize(load(), ["prod"], outdir=out, bundle_dir=out / "bundles",
                       adoption_dir=folder)
    return StackJson.load(next(iter(paths.values())))


def test_after_adoption_nothing_is_reset_or_replaced(adopted: StackJson) -> None:
    again = adopt(adopted)
    assert again.blocked == ()
    assert again.kept == (), "every live setting is declared by the stack now"
    assert again.changes, "the intended changes remain"
    assert all(owned(c.address.split(".")[0], normalize_path(c.attribute))
               or c.attribute in ("template.containers.0.env",)
               or c.stack is not None for c in again.changes)


def test_after_adoption_derived_values_follow_the_kept_ones(adopted: StackJson) -> None:
    svc = adopted.resources[SVC3].body
    assert svc["template"]["timeout"] == "900s"
    # The scheduler's deadline is derived from its target's timeout: 900 s + 30 s.
    assert adopted.resources[JOB].body["attempt_deadline"] == "930s"
    invoker = adopted.resources["google_cloud_run_v2_service_iam_member."
                                "phase3_to_phase4_orchestrator__invoker_"
                                "phase3_to_phase4_orchestrator_trigger_identity"].body
    assert invoker["name"] == "phase3-to-phase4-orchestrator"
    fn = adopted.resources[ORCH].body
    wait = "time_sleep.phase3_to_phase4_orchestrator__trigger_identity_grants_propagated"
    assert wait in fn["depends_on"]
    assert "google_cloud_run_v2_service_iam_member." \
        "phase3_to_phase4_orchestrator__invoker_phase3_to_phase4_orchestrator_trigger_identity" \
        in adopted.resources[wait].body["depends_on"]


def test_the_adopted_stack_passes_the_policy_gate(adopted: StackJson) -> None:
    from iam.policy import check_stack

    violations = check_stack(adopted, "prod")
    assert list(violations) == [], violations


# --- other inventories: what would replace a live resource blocks -------------------------


def _mutate(edit: Callable[[list[dict[str, Any]]], None]) -> list[dict[str, Any]]:
    inv = copy.deepcopy(CONFIGURED)
    edit(inv)
    return inv


BLOCKING: dict[str, tuple[Callable[[list[dict[str, Any]]], None], str, str]] = {
    "table partitioned on another column": (
        lambda inv: entry(inv, "/tables/phase_completions")["timePartitioning"].update(
            field="recorded_at"), TABLE, "time_partitioning.field"),
    "firestore with a CMEK key": (
        lambda inv: entry(inv, "/databases/(default)").update(
            cmekConfig={"kmsKeyName": "projects/p/locations/us-west2/keyRings/r/cryptoKeys/k"}),
        DB, "cmek_config"),
    "subscription with a filter": (
        lambda inv: entry(inv, "/subscriptions/nba-phase3-analytics-sub").update(
            filter='attributes.kind = "x"'), SUB3, "filter"),
    "bucket with object retention": (
        lambda inv: entry(inv, "-nba-raw").update(objectRetention={"mode": "Enabled"}),
        BUCKET, "enable_object_retention"),
}


@pytest.mark.parametrize("case", sorted(BLOCKING))
def test_what_would_replace_a_live_resource_blocks(prod: StackJson, case: str) -> None:
    edit, address, attribute = BLOCKING[case]
    a = adopt(prod, _mutate(edit))
    assert a.exit_code == 3
    assert [(b.declared.address, b.attribute) for b in a.blocked] == [(address, attribute)]
    (b,) = a.blocked
    assert b.live_value not in ("null", "") and b.source


def test_blocked_adoption_writes_nothing(synth_dir: Path, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    inv = tmp_path / "blocked.inventory.json"
    inv.write_text(json.dumps(_mutate(BLOCKING["table partitioned on another column"][0])))
    code = main(["--env", "prod", "--inventory", str(inv), "--stack",
                 str(stack_file("prod", synth_dir)), "--adoption-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 3
    assert not (tmp_path / "prod.json").exists()
    assert "`time_partitioning.field`" in out and '"recorded_at"' in out and '"game_date"' in out


def _variants() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Other live values of the same classes than the recorded ones."""
    yield "other sizes and timeouts", _mutate(lambda inv: (
        entry(inv, "/services/nba-phase3-analytics-processors")["template"].update(
            timeout="123s", scaling={"minInstanceCount": 2, "maxInstanceCount": 7},
            executionEnvironment="EXECUTION_ENVIRONMENT_GEN1"),
        entry(inv, "/functions/phase3-to-phase4-orchestrator")["serviceConfig"].update(
            timeoutSeconds=300, availableMemory="1Gi", maxInstanceCount=3)))
    yield "stores with other retention", _mutate(lambda inv: (
        entry(inv, "/datasets/nba_raw").update(defaultTableExpirationMs="86400000"),
        entry(inv, "/databases/(default)").update(
            pointInTimeRecoveryEnablement="POINT_IN_TIME_RECOVERY_DISABLED"),
        entry(inv, "-nba-raw").update(storageClass="ARCHIVE", lifecycle={"rule": []})))
    yield "a service on the server's default scaling", _mutate(lambda inv: entry(
        inv, "/services/nba-phase3-analytics-processors")["template"].pop("scaling"))
    yield "a job retrying differently", _mutate(lambda inv: entry(inv, "/jobs/same-day-phase3")[
        "retryConfig"].update(retryCount=0, minBackoffDuration="30s"))


@pytest.mark.parametrize(("name", "inventory"), list(_variants()), ids=[n for n, _ in _variants()])
def test_other_live_values_round_trip_through_the_record(
        prod: StackJson, name: str, inventory: list[dict[str, Any]]) -> None:
    """Applying the kept values to the stack (as the next synth does) leaves nothing to keep:
    the engine and the record agree on every value, whatever the live one."""
    a = adopt(prod, inventory)
    assert a.blocked == ()
    data = copy.deepcopy(prod.data)
    for k in a.kept:
        rtype, name_ = k.address.split(".", 1)
        _set(data["resource"][rtype][name_], k.attribute, k.value)
    again = adopt(StackJson(data), inventory)
    assert again.kept == ()


def test_a_computed_setting_live_leaves_to_the_server_is_not_overridden_by_a_guess(
        prod: StackJson) -> None:
    """The API omits max instances when a service runs on Cloud Run's default (100): the
    stack's 20 is a default of its own, not a decision, so the record declares nothing (null)
    and the computed attribute keeps what runs."""
    inv = _mutate(lambda inv: entry(inv, "/services/nba-phase3-analytics-processors")[
        "template"].pop("scaling"))
    k = kept(adopt(prod, inv))
    assert k[(SVC3, "template.scaling.max_instance_count")] is None
    assert (SVC3, "template.scaling.max_instance_count") not in changes(adopt(prod, inv))


def _set(body: dict[str, Any], path: str, value: Any) -> None:
    """What cdktn's ``add_override`` does with a dotted path (indices into lists)."""
    parts = path.split(".")
    cur: Any = body
    for part in parts[:-1]:
        cur = cur[int(part)] if isinstance(cur, list) else cur.setdefault(part, {})
    cur[parts[-1]] = value


def test_the_report_names_what_the_first_plan_needs_first(prod: StackJson) -> None:
    """The recorded project lists its enabled APIs, and Resource Manager is not among them:
    the first plan's reads would fail, so adoption says so before anyone plans."""
    a = adopt(prod)
    assert any(p.startswith("cloudresourcemanager.googleapis.com is DISABLED") for p in
               a.prerequisites)
    assert any(p.startswith(f"secret {PROD.alert_channel_secret} does not exist")
               for p in a.prerequisites)
    ready = copy.deepcopy(CONFIGURED) + [
        {"name": f"//serviceusage.googleapis.com/projects/756957797294/services/{api}",
         "assetType": "serviceusage.googleapis.com/Service", "state": "ENABLED"}
        for api in ("cloudresourcemanager.googleapis.com", "secretmanager.googleapis.com",
                    "serviceusage.googleapis.com")] + [
        {"name": f"//secretmanager.googleapis.com/projects/{P}/secrets/"
                 f"{PROD.alert_channel_secret}", "assetType": "secretmanager.googleapis.com/Secret"}]
    assert adopt(prod, ready).prerequisites == ()


JUNK: tuple[Any, ...] = ("x", 7, [], None, {"a": 1}, [1, "y"], True)


def test_a_configuration_of_unexpected_shape_is_compared_without_crashing(
        prod: StackJson) -> None:
    """A hand-edited or future-API inventory: any top-level field of any recorded
    configuration replaced by a value of another type; adoption still answers (it may block
    or keep, it never raises)."""
    from infra.live.adopt_config import compare
    from infra.live.adopt_match import declared_resources

    declared = {d.path: d for d in declared_resources(prod)}
    lives = [x for x in parse_inventory(CONFIGURED, REC / "configured.inventory.json", P)
             if x.resource]
    tried = 0
    for live in lives:
        d = next((d for d in declared.values() if d.kind.asset_types
                  and live.asset_type in d.kind.asset_types and d.path == live.path), None)
        if d is None:
            continue
        for key in list(live.resource):
            for junk in JUNK:
                compare(d, replace(live, resource={**live.resource, key: junk}), prod, "prod")
                tried += 1
    assert tried, "no declared resource of the recorded inventory has a configuration"
