"""Adoption on recorded inventories of the live project (Cloud Asset Inventory format)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.errors import InputError
from infra.live.adopt import main
from infra.live.adopt_inputs import load_inventory, load_triggers
from infra.live.adopt_match import declared_resources, owned
from infra.live.adopt_report import plan_adoption, render
from infra.model.envs import get_env
from infra.model.pipeline import load
from infra.paths import stack_file
from infra.stackjson.stack import StackJson

REC = Path(__file__).parent / "recorded" / "adoption"
PROD = get_env("prod")


def run(synth_dir: Path, tmp_path: Path, inventory: str, triggers: str | None = "seeds",
        ) -> tuple[int, Path]:
    argv = ["--env", "prod", "--inventory", str(REC / f"{inventory}.inventory.json"),
            "--stack", str(stack_file("prod", synth_dir)), "--adoption-dir", str(tmp_path)]
    if triggers:
        argv += ["--triggers", str(REC / f"{triggers}.triggers.json")]
    return main(argv), tmp_path / "prod.json"


def adoption(prod: StackJson, inventory: str, triggers: str | None = "seeds"):
    lives = load_inventory(REC / f"{inventory}.inventory.json", PROD.project_id)
    trg = load_triggers(REC / f"{triggers}.triggers.json" if triggers else None)
    return plan_adoption(prod, load(), PROD, lives, trg)


def test_the_live_system_as_the_seeds_describe_it_is_adoptable_with_findings(
        synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, record = run(synth_dir, tmp_path, "seeds")
    report = capsys.readouterr().out
    assert code == 2
    imports = {i["address"]: i["import_id"] for i in json.loads(record.read_text())["imports"]}
    assert imports["google_pubsub_subscription.phase3_analytics_sub__subscription"] == \
        "projects/nba-props-platform/subscriptions/nba-phase3-analytics-sub"
    assert imports["google_cloud_scheduler_job.same_day_phase3_job__job"] == \
        "projects/nba-props-platform/locations/us-west2/jobs/same-day-phase3"
    assert "google_bigquery_table.dataset_orchestration__table_phase_completions" in imports
    assert "google_bigquery_table.dataset_orchestration__table_phase_execution_log" not in imports
    assert not any("_iam_" in a for a in imports), "IAM members are never imported"
    assert "## Removed but live" in report and "## Second deploy path" in report
    assert "auto-deploy-orchestrator-p3p4" in report


def test_removed_components_are_deleted_in_an_order_that_keeps_phase3_running(
        prod: StackJson) -> None:
    a = adoption(prod, "seeds")
    order = [(f.kind.split("/")[-1], f.name) for f in a.removed]
    assert order == [
        ("BuildTrigger", "deploy-phase2-to-phase3-orchestrator"),
        ("Function", "phase2-to-phase3-orchestrator"),
        ("Trigger", "phase2-to-phase3-orchestrator-123456"),
        ("Service", "phase2-to-phase3-orchestrator"),
        ("Subscription", "eventarc-us-west2-phase2-to-phase3-orchestrator-123456-sub-101"),
        ("Topic", "nba-phase3-trigger"),
    ]
    assert all("nba-phase3-analytics-sub" not in f.fix for f in a.removed)
    assert a.removed[0].fix == ("gcloud builds triggers delete "
                                "deploy-phase2-to-phase3-orchestrator --project=nba-props-platform")


def test_owned_and_managed_resources_are_neither_adopted_nor_reported(prod: StackJson) -> None:
    a = adoption(prod, "seeds")
    reported = {f.name for f in a.findings}
    for name in ("phase3-to-phase4-orchestrator-654321", "gcf-v2-sources-756957797294-us-west2",
                 "756957797294-compute@developer.gserviceaccount.com", "gcf-artifacts",
                 "eventarc-us-west2-phase3-to-phase4-orchestrator-654321-sub-202",
                 "phase3-to-phase4-orchestrator"):
        assert name not in reported
    lives = load_inventory(REC / "seeds.inventory.json", PROD.project_id)
    assert 0 < a.owned_count <= len(owned(lives, declared_resources(prod)))


def test_the_second_deploy_path_is_found_by_folder_and_the_release_path_is_information(
        prod: StackJson) -> None:
    a = adoption(prod, "seeds")
    assert [f.name for f in a.second_deploy] == ["auto-deploy-orchestrator-p3p4"]
    assert "phase3_to_phase4" in a.second_deploy[0].why
    assert a.second_deploy[0].fix.endswith("--region=us-west2 --project=nba-props-platform")
    assert [f.name for f in a.release_paths] == ["release-prediction-worker"]
    assert "docs-site" not in {f.name for f in a.findings + a.release_paths}


def test_a_data_store_living_elsewhere_blocks_and_names_both_values(
        synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, record = run(synth_dir, tmp_path, "elsewhere")
    captured = capsys.readouterr()
    assert code == 3
    assert not record.exists(), "a blocked run writes nothing"
    assert "`google_firestore_database.firestore__database`" in captured.out
    assert "| `location_id` | `us-west2` | `nam5` |" in captured.out
    assert "| `location` | `us-west2` | `US` |" in captured.out
    assert "bigquery_location on envs[prod] in infra/model/envs.py to 'US'" in captured.out


def test_a_scheduler_job_under_another_name_is_a_duplicate(prod: StackJson) -> None:
    a = adoption(prod, "duplicate-job")
    assert [f.name for f in a.duplicates if "Job" in f.kind] == ["phase3-backfill-morning"]
    assert "google_cloud_scheduler_job.same_day_phase3_job__job" in a.duplicates[0].why
    assert a.duplicates[0].fix.startswith("gcloud scheduler jobs delete phase3-backfill-morning")


def test_without_versioned_resources_a_job_is_compared_by_name(prod: StackJson,
                                                               tmp_path: Path) -> None:
    entries = json.loads((REC / "duplicate-job.inventory.json").read_text())
    for e in entries:
        e.pop("versionedResources", None)
    entries.append({**entries[-1], "name": entries[-1]["name"].replace(
        "phase3-backfill-morning", "nba-same-day-phase3")})
    path = tmp_path / "plain.inventory.json"
    path.write_text(json.dumps(entries))
    a = plan_adoption(prod, load(), PROD, load_inventory(path, PROD.project_id), [])
    assert [f.name for f in a.duplicates if "Job" in f.kind] == ["nba-same-day-phase3"]
    assert any("compared by name only" in n for n in a.notes)


def test_an_empty_project_imports_nothing(synth_dir: Path, tmp_path: Path) -> None:
    code, record = run(synth_dir, tmp_path, "empty", triggers=None)
    assert code == 0
    assert json.loads(record.read_text())["imports"] == []


def test_an_inventory_of_one_resource_for_a_running_project_is_a_finding(
        synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One topic live, none of the services or data stores: an incomplete reading, exit 2."""
    code, _ = run(synth_dir, tmp_path, "one-resource", triggers=None)
    report = capsys.readouterr().out
    assert code == 2
    assert "Verdict: **the inventory looks incomplete**: record it again before adopting." \
        in report
    section = report.split("## Incomplete inventory\n\n", 1)[1].split("\n\n", 1)[0]
    assert "\n" not in section, "one line"
    assert section.startswith("The inventory looks incomplete: 1 of the ")
    assert "`google_pubsub_topic.phase1_scrapers_complete__topic`" in section
    from infra.live.adopt_report import CORE_TYPES
    from infra.paths import stack_file as _stack_file

    core = sum(1 for r in StackJson.load(_stack_file("prod", synth_dir)).resources.values()
               if r.type in CORE_TYPES)
    assert f"only 0 of its {core} Cloud Run services and data stores" in section
    assert "`make inventory ENV=prod`" in section and "`roles/cloudasset.viewer`" in section


def test_only_a_removed_component_live_is_an_incomplete_inventory(prod: StackJson,
                                                                 tmp_path: Path) -> None:
    entries = [e for e in json.loads((REC / "seeds.inventory.json").read_text())
               if e["name"].endswith("/functions/phase2-to-phase3-orchestrator")]
    path = tmp_path / "removed-only.inventory.json"
    path.write_text(json.dumps(entries))
    a = plan_adoption(prod, load(), PROD, load_inventory(path, PROD.project_id), [])
    assert a.incomplete and "none, but `phase2-to-phase3-orchestrator`, which the manifest " \
        "removed, is live" in a.incomplete
    assert a.exit_code == 2


@pytest.mark.parametrize("inventory", ["seeds", "clean", "configured", "empty",
                                       "undeclared-stores"])
def test_a_whole_running_project_or_a_new_one_is_not_called_incomplete(
        prod: StackJson, inventory: str) -> None:
    assert adoption(prod, inventory, triggers=None).incomplete is None


def test_half_the_services_and_data_stores_live_is_enough(prod: StackJson,
                                                          tmp_path: Path) -> None:
    """The rule's edge: at least half of the services and data stores live is a running
    project (some may be new in the manifest), less is an incomplete reading."""
    from infra.live.adopt_report import CORE_TYPES

    entries = json.loads((REC / "seeds.inventory.json").read_text())
    lives = load_inventory(REC / "seeds.inventory.json", PROD.project_id)
    a = plan_adoption(prod, load(), PROD, lives, [])
    core = sorted(i.live_name for i in a.imports if i.type in CORE_TYPES)
    declared = sum(1 for r in prod.resources.values() if r.type in CORE_TYPES)
    for keep, incomplete in ((-(-declared // 2), False), (declared // 2 - 1, True)):
        dropped = set(core[keep:])
        path = tmp_path / "some.inventory.json"
        path.write_text(json.dumps([e for e in entries if e["name"] not in dropped]))
        a = plan_adoption(prod, load(), PROD, load_inventory(path, PROD.project_id), [])
        assert (a.incomplete is not None) is incomplete, (keep, a.incomplete)


@pytest.mark.parametrize("name, why", [
    ("malformed-not-json", "not JSON (line 2 column 1"),
    ("malformed-object", "expected a JSON list of ResourceSearchResult objects"),
    ("malformed-entry", "inventory.json: [0].name: missing, required"),
    ("missing", "file not found; run `make inventory ENV=<env>`"),
])
def test_an_unreadable_inventory_exits_1_in_one_line(
        synth_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str,
        why: str) -> None:
    code, record = run(synth_dir, tmp_path, name)
    err = capsys.readouterr().err.strip()
    assert code == 1 and not record.exists()
    assert len(err.splitlines()) == 1 and why in err and f"{name}.inventory.json" in err


def test_an_unreadable_trigger_list_exits_1(synth_dir: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = run(synth_dir, tmp_path, "seeds", triggers="malformed")
    assert code == 1 and "malformed.triggers.json" in capsys.readouterr().err


def test_a_trigger_entry_without_a_name_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('[{"id": "x"}]')
    with pytest.raises(InputError, match=r"t.json: \[0\].name: missing, required"):
        load_triggers(path)


@pytest.mark.parametrize(("field", "texts"), [
    ({"includedFiles": "functions/phase3_to_phase4/**"},
     [("includedFiles", "functions/phase3_to_phase4/**")]),
    ({"build": {"steps": [{"args": [5, "deploy"], "env": {"FN": "x"}}]}},
     [("build.steps[0]", "deploy")]),
    ({"build": {"steps": True}}, []),
    ({"gitFileSource": "phase3_to_phase4", "substitutions": ["x"]}, []),
])
def test_a_trigger_field_of_the_wrong_type_is_skipped_not_split(field: dict, texts) -> None:
    from infra.live.adopt_inputs import parse_triggers

    (trigger,) = parse_triggers([{"name": "t", **field}], Path("t.json"))
    assert trigger.texts() == [("name", "t"), *texts]


def test_an_undeclared_data_store_is_kept_never_deleted(prod: StackJson) -> None:
    a = adoption(prod, "undeclared-stores", triggers=None)
    fixes = {f.name: f.fix for f in a.undeclared}
    stores = ["nba-scraped-data", "nba_static", "nba_teams", "nba-cache"]
    assert sorted(fixes) == sorted([*stores, "nba-phase5-ready"])
    for name in stores:
        assert "delete" not in fixes[name].replace("never delete", ""), fixes[name]
        assert fixes[name].endswith("never delete it; or leave it: not part of this pipeline")
        assert "infra/model/pipeline.py" in fixes[name]
    assert fixes["nba-phase5-ready"] == \
        "gcloud pubsub topics delete nba-phase5-ready --project=nba-props-platform"


LEGACY = {"Phase 3 Orchestrator High Error Rate": "Phase 3 Orchestrator Errors (legacy)",
          "Phase 3 Analytics Processors High Error Rate":
              "Phase 3 Analytics Processors Errors (legacy)"}


def test_the_live_alert_policies_the_seeds_name_are_imported(prod: StackJson) -> None:
    a = plan_adoption(prod, load(), PROD,
                      load_inventory(REC / "seeds.inventory.json", PROD.project_id), [])
    imported = {i.address: i.import_id for i in a.imports if i.type.endswith("alert_policy")}
    assert imported == {
        "google_monitoring_alert_policy.alerts__errors_phase3_to_phase4_orchestrator":
            "projects/nba-props-platform/alertPolicies/9367779177730658196",
        "google_monitoring_alert_policy.alerts__errors_phase3_analytics_processors":
            "projects/nba-props-platform/alertPolicies/14219064500346879834",
    }


def test_live_alert_policies_and_channels_under_other_names_are_duplicates(
        prod: StackJson, tmp_path: Path) -> None:
    entries = json.loads((REC / "seeds.inventory.json").read_text())
    for e in entries:
        e["displayName"] = LEGACY.get(e.get("displayName"), e.get("displayName"))
    policy = next(e for e in entries if e["assetType"] == "monitoring.googleapis.com/AlertPolicy")
    for i, shown in enumerate(["pipeline-canary failures", "Billing budget 80%"]):
        entries.append({**policy, "name": policy["name"].rsplit("/", 1)[0] + f"/{i}",
                        "displayName": shown})
    path = tmp_path / "alerts.inventory.json"
    path.write_text(json.dumps(entries))
    a = plan_adoption(prod, load(), PROD, load_inventory(path, PROD.project_id), [])
    like = {f.why.split("'")[1]: f for f in a.duplicates if "monitoring" in f.kind}
    assert sorted(like) == ["Phase 3 Analytics Processors Errors (legacy)",
                            "Phase 3 Orchestrator Errors (legacy)",
                            "Slack (#NBA Platform Alerts)", "pipeline-canary failures"]
    policy_of = {shown: f.why.split(" like ")[1].split(" ")[0] for shown, f in like.items()}
    assert policy_of["Phase 3 Orchestrator Errors (legacy)"] == \
        "google_monitoring_alert_policy.alerts__errors_phase3_to_phase4_orchestrator"
    assert policy_of["Phase 3 Analytics Processors Errors (legacy)"] == \
        "google_monitoring_alert_policy.alerts__errors_phase3_analytics_processors"
    assert policy_of["pipeline-canary failures"] == \
        "google_monitoring_alert_policy.alerts__errors_pipeline_canary"
    assert policy_of["Slack (#NBA Platform Alerts)"] == \
        "google_monitoring_notification_channel.alerts__slack_channel"
    fix = like["Phase 3 Orchestrator Errors (legacy)"].fix
    assert fix.startswith("once the declared policy is live: gcloud alpha monitoring policies "
                          "delete projects/nba-props-platform/alertPolicies/9367779177730658196")
    assert "set display_name='Phase 3 Orchestrator Errors (legacy)' on the AlertPolicy of " \
           "google_monitoring_alert_policy.alerts__errors_phase3_to_phase4_orchestrator" in fix
    channel_fix = like["Slack (#NBA Platform Alerts)"].fix
    assert "alert_channel_display_name='Slack (#NBA Platform Alerts)'" in channel_fix
    assert a.monitoring_note and "compared by display name only" in a.monitoring_note
    report = render(a, "alerts.inventory.json", None)
    duplicates_section = report.split("## Duplicates", 1)[1].split("\n## ", 1)[0]
    assert "stable fields give a policy no condition, log filter or channel" in \
        duplicates_section


def test_an_alert_policy_named_unlike_the_pipeline_is_not_a_duplicate(
        prod: StackJson, tmp_path: Path) -> None:
    path = tmp_path / "other.inventory.json"
    path.write_text(json.dumps([{
        "name": "//monitoring.googleapis.com/projects/nba-props-platform/alertPolicies/1",
        "assetType": "monitoring.googleapis.com/AlertPolicy", "displayName": "Billing budget"}]))
    a = plan_adoption(prod, load(), PROD, load_inventory(path, PROD.project_id), [])
    assert a.duplicates == () and a.undeclared == ()
    assert a.monitoring_note is not None, "the report says what it could not compare"
    assert "compared by display name only" in render(a, str(path), None)


def test_other_inventories_regional_inline_and_renamed_folder_triggers(prod: StackJson) -> None:
    a = adoption(prod, "other", triggers="other")
    paths = {f.name: f for f in a.second_deploy}
    assert sorted(paths) == ["canary-from-hyphen-folder", "inline-deploy-by-env",
                             "inline-orchestrator-deploy", "orchestrator-legacy-folder"]
    assert "build.steps[0] names phase3-to-phase4-orchestrator" in \
        paths["inline-deploy-by-env"].why
    assert "build.steps[0] names phase3-to-phase4-orchestrator" in \
        paths["inline-orchestrator-deploy"].why
    assert "handle_phase3_completion" in paths["orchestrator-legacy-folder"].why
    assert paths["orchestrator-legacy-folder"].fix == (
        "gcloud builds triggers delete orchestrator-legacy-folder --project=nba-props-platform")
    assert "pipeline-canary" in paths["canary-from-hyphen-folder"].why
    assert paths["canary-from-hyphen-folder"].fix.endswith(
        "--region=us-central1 --project=nba-props-platform")


def test_resources_of_another_project_are_never_adopted_reported_or_deleted(
        prod: StackJson) -> None:
    a = adoption(prod, "other", triggers=None)
    assert "google_pubsub_topic.phase4_trigger__topic" in {i.address for i in a.imports}
    assert {i.live_name for i in a.imports if "phase4_trigger__topic" in i.address} == {
        "//pubsub.googleapis.com/projects/nba-props-platform/topics/nba-phase4-trigger"}
    reported = [f for f in a.findings if "nba-props-analytics" in f.name
                or f.name in ("nba-phase3-trigger", "nba-analytics-exports")]
    assert reported == [] and a.removed == ()
    [note] = [n for n in a.notes if "other projects" in n]
    assert "3 live resources of other projects than nba-props-platform ignored" in note


def test_one_name_in_two_locations_imports_the_declared_one_and_reports_the_other(
        prod: StackJson) -> None:
    a = adoption(prod, "other", triggers=None)
    assert a.blocked == ()
    [job] = [i for i in a.imports if i.address == "google_cloud_scheduler_job."
             "same_day_phase3_job__job"]
    assert "/locations/us-west2/" in job.live_name
    [dup] = [f for f in a.duplicates if "Job" in f.kind]
    assert "us-central1" in dup.name and "both run" in dup.why
    assert dup.fix == ("gcloud scheduler jobs delete same-day-phase3 --location=us-central1 "
                       "--project=nba-props-platform --quiet")


def test_a_bucket_in_another_location_blocks(prod: StackJson, tmp_path: Path) -> None:
    path = tmp_path / "bucket.inventory.json"
    path.write_text(json.dumps([{
        "name": "//storage.googleapis.com/nba-props-platform-function-sources",
        "assetType": "storage.googleapis.com/Bucket", "project": "projects/756957797294",
        "location": "US"}]))
    a = plan_adoption(prod, load(), PROD, load_inventory(path, PROD.project_id), [])
    [b] = a.blocked
    assert (b.attribute, b.declared_value, b.live_value) == ("location", "us-west2", "US")
    assert "resource_storage_bucket.go" in b.source


def test_the_fix_for_a_duplicate_alert_policy_adopts_it(tmp_path: Path) -> None:
    """Following the report's fix (the live display name in the manifest) imports the policy."""
    from dataclasses import replace

    from infra.model.components import AlertPolicy
    from infra.synth.app import synthesize

    shown = "Phase 3 Orchestrator High Error Rate"
    manifest = load()
    manifest = replace(manifest, alerts=tuple(
        AlertPolicy(a.component, a.auto_close_seconds, display_name=shown)
        if a.component == "phase3-to-phase4-orchestrator" else a for a in manifest.alerts))
    paths = synthesize(manifest, ("prod",), outdir=tmp_path / "out",
                       bundle_dir=tmp_path / "bundles")
    stack = StackJson.load(paths["pipeline-prod"])
    a = plan_adoption(stack, manifest, PROD,
                      load_inventory(REC / "seeds.inventory.json", PROD.project_id), [])
    address = "google_monitoring_alert_policy.alerts__errors_phase3_to_phase4_orchestrator"
    assert address in {i.address for i in a.imports}
    assert not [f for f in a.duplicates if shown in f.why]


def test_an_empty_alert_display_name_is_refused() -> None:
    from dataclasses import replace

    from infra.model.components import AlertPolicy, ManifestError

    manifest = load()
    bad = replace(manifest, alerts=(AlertPolicy("pipeline-canary", display_name=" "),))
    with pytest.raises(ManifestError, match=r"alerts\[0\]\.display_name: invalid value ' '"):
        bad.validate()


def test_imported_tables_come_with_the_schema_check_the_inventory_cannot_make(
        prod: StackJson) -> None:
    a = plan_adoption(prod, load(), PROD,
                      load_inventory(REC / "seeds.inventory.json", PROD.project_id), [])
    [note] = [n for n in a.notes if "BigQuery tables are imported" in n]
    assert "bq show --schema --format=prettyjson nba-props-platform:nba_orchestration." in note
    assert "partition field" in note


@pytest.mark.parametrize(("module", "code"), [("infra.live.adopt", 1),
                                               ("infra.live.inventory", 2)])
def test_an_unknown_env_is_one_line_before_anything_is_read(module: str, code: int, capsys,
                                                            tmp_path: Path) -> None:
    import importlib

    from infra.model.envs import ENVS

    cli = importlib.import_module(module)
    assert cli.main(["--env", "Not-An-Env", "--inventory", str(tmp_path / "none.json")]
                    if module.endswith("adopt") else ["--env", "Not-An-Env"]) == code
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith("argument --env: unknown environment 'Not-An-Env'; known: "
                         f"{', '.join(sorted(ENVS))}")
    assert not list(tmp_path.iterdir()), "nothing written"


@pytest.mark.parametrize(("field", "value", "attribute"), [
    ("enableMessageOrdering", True, "enable_message_ordering"),
    ("filter", 'attributes.phase = "phase_2_raw"', "filter"),
])
def test_a_live_subscription_with_an_attribute_that_forces_replacement_blocks(
        prod: StackJson, tmp_path: Path, field: str, value: object, attribute: str) -> None:
    entries = json.loads((REC / "seeds.inventory.json").read_text())
    sub = next(e for e in entries if e["name"].endswith("/subscriptions/nba-phase3-analytics-sub"))
    sub["versionedResources"][0]["resource"][field] = value
    path = tmp_path / "ordered.inventory.json"
    path.write_text(json.dumps(entries))
    a = plan_adoption(prod, load(), PROD, load_inventory(path, PROD.project_id), [])
    [b] = a.blocked
    assert (b.declared.address, b.attribute, b.live_value) == (
        "google_pubsub_subscription.phase3_analytics_sub__subscription", attribute, repr(value))
    assert "resource_pubsub_subscription.go" in b.source
    assert a.exit_code == 3


def test_a_subscription_without_a_versioned_resource_is_not_blocked(prod: StackJson) -> None:
    a = plan_adoption(prod, load(), PROD,
                      load_inventory(REC / "seeds.inventory.json", PROD.project_id), [])
    assert a.blocked == ()
