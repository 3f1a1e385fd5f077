"""``infra.live.inventory``: what the official clients return becomes what adoption reads."""

from pathlib import Path

from google.cloud import asset_v1
from google.cloud.devtools import cloudbuild_v1

from infra.live.adopt_inputs import parse_inventory, parse_triggers
from infra.live.inventory import AS_GCLOUD, clean

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
