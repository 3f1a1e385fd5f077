"""``infra.live.inventory``: what the official clients return becomes what adoption reads,
with each declared resource's configuration from its REST API and each pipeline API's state."""

import json
import re
from pathlib import Path

import pytest
from google.cloud import asset_v1
from google.cloud.devtools import cloudbuild_v1

from infra.live import inventory
from infra.live.adopt_inputs import load_inventory, parse_inventory, parse_triggers
from infra.live.inventory import AS_GCLOUD, clean
from infra.live.rest_config import MIRRORS, RestError, config_url
from tests.live.inventories import ADOPTION

P = "nba-props-platform"


def test_a_client_search_result_is_written_as_gcloud_prints_it():
    result = asset_v1.ResourceSearchResult(
        name=f"//pubsub.googleapis.com/projects/{P}/topics/nba-phase4-trigger",
        asset_type="pubsub.googleapis.com/Topic", display_name="nba-phase4-trigger",
        location="global", project="projects/756957797294")
    entry = clean(asset_v1.ResourceSearchResult.to_dict(result, **AS_GCLOUD))
    assert set(entry) == {"name", "assetType", "displayName", "location", "project"}
    [live] = parse_inventory([entry], Path("client"), P)
    assert (live.asset_type, live.short) == ("pubsub.googleapis.com/Topic", "nba-phase4-trigger")


def test_a_client_build_trigger_is_written_as_gcloud_prints_it():
    trigger = cloudbuild_v1.BuildTrigger(
        name="auto-deploy", included_files=["orchestration/cloud_functions/phase3_to_phase4/**"],
        resource_name=f"projects/{P}/locations/us-west2/triggers/1")
    entry = clean(cloudbuild_v1.BuildTrigger.to_dict(trigger, **AS_GCLOUD))
    [t] = parse_triggers([entry], Path("client"))
    assert t.location == "us-west2"
    assert ("includedFiles", "orchestration/cloud_functions/phase3_to_phase4/**") in t.texts()


def test_triggers_are_read_in_every_region_the_project_uses():
    from infra.live.inventory import InventoryReader, trigger_locations
    from infra.model.envs import get_env
    from tests.live.inventories import recorded_inventory

    env = get_env("prod")
    other = recorded_inventory("other")
    asked: list[tuple[str, ...]] = []

    def triggers(project, locations):
        asked.append(tuple(locations))
        return other.triggers(project, locations)

    resources, found = InventoryReader(other.search, triggers).read(env)
    assert asked == [trigger_locations(env, resources)]
    assert asked[0][:2] == ("global", "us-west2") and "us-central1" in asked[0]
    assert any("/locations/us-central1/" in t.get("resourceName", "") for t in found)


def test_trigger_locations_ignore_multi_regions_and_zones():
    from infra.live.inventory import trigger_locations
    from infra.model.envs import get_env

    env = get_env("prod")
    live = [{"location": loc} for loc in ("global", "us", "US", "eu", "us-west2",
                                         "us-central1-a", "europe-west1", "")]
    assert trigger_locations(env, live) == ("global", "us-west2", "europe-west1")


# --- live configurations and API states (``make inventory``) -------------------------------

NUMBER = "756957797294"
SECRET_TOKEN = "xoxb-0000-1111-do-not-record"
SECRET_ENV = "env-secret-do-not-record"


class FakeRest:
    """The REST reader: recorded bodies per URL, an HTTP status per URL that fails, a body
    naming its URL for every other configuration, and each API's Service Usage state."""

    def __init__(self, bodies=None, fail=None, states=None, number=NUMBER):
        self.bodies, self.fail = dict(bodies or {}), dict(fail or {})
        self.states, self.number, self.asked = dict(states or {}), number, []

    def __call__(self, url: str) -> dict:
        self.asked.append(url)
        if url in self.fail:
            raise RestError(self.fail[url], f"Permission denied on {url}\nsecond line")
        m = re.fullmatch(r"https://serviceusage\.googleapis\.com/v1/projects/[^/]+/services/(.+)", url)
        if m:
            return {"name": f"projects/{self.number}/services/{m.group(1)}",
                    "state": self.states.get(m.group(1), "ENABLED"), "parent": "x",
                    "config": {"title": "long API description"}}
        return self.bodies.get(url, {"readFrom": url})


def search_of(name: str):
    return lambda project: json.loads((ADOPTION / f"{name}.inventory.json").read_text())


def no_triggers(project, locations):
    return []


def record(tmp_path, search, rest, env="prod", apis=("pubsub.googleapis.com",)):
    code = inventory.main(["--env", env], search=search, triggers=no_triggers,
                          adoption_dir=tmp_path, rest=rest, apis=apis)
    path = tmp_path / f"{env}.inventory.json"
    return code, (json.loads(path.read_text()) if path.exists() else None), path


def test_every_declared_resource_gets_its_configuration_in_its_api_version(tmp_path, capsys):
    listed = search_of("clean")(P)
    rest = FakeRest()
    code, written, _ = record(tmp_path, search_of("clean"), rest, apis=())
    assert code == 0
    by_name = {e["name"]: e for e in written}
    mirrored = [e for e in listed if e["assetType"] in MIRRORS]
    assert mirrored, "the clean inventory lists resources of the types the stack mirrors"
    for entry in listed:
        out = by_name[entry["name"]]
        if entry["assetType"] not in MIRRORS:
            assert out == entry  # untouched
            continue
        version = MIRRORS[entry["assetType"]].version
        url = config_url(entry["assetType"], entry["name"])
        ours = [v for v in out["versionedResources"] if v["version"] == version]
        assert ours == [{"version": version, "resource": {"readFrom": url}}]
        # The search's other representations are kept; one of the same version is replaced.
        theirs = [v for v in entry.get("versionedResources", []) if v["version"] != version]
        assert [v for v in out["versionedResources"] if v["version"] != version] == theirs
    assert sorted(rest.asked) == sorted(config_url(e["assetType"], e["name"]) for e in mirrored)


def test_a_function_keeps_the_searched_v1_beside_the_recorded_v2(tmp_path):
    name = f"//cloudfunctions.googleapis.com/projects/{P}/locations/us-west2/functions/f"
    listed = [{"name": name, "assetType": "cloudfunctions.googleapis.com/Function",
               "versionedResources": [{"version": "v1", "resource": {"name": "asset"}},
                                      {"version": "v2", "resource": {"name": "stale"}}]}]
    code, written, _ = record(tmp_path, lambda p: listed, FakeRest(), apis=())
    assert code == 0
    assert written[0]["versionedResources"] == [
        {"version": "v1", "resource": {"name": "asset"}},
        {"version": "v2", "resource": {"readFrom": config_url(listed[0]["assetType"], name)}}]


def topics(n: int, project: str = P) -> list[dict]:
    return [{"name": f"//pubsub.googleapis.com/projects/{project}/topics/t{i:02d}",
             "assetType": "pubsub.googleapis.com/Topic"} for i in range(n)]


@pytest.mark.parametrize(("n", "lines"), [
    (23, ["read 10/23", "read 20/23", "read 23/23"]),
    (20, ["read 10/20", "read 20/20"]),
    (7, ["read 7/7"]),
    (0, []),
])
def test_progress_every_ten_configurations(tmp_path, capsys, n, lines):
    unmirrored = [{"name": f"//run.googleapis.com/projects/{P}/locations/l/services/s/revisions/r{i}",
                   "assetType": "run.googleapis.com/Revision"} for i in range(5)]
    code, _, _ = record(tmp_path, lambda p: topics(n) + unmirrored, FakeRest(), apis=())
    err = capsys.readouterr().err.splitlines()
    assert code == 0
    assert err == [f"inventory: {line} configurations" for line in lines]


def test_credentials_never_reach_the_file(tmp_path):
    channel = f"//monitoring.googleapis.com/projects/{P}/notificationChannels/4418093204431937114"
    service = f"//run.googleapis.com/projects/{P}/locations/us-west2/services/nba-phase1-scrapers"
    listed = [
        {"name": channel, "assetType": "monitoring.googleapis.com/NotificationChannel"},
        {"name": service, "assetType": "run.googleapis.com/Service", "versionedResources": [
            {"version": "v1", "resource": {"spec": {"template": {"spec": {"containers": [
                {"env": [{"name": "SLACK_WEBHOOK_SECRET", "value": SECRET_ENV}]}]}}}}}]},
    ]
    bodies = {
        config_url(listed[0]["assetType"], channel): {
            "type": "slack", "labels": {"channel_name": "#nba-pipeline-alerts",
                                        "auth_token": SECRET_TOKEN},
            "sensitiveLabels": {"authToken": SECRET_TOKEN}},
        config_url(listed[1]["assetType"], service): {
            "template": {"containers": [{"env": [
                {"name": "SLACK_WEBHOOK_SECRET", "value": SECRET_ENV},
                {"name": "SPORT", "value": "nba"}]}]}},
    }
    assert SECRET_TOKEN in json.dumps(bodies) and SECRET_ENV in json.dumps(listed)
    code, _, path = record(tmp_path, lambda p: listed, FakeRest(bodies), apis=())
    text = path.read_text()
    assert code == 0
    assert SECRET_TOKEN not in text and SECRET_ENV not in text
    assert text.count('"<masked>"') == 4  # auth_token, authToken, the v1 and the v2 env value
    assert '"#nba-pipeline-alerts"' in text and '"nba"' in text


def test_a_resource_deleted_since_the_search_is_kept_without_configuration(tmp_path, capsys):
    listed = topics(3)
    gone = config_url("pubsub.googleapis.com/Topic", listed[1]["name"])
    code, written, _ = record(tmp_path, lambda p: listed, FakeRest(fail={gone: 404}), apis=())
    err = capsys.readouterr().err.splitlines()
    assert code == 0
    assert [e["name"] for e in written] == [e["name"] for e in listed]
    assert written[1] == listed[1]
    assert "versionedResources" in written[0] and "versionedResources" in written[2]
    assert err[0] == (f"inventory: {listed[1]['name']} no longer exists (404 on GET {gone}); "
                      "recorded without its configuration")
    assert err[-1] == f"inventory: read {len(listed)}/{len(listed)} configurations"


@pytest.mark.parametrize(("status", "asset_type", "name", "role"), [
    (403, "pubsub.googleapis.com/Topic", f"//pubsub.googleapis.com/projects/{P}/topics/t",
     "roles/pubsub.viewer"),
    (403, "storage.googleapis.com/Bucket", "//storage.googleapis.com/nba-props-platform-nba-raw",
     "roles/storage.bucketViewer"),
    (403, "bigquery.googleapis.com/Table",
     f"//bigquery.googleapis.com/projects/{P}/datasets/nba_raw/tables/games",
     "roles/bigquery.metadataViewer"),
    (500, "firestore.googleapis.com/Database", f"//firestore.googleapis.com/projects/{P}/databases/(default)",
     "roles/datastore.viewer"),
])
def test_an_unreadable_configuration_exits_2_in_one_line_naming_resource_and_role(
        tmp_path, capsys, status, asset_type, name, role):
    listed = [*topics(2), {"name": name, "assetType": asset_type}]
    rest = FakeRest(fail={config_url(asset_type, name): status})
    code, written, _ = record(tmp_path, lambda p: listed, rest, apis=())
    [err] = capsys.readouterr().err.splitlines()
    assert code == 2 and written is None and list(tmp_path.iterdir()) == []
    assert err.startswith(f"inventory: reading the configuration of {name} (GET ")
    assert f": {status} Permission denied on " in err
    assert err.endswith(f"; the reading identity needs {role} on {P}")
    assert "roles/viewer" not in err


def test_a_name_its_api_cannot_read_is_kept_and_said(tmp_path, capsys):
    odd = {"name": f"//run.googleapis.com/projects/{P}/services/no-location",
           "assetType": "run.googleapis.com/Service"}
    code, written, _ = record(tmp_path, lambda p: [odd, *topics(1)], FakeRest(), apis=())
    err = capsys.readouterr().err.splitlines()
    assert code == 0 and odd in written
    assert err[0].startswith(f"inventory: {odd['name']}: not a run.googleapis.com/Service name")


def test_api_states_are_recorded_disabled_ones_added(tmp_path):
    apis = ("bigquery.googleapis.com", "cloudresourcemanager.googleapis.com",
            "secretmanager.googleapis.com")
    rest = FakeRest(states={"cloudresourcemanager.googleapis.com": "DISABLED",
                            "secretmanager.googleapis.com": "DISABLED"})
    listed = search_of("clean")(P)
    assert f"//serviceusage.googleapis.com/projects/{NUMBER}/services/bigquery.googleapis.com" in \
        {e["name"] for e in listed}
    for api in apis[1:]:
        assert f"//serviceusage.googleapis.com/projects/{NUMBER}/services/{api}" not in \
            {e["name"] for e in listed}
    code, written, _ = record(tmp_path, search_of("clean"), rest, apis=apis)
    assert code == 0
    states = {e["name"].rsplit("/", 1)[-1]: e for e in written
              if e["assetType"] == "serviceusage.googleapis.com/Service"}
    before = [e for e in listed if e["assetType"] == "serviceusage.googleapis.com/Service"]
    assert len(states) == len({*apis, *(e["name"].rsplit("/", 1)[-1] for e in before)})
    crm = "cloudresourcemanager.googleapis.com"
    assert states[crm] == {
        "name": f"//serviceusage.googleapis.com/projects/{NUMBER}/services/{crm}",
        "assetType": "serviceusage.googleapis.com/Service", "state": "DISABLED",
        "project": f"projects/{NUMBER}",
        "versionedResources": [{"version": "v1", "resource": {
            "name": f"projects/{NUMBER}/services/{crm}", "state": "DISABLED"}}]}
    assert states["secretmanager.googleapis.com"]["state"] == "DISABLED"
    bq = states["bigquery.googleapis.com"]
    assert bq["state"] == "ENABLED" and bq["displayName"] == "bigquery.googleapis.com"
    assert bq["versionedResources"][0]["resource"]["state"] == "ENABLED"
    not_listed = [api for api in apis if api not in {e["name"].rsplit("/", 1)[-1] for e in before}]
    assert len(written) == len(listed) + len(not_listed)  # added, the listed one replaced
    assert [u for u in rest.asked if "serviceusage" in u] == [
        f"https://serviceusage.googleapis.com/v1/projects/{P}/services/{api}" for api in apis]


def test_an_api_state_replaces_the_listed_one_when_the_search_named_the_project_by_id(tmp_path):
    by_id = f"//serviceusage.googleapis.com/projects/{P}/services/pubsub.googleapis.com"
    listed = [*topics(1), {"name": by_id, "assetType": "serviceusage.googleapis.com/Service",
                           "state": "ENABLED"}]
    code, written, _ = record(tmp_path, lambda p: listed, FakeRest(
        states={"pubsub.googleapis.com": "DISABLED"}), apis=("pubsub.googleapis.com",))
    assert code == 0
    [state] = [e for e in written if e["assetType"] == "serviceusage.googleapis.com/Service"]
    assert state["state"] == "DISABLED"
    assert state["name"].endswith(f"/{NUMBER}/services/pubsub.googleapis.com")


def test_an_unreadable_api_state_exits_2_naming_the_api_and_role(tmp_path, capsys):
    url = f"https://serviceusage.googleapis.com/v1/projects/{P}/services/run.googleapis.com"
    code, written, _ = record(tmp_path, lambda p: topics(1), FakeRest(fail={url: 403}),
                              apis=("pubsub.googleapis.com", "run.googleapis.com"))
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and written is None
    assert err[-1].startswith(f"inventory: reading the state of API run.googleapis.com in project {P}")
    assert err[-1].endswith(f"the reading identity needs roles/serviceusage.serviceUsageViewer on {P}")


def test_every_pipeline_api_state_is_read_by_default(tmp_path):
    from infra.model.apis import PIPELINE_APIS

    rest = FakeRest()
    code, written, _ = record(tmp_path, lambda p: [], rest, apis=None)
    assert code == 0
    assert rest.asked == [f"https://serviceusage.googleapis.com/v1/projects/{P}/services/{api}"
                          for api in PIPELINE_APIS]
    assert {e["name"].rsplit("/", 1)[-1] for e in written} == set(PIPELINE_APIS)


def test_adoption_reads_the_recorded_configuration(tmp_path):
    code, _, path = record(tmp_path, search_of("clean"), FakeRest(), apis=())
    assert code == 0
    lives = {x.name: x for x in load_inventory(path, P)}
    for live in lives.values():
        if live.asset_type in MIRRORS:
            assert live.resource_version == MIRRORS[live.asset_type].version
            assert live.resource == {"readFrom": config_url(live.asset_type, live.name)}
    revision = next(x for x in lives.values() if x.asset_type == "run.googleapis.com/Revision")
    assert (revision.resource_version, revision.resource) == ("", {})


def test_adoption_prefers_the_mirrored_version_over_a_newer_looking_one():
    job = f"//cloudscheduler.googleapis.com/projects/{P}/locations/us-west2/jobs/same-day-phase3"
    versioned = [{"version": "v1", "resource": {"schedule": "30 10 * * *"}},
                 {"version": "v1beta1", "resource": {"schedule": "0 0 * * *"}}]
    entry = {"name": job, "assetType": "cloudscheduler.googleapis.com/Job",
             "versionedResources": versioned}
    [live] = parse_inventory([entry], Path("mirrored"), P)
    assert (live.resource_version, live.resource["schedule"]) == ("v1", "30 10 * * *")
    # Without the mirrored version, the newest as before.
    [live] = parse_inventory([{**entry, "versionedResources": versioned[1:]}], Path("newest"), P)
    assert (live.resource_version, live.resource["schedule"]) == ("v1beta1", "0 0 * * *")
    # A type no API is mirrored for: the newest.
    other = {**entry, "assetType": "eventarc.googleapis.com/Trigger"}
    [live] = parse_inventory([other], Path("other"), P)
    assert live.resource_version == "v1beta1"
    # Cloud Run: the recorded v2 over the search's Knative v1 and a later-sorting v2beta.
    run = {"name": f"//run.googleapis.com/projects/{P}/locations/us-west2/services/s",
           "assetType": "run.googleapis.com/Service", "versionedResources": [
               {"version": "v1", "resource": {"kind": "Service"}},
               {"version": "v2beta", "resource": {"uri": "beta"}},
               {"version": "v2", "resource": {"uri": "https://s.run.app"}}]}
    [live] = parse_inventory([run], Path("run"), P)
    assert (live.resource_version, live.resource) == ("v2", {"uri": "https://s.run.app"})


def test_a_run_with_other_values_than_the_fixtures(tmp_path, capsys):
    """Another env, project, number and region; every name form; nothing from the fixtures."""
    dev, number = "nba-props-platform-dev", "123456789012"
    listed = [
        {"name": f"//run.googleapis.com/projects/{dev}/locations/europe-west1/services/svc-a",
         "assetType": "run.googleapis.com/Service", "project": f"projects/{number}"},
        {"name": "//storage.googleapis.com/dev-bucket-one", "assetType": "storage.googleapis.com/Bucket"},
        {"name": "//storage.googleapis.com/projects/_/buckets/dev-bucket-two",
         "assetType": "storage.googleapis.com/Bucket"},
        {"name": f"//bigquery.googleapis.com/projects/{dev}/datasets/ds_x/tables/t_y",
         "assetType": "bigquery.googleapis.com/Table"},
        {"name": f"//secretmanager.googleapis.com/projects/{number}/secrets/api-key",
         "assetType": "secretmanager.googleapis.com/Secret"},
        {"name": f"//iam.googleapis.com/projects/{dev}/serviceAccounts/x@{dev}.iam.gserviceaccount.com",
         "assetType": "iam.googleapis.com/ServiceAccount"},
        {"name": f"//firestore.googleapis.com/projects/{dev}/databases/orders",
         "assetType": "firestore.googleapis.com/Database"},
        {"name": f"//eventarc.googleapis.com/projects/{dev}/locations/europe-west1/triggers/tr",
         "assetType": "eventarc.googleapis.com/Trigger"},
    ]
    rest = FakeRest(number=number, states={"firestore.googleapis.com": "DISABLED"})
    code, written, _ = record(tmp_path, lambda p: listed, rest, env="dev",
                              apis=("firestore.googleapis.com",))
    assert code == 0
    assert rest.asked == [
        f"https://run.googleapis.com/v2/projects/{dev}/locations/europe-west1/services/svc-a",
        "https://storage.googleapis.com/storage/v1/b/dev-bucket-one",
        "https://storage.googleapis.com/storage/v1/b/dev-bucket-two",
        f"https://bigquery.googleapis.com/bigquery/v2/projects/{dev}/datasets/ds_x/tables/t_y",
        f"https://secretmanager.googleapis.com/v1/projects/{number}/secrets/api-key",
        f"https://iam.googleapis.com/v1/projects/{dev}/serviceAccounts/x@{dev}.iam.gserviceaccount.com",
        f"https://firestore.googleapis.com/v1/projects/{dev}/databases/orders",
        f"https://serviceusage.googleapis.com/v1/projects/{dev}/services/firestore.googleapis.com",
    ]
    configured = sum(1 for e in listed if e["assetType"] in MIRRORS)
    assert capsys.readouterr().err.splitlines() == [
        f"inventory: read {configured}/{configured} configurations"]
    [state] = [e for e in written if e["assetType"] == "serviceusage.googleapis.com/Service"]
    assert state["name"] == \
        f"//serviceusage.googleapis.com/projects/{number}/services/firestore.googleapis.com"
    assert state["state"] == "DISABLED"
    lives = {x.name: x for x in load_inventory(tmp_path / "dev.inventory.json", dev)}
    assert lives[state["name"]].path == f"projects/{dev}/services/firestore.googleapis.com"
    # (parse_inventory reads a `projects/_/buckets/<b>` name as another project's: the search
    # names buckets //storage.googleapis.com/<b>, the form adoption reads.)
    assert [n for n, x in lives.items() if x.foreign] in \
        ([], ["//storage.googleapis.com/projects/_/buckets/dev-bucket-two"])
    assert lives["//storage.googleapis.com/dev-bucket-one"].resource_version == "v1"


def test_the_summary_names_the_apis_not_enabled(tmp_path, capsys):
    rest = FakeRest(states={"run.googleapis.com": "DISABLED"})
    code, _, path = record(tmp_path, lambda p: topics(1), rest,
                           apis=("pubsub.googleapis.com", "run.googleapis.com"))
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out == [f"inventory: 3 resources → {path}; 0 build triggers → "
                   f"{tmp_path / 'prod.triggers.json'}; APIs not enabled: run.googleapis.com"]
    record(tmp_path, lambda p: topics(1), FakeRest(), apis=("run.googleapis.com",))
    assert "not enabled" not in capsys.readouterr().out
