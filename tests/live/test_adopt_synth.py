"""Import ids per type, the import blocks in the synthesized stack, and what surrounds them."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from infra.errors import InputError
from infra.live import inventory
from infra.live.adopt_inputs import load_inventory
from infra.live.adopt_match import declared_resources, match
from infra.model.adoption import Import, render_record
from infra.model.adoption_file import load_record
from infra.model.components import ManifestError
from infra.model.envs import get_env
from infra.model.naming import Names
from infra.model.pipeline import load
from infra.model.provider.resources import KINDS
from infra.stackjson.stack import StackJson
from infra.terraform.plan_json import parse_plan
from infra.terraform.plan_summary import render

REC = Path(__file__).parent / "recorded" / "adoption"
PROD = get_env("prod")
P = "nba-props-platform"

# The provider doc's Import section, first format, for one declared resource of each type.
EXPECTED = {
    "google_pubsub_topic.phase4_trigger__topic": f"projects/{P}/topics/nba-phase4-trigger",
    "google_pubsub_subscription.phase3_analytics_sub__subscription":
        f"projects/{P}/subscriptions/nba-phase3-analytics-sub",
    "google_cloud_run_v2_service.prediction_worker__service":
        f"projects/{P}/locations/us-west2/services/prediction-worker",
    "google_cloudfunctions2_function.phase3_to_phase4_orchestrator__function":
        f"projects/{P}/locations/us-west2/functions/phase3-to-phase4-orchestrator",
    "google_cloud_scheduler_job.pipeline_canary_job__job":
        f"projects/{P}/locations/us-west2/jobs/pipeline-canary-queries",
    "google_bigquery_dataset.dataset_raw__dataset": f"projects/{P}/datasets/nba_raw",
    "google_bigquery_table.dataset_orchestration__table_phase_completions":
        f"projects/{P}/datasets/nba_orchestration/tables/phase_completions",
    "google_firestore_database.firestore__database": f"projects/{P}/databases/(default)",
    "google_firestore_field.firestore__ttl_phase3_completion":
        f"projects/{P}/databases/(default)/collectionGroups/phase3_completion/fields/_expires_at",
    "google_service_account.phase3_analytics_processors__identity":
        f"projects/{P}/serviceAccounts/nba-run-p3-analytics@{P}.iam.gserviceaccount.com",
    "google_storage_bucket.function_sources__bucket": f"{P}/{P}-function-sources",
    "google_project_service.apis__run": f"{P}/run.googleapis.com",
    "google_monitoring_notification_channel.alerts__slack_channel":
        f"projects/{P}/notificationChannels/42",
    "google_monitoring_alert_policy.alerts__errors_pipeline_canary":
        f"projects/{P}/alertPolicies/7",
}


def everything_live(prod: StackJson) -> list[dict[str, object]]:
    """An inventory in which every declared resource exists, built from the stack."""
    hosts = {"google_cloud_run_v2_service": "run", "google_cloudfunctions2_function": "fn",
             "google_cloud_scheduler_job": "job"}
    out: list[dict[str, object]] = []
    for d in declared_resources(prod):
        kind = d.kind
        if not kind.asset_types:
            continue
        atype = kind.asset_types[0]
        host = atype.split("/")[0]
        if kind.match == "display_name":
            last = "notificationChannels/42" if "Channel" in atype else "alertPolicies/7"
            out.append({"name": f"//{host}/projects/{P}/{last}", "assetType": atype,
                        "displayName": d.path, "project": "projects/756957797294"})
            continue
        path = d.path
        if d.type in hosts:
            head, tail = path.split("/", 2)[:2], path.split("/", 2)[2]
            path = f"{'/'.join(head)}/locations/us-west2/{tail}"
        if d.type == "google_project_service":
            path = path.replace(f"projects/{P}", "projects/756957797294")
        out.append({"name": f"//{host}/{path}", "assetType": atype, "location": d.location
                    or "global", "project": "projects/756957797294"})
    return out


def test_import_ids_follow_the_provider_docs_for_every_type(prod: StackJson,
                                                            tmp_path: Path) -> None:
    path = tmp_path / "all.inventory.json"
    path.write_text(json.dumps(everything_live(prod)))
    m = match(declared_resources(prod), load_inventory(path, P), "prod")
    got = {i.address: i.import_id for i in m.imports}
    assert m.blocked == () and m.created == ()
    for address, import_id in EXPECTED.items():
        assert got.get(address) == import_id, address
    assert {a.split(".")[0] for a in EXPECTED} == set(KINDS)


def test_synth_gives_imported_resources_import_blocks_that_terraform_parses(
        synth_dir: Path, tmp_path: Path) -> None:
    from infra.synth.app import synthesize

    imports = [Import("google_pubsub_topic.phase4_trigger__topic", "google_pubsub_topic",
                      EXPECTED["google_pubsub_topic.phase4_trigger__topic"], "x"),
               Import("google_firestore_database.firestore__database",
                      "google_firestore_database",
                      EXPECTED["google_firestore_database.firestore__database"], "y")]
    (tmp_path / "prod.json").write_text(render_record("prod", P, imports))
    out = synthesize(load(), ("prod",), outdir=tmp_path / "out",
                     bundle_dir=tmp_path / "bundles", adoption_dir=tmp_path)
    stack = json.loads(out["pipeline-prod"].read_text())
    assert stack["import"] == [{"id": i.import_id, "to": i.address} for i in imports]
    baseline = json.loads((synth_dir / "stacks" / "pipeline-prod" / "cdk.tf.json").read_text())
    # Only the import blocks (and cdktn's metadata listing them) differ.
    assert {k: v for k, v in stack.items() if k not in ("import", "//")} == \
        {k: v for k, v in baseline.items() if k != "//"}
    if shutil.which("terraform"):
        from tests.terraform.test_terraform_config import config_errors

        assert config_errors(out["pipeline-prod"].parent) == []


def test_an_empty_record_synthesizes_the_stack_unchanged(synth_dir: Path,
                                                         tmp_path: Path) -> None:
    from infra.synth.app import synthesize

    (tmp_path / "prod.json").write_text(render_record("prod", P, []))
    out = synthesize(load(), ("prod",), outdir=tmp_path / "out",
                     bundle_dir=tmp_path / "bundles", adoption_dir=tmp_path)
    assert out["pipeline-prod"].read_bytes() == \
        (synth_dir / "stacks" / "pipeline-prod" / "cdk.tf.json").read_bytes()


@pytest.mark.parametrize("body, why", [
    ("{", "prod.json: not JSON"),
    ('{"env": "prod", "project": "other", "imports": []}',
     "prod.json: project: expected 'nba-props-platform', found 'other'"),
    ('{"env": "prod", "project": "nba-props-platform", "imports": [{"address": 1}]}',
     "prod.json: imports[0].address: expected a string, found 1"),
    ('{"env": "prod", "project": "nba-props-platform", "imports": '
     '[{"address": "a", "import_id": "x"}, {"address": "a", "import_id": "y"}]}',
     "prod.json: imports[1].address: a is listed twice"),
    ('{"env": "prod", "project": "nba-props-platform", "imports": [], '
     '"kept": [{"address": "a", "attribute": "x", "value": 1}]}',
     "prod.json: kept[0].address: a is not imported"),
    ('{"env": "prod", "project": "nba-props-platform", "imports": '
     '[{"address": "a", "import_id": "x"}], "kept": [{"address": "a", "attribute": "x"}]}',
     "prod.json: kept[0].value: missing, required"),
])
def test_a_broken_record_is_refused(tmp_path: Path, body: str, why: str) -> None:
    (tmp_path / "prod.json").write_text(body)
    with pytest.raises(InputError) as err:
        load_record("prod", P, tmp_path)
    assert why in str(err.value)


def test_jobs_keep_their_live_names_and_datasets_their_location(prod: StackJson) -> None:
    jobs = {r.body["name"] for r in prod.of_type("google_cloud_scheduler_job")}
    names = Names(get_env("prod"))
    assert jobs == {names.job(j) for j in load().jobs}
    # the seeds' live jobs, under the names they run under (a new name would be a second job)
    assert {"same-day-phase3", "same-day-phase3-tomorrow", "pipeline-canary-queries"} <= jobs
    assert {r.body["location"] for r in prod.of_type("google_bigquery_dataset")} == {"us-west2"}


def test_a_bad_job_cloud_name_is_rejected() -> None:
    """Cloud Scheduler job ids are letters, digits, '-' and '_' (``Bad_Name`` is one)."""
    m = load()
    jobs = (replace(m.jobs[0], cloud_name="bad name"), *m.jobs[1:])
    with pytest.raises(ManifestError, match=r"jobs\[0\].cloud_name: invalid value 'bad name'"):
        replace(m, jobs=jobs).validate()


def test_inventory_without_credentials_refuses_in_one_line(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    from google.auth.exceptions import DefaultCredentialsError

    def no_credentials(project: str) -> list[dict[str, object]]:
        raise DefaultCredentialsError("Your default credentials were not found.")

    code = inventory.main(["--env", "prod"], search=no_credentials, adoption_dir=tmp_path)
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no usable Google credentials" in err and list(tmp_path.iterdir()) == []


def test_inventory_writes_stable_fields_only(tmp_path: Path) -> None:
    result = {"name": f"//pubsub.googleapis.com/projects/{P}/topics/nba-phase4-trigger",
              "assetType": "pubsub.googleapis.com/Topic", "additionalAttributes": {"x": 1},
              "labels": {}}
    code = inventory.main(["--env", "prod"], search=lambda p: [inventory.clean(result)],
                          triggers=lambda p, locs: [{"name": "t", "locs": list(locs)}],
                          adoption_dir=tmp_path)
    assert code == 0
    written = json.loads((tmp_path / "prod.inventory.json").read_text())
    assert written == [{"name": result["name"], "assetType": result["assetType"]}]
    assert json.loads((tmp_path / "prod.triggers.json").read_text())[0]["locs"] == \
        ["global", "us-west2"]


def test_the_plan_summary_counts_imports_and_warns_on_replace_while_importing() -> None:
    def change(address: str, actions: list[str], imported: bool) -> dict[str, object]:
        rtype, name = address.split(".")
        c: dict[str, object] = {"actions": actions, "before": None, "after": {}}
        if imported:
            c["importing"] = {"id": "x"}
        return {"address": address, "type": rtype, "name": name, "change": c}

    data = {"format_version": "1.2", "resource_changes": [
        change("google_pubsub_topic.phase4_trigger__topic", ["no-op"], True),
        change("google_bigquery_dataset.dataset_raw__dataset", ["update"], True),
    ]}
    plan = parse_plan(data, "plan.json")
    assert plan.imports == {"google_pubsub_topic.phase4_trigger__topic",
                            "google_bigquery_dataset.dataset_raw__dataset"}
    text = render(plan)
    assert "**2 to import, 0 to create, 1 to update" in text
    assert "destroys or replaces while it imports" not in text
    data["resource_changes"].append(  # type: ignore[union-attr]
        change("google_bigquery_dataset.dataset_analytics__dataset", ["delete", "create"], True))
    text = render(parse_plan(data, "plan.json"))
    assert "⚠ this plan destroys or replaces while it imports" in text
