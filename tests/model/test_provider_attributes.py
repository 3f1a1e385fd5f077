"""The provider facts table: a row for every attribute the stacks set, facts that hold, sources that exist.

The stacks come from the session fixture ``stacks`` (tests/conftest.py: synthesized once per session).
Only types of the google provider are covered (``google_*``, ``data.google_*``, ``ephemeral.google_*``);
other providers' resources (``time_sleep`` of hashicorp/time) have no rows.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import pytest

from infra.model.provider.attributes import API_VERSION, FACTS, load, normalize_path, resettable
from infra.stackjson.stack import Resource, StackJson
from tests.model.provider_facts import fact_for, set_paths

MIRROR = Path(os.environ.get("PROVIDER_SOURCE_MIRROR", "/work/.mirror"))
REPOS = {"mmv1/": "GoogleCloudPlatform+magic-modules", "google/": "hashicorp+terraform-provider-google",
         "website/": "hashicorp+terraform-provider-google"}
SOURCE = re.compile(r"^(?P<file>\S+)#L(?P<start>\d+)(?:-L(?P<end>\d+))?: ")


def is_google(rtype: str) -> bool:
    return rtype.removeprefix("data.").removeprefix("ephemeral.").startswith("google_")


def missing_rows(resources: Iterable[Resource]) -> list[tuple[str, str]]:
    """Every (type, path) a google resource sets that has no row."""
    missing = {(res.type, path) for res in resources if is_google(res.type)
               for path in set_paths(res.body, res.type) if fact_for(res.type, path) is None}
    return sorted(missing)


# --- coverage of the synthesized stacks ---

@pytest.mark.parametrize("env", ["dev", "prod"])
def test_every_set_attribute_has_a_row(stacks: dict[str, StackJson], env: str) -> None:
    resources = list(stacks[env].resources.values())
    assert sum(is_google(res.type) for res in resources) > 50, "the synthesized stack is nearly empty"
    missing = missing_rows(resources)
    assert not missing, (f"pipeline-{env} sets attributes with no row in "
                         "infra/model/provider/attributes.yaml (add each with its provider source):\n"
                         + "\n".join(f"  {rtype}: {path}" for rtype, path in missing))


def test_every_synthesized_google_type_has_an_api_version(stacks: dict[str, StackJson]) -> None:
    types = {res.type for stack in stacks.values() for res in stack.resources.values() if is_google(res.type)}
    assert sorted(types - set(API_VERSION)) == []


def test_the_coverage_check_can_fail() -> None:
    body = {
        "name": "svc", "location": "us-west2", "bogus_attribute": 1, "labels": {"team": "x"},
        "depends_on": ["x"], "lifecycle": {"ignore_changes": ["client"]}, "//": {"metadata": {}},
        "template": {"containers": [{"image": "i", "unknown_nested": "z"}],
                     "scaling": {"max_instance_count": 3}},
    }
    resources = [Resource("google_cloud_run_v2_service", "svc", body),
                 Resource("google_not_a_type", "x", {"name": "n"}),
                 Resource("time_sleep", "wait", {"create_duration": "30s"})]
    assert missing_rows(resources) == [
        ("google_cloud_run_v2_service", "bogus_attribute"),
        ("google_cloud_run_v2_service", "template.containers[].unknown_nested"),
        ("google_not_a_type", "name"),
    ]


# --- paths ---

@pytest.mark.parametrize(("raw", "normal"), [
    ("template.containers.0.env.3.name", "template.containers[].env[].name"),
    ("template.containers[0].env[3].name", "template.containers[].env[].name"),
    ("template[0].containers[0].image", "template[].containers[].image"),
    ("labels.%", "labels"),
    ("name", "name"),
])
def test_normalize_path(raw: str, normal: str) -> None:
    assert normalize_path(raw) == normal


def test_fact_for_finds_rows_whatever_the_index_style() -> None:
    run = "google_cloud_run_v2_service"
    rows = FACTS[run]
    scaling = rows["template.scaling.max_instance_count"]
    assert fact_for(run, "template.0.scaling.0.max_instance_count") is scaling
    assert fact_for(run, "template[0].containers[0].env[2].name") is rows["template.containers[].env[].name"]
    assert fact_for(run, "no_such_attribute") is None
    assert fact_for("google_not_a_type", "name") is None


def test_fact_for_finds_the_map_row_of_a_key() -> None:
    fn = "google_cloudfunctions2_function"
    env_row = FACTS[fn]["service_config.environment_variables"]
    assert fact_for(fn, "service_config.environment_variables.PIPELINE_ENV") is env_row
    topic_labels = FACTS["google_pubsub_topic"]["labels"]
    assert fact_for("google_pubsub_topic", "labels.app.kubernetes.io/name") is topic_labels
    # only a map row holds deeper keys: a leaf row does not
    assert fact_for(fn, "description.extra") is None


def test_set_paths_skips_meta_arguments_and_stops_at_maps() -> None:
    body = {"depends_on": ["a"], "lifecycle": {"prevent_destroy": True}, "//": {"metadata": {"path": "p"}},
            "provider": "google.x", "count": 1,
            "service_config": {"environment_variables": {"A": "1", "B": "2"}, "timeout_seconds": 60},
            "build_config": [{"source": {"storage_source": {"bucket": "b"}}}],
            "labels": {}, "event_trigger": {}}
    assert set_paths(body) == {"service_config.environment_variables", "service_config.timeout_seconds",
                               "build_config[].source.storage_source.bucket", "labels", "event_trigger"}
    # with the type, a single block written as a list of one takes its row's spelling
    assert "build_config.source.storage_source.bucket" in set_paths(body, "google_cloudfunctions2_function")


# --- facts adoption relies on ---

def test_bigquery_table_replacement_triggers() -> None:
    table = FACTS["google_bigquery_table"]
    assert "location" not in table or table["location"].force_new is False  # output only on a table
    for path in ("table_id", "dataset_id", "project", "time_partitioning.field"):
        assert table[path].force_new is True, path
    schema = table["schema"]
    assert schema.force_new == "partial"
    assert "resourceBigQueryTableSchemaCustomizeDiff" in schema.source
    assert schema.computed is True
    assert table["deletion_protection"].omitted == "terraform-only"


def test_corrected_facts() -> None:
    fn = FACTS["google_cloudfunctions2_function"]
    generation = fn["build_config.source.storage_source.generation"]
    assert (generation.computed, generation.omitted, generation.convert) == (True, "keeps-live", "custom")
    assert fn["description"].omitted == "reset"
    policy = fn["deletion_policy"]
    assert (policy.omitted, policy.default, policy.api) == ("terraform-only", "DELETE", None)
    assert "deletion_protection" not in fn

    run = FACTS["google_cloud_run_v2_service"]
    protection = run["deletion_protection"]
    assert (protection.omitted, protection.default, protection.api) == ("terraform-only", True, None)
    assert run["template.execution_environment"].omitted == "reset"
    for computed in ("template.containers[].resources", "template.containers[].startup_probe",
                     "template.max_instance_request_concurrency", "template.scaling.max_instance_count"):
        assert (run[computed].computed, run[computed].omitted) == (True, "keeps-live"), computed

    bucket = FACTS["google_storage_bucket"]
    assert bucket["enable_object_retention"].force_new is True
    assert bucket["location"].force_new is True
    assert (bucket["storage_class"].omitted, bucket["storage_class"].default) == ("default", "STANDARD")
    assert bucket["force_destroy"].omitted == "terraform-only"

    database = FACTS["google_firestore_database"]
    assert database["cmek_config"].force_new is True
    assert database["location_id"].force_new is True
    pitr = database["point_in_time_recovery_enablement"]
    assert (pitr.omitted, pitr.default) == ("default", "POINT_IN_TIME_RECOVERY_DISABLED")

    dataset = FACTS["google_bigquery_dataset"]
    for path in ("default_table_expiration_ms", "default_partition_expiration_ms"):
        assert (dataset[path].omitted, dataset[path].convert) == ("reset", "int"), path

    subscription = FACTS["google_pubsub_subscription"]
    assert subscription["enable_message_ordering"].force_new is True
    assert subscription["filter"].force_new is True


def test_labels_are_non_authoritative_but_user_labels_are_not() -> None:
    for rtype in ("google_cloud_run_v2_service", "google_pubsub_topic", "google_storage_bucket",
                  "google_bigquery_dataset"):
        assert FACTS[rtype]["labels"].omitted == "keeps-live", rtype
    assert FACTS["google_monitoring_alert_policy"]["user_labels"].omitted == "reset"


def test_resettable_lists_what_an_omission_writes_back() -> None:
    bucket = {fact.path for fact in resettable("google_storage_bucket")}
    assert {"lifecycle_rule", "retention_policy", "storage_class"} <= bucket
    assert not {"versioning", "soft_delete_policy", "force_destroy", "labels"} & bucket
    for rtype in FACTS:
        for fact in resettable(rtype):
            assert fact.omitted in ("reset", "default") and fact.api, (rtype, fact.path)
    assert resettable("google_not_a_type") == ()
    assert resettable("data.google_project") == ()


def test_every_row_names_its_type_and_path() -> None:
    for rtype, rows in FACTS.items():
        for path, fact in rows.items():
            assert (fact.type, fact.path) == (rtype, path)
            assert normalize_path(path) == path


# --- provenance ---

@cache
def _lines(repo: str, file: str) -> int | None:
    result = subprocess.run(["git", "-C", str(MIRROR / repo / "repo"), "show", f"HEAD:{file}"],
                            capture_output=True, text=True, check=False)
    return len(result.stdout.splitlines()) if result.returncode == 0 else None


@pytest.mark.skipif(not MIRROR.is_dir(), reason=f"no provider source mirror at {MIRROR} (CI has none)")
def test_every_source_cites_an_existing_file_and_lines() -> None:
    bad = []
    for rtype, rows in FACTS.items():
        for path, fact in rows.items():
            match = SOURCE.match(fact.source)
            assert match, (rtype, path, fact.source)
            file = match["file"]
            repo = next((name for prefix, name in REPOS.items() if file.startswith(prefix)), None)
            length = _lines(repo, file) if repo else None
            end = int(match["end"] or match["start"])
            if length is None:
                bad.append(f"{rtype} {path}: {file} is not in the mirrored repositories")
            elif not int(match["start"]) <= end <= length:
                bad.append(f"{rtype} {path}: {file} has {length} lines, cited L{match['start']}-L{end}")
    assert not bad, "\n".join(bad)


# --- validation ---

GOOD_ROW = """\
      force_new: false
      computed: false
      omitted: reset
      default: ''
      api: description
      convert: same
      source: 'mmv1/products/pubsub/Topic.yaml#L1: description'
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "attributes.yaml"
    path.write_text(text)
    return path


def test_load_reads_a_good_file(tmp_path: Path) -> None:
    facts, versions = load(write(tmp_path, "google_pubsub_topic:\n  api_version: v1\n  attributes:\n"
                                           "    description:\n" + GOOD_ROW))
    assert versions == {"google_pubsub_topic": "v1"}
    assert facts["google_pubsub_topic"]["description"].api == "description"


@pytest.mark.parametrize(("change", "field"), [
    (("omitted: reset", "omitted: sometimes"), "omitted"),
    (("force_new: false", "force_new: maybe"), "force_new"),
    (("computed: false", "computed: 'no'"), "computed"),
    (("convert: same", "convert: magic"), "convert"),
    (("source: 'mmv1/products/pubsub/Topic.yaml#L1: description'", "source: Topic.yaml"), "source"),
    (("convert: same", "convert: same\n      colour: blue"), "colour"),
    (("      api: description\n", ""), "api"),
    (("omitted: reset", "omitted: terraform-only"), "api"),
])
def test_validation_errors_name_type_path_and_field(tmp_path: Path, change: tuple[str, str],
                                                    field: str) -> None:
    row = GOOD_ROW.replace(*change)
    bad = write(tmp_path, "google_pubsub_topic:\n  api_version: v1\n  attributes:\n    description:\n" + row)
    with pytest.raises(ValueError, match=rf"google_pubsub_topic description: field '{field}'"):
        load(bad)


def test_validation_rejects_bad_types_and_paths(tmp_path: Path) -> None:
    header = "google_pubsub_topic:\n  api_version: v1\n  attributes:\n"
    with pytest.raises(ValueError, match=r"google_pubsub_topic: field 'api_version'"):
        load(write(tmp_path, header.replace("v1", "latest") + "    description:\n" + GOOD_ROW))
    with pytest.raises(ValueError, match=r"google_pubsub_topic: field 'owner'"):
        load(write(tmp_path, "google_pubsub_topic:\n  owner: me\n  api_version: v1\n  attributes: {}\n"))
    with pytest.raises(ValueError, match=r"google_pubsub_topic template.containers.0.image: field '<path>'"):
        load(write(tmp_path, header + "    template.containers.0.image:\n" + GOOD_ROW))
