"""What a first apply on the live project needs from the synthesized stacks: deployed images
left alone, deadlines that cover their targets, builds and deliveries that wait for their
grants, data access from the manifest, no secret in state, and the APIs in order."""

from __future__ import annotations

import pytest
from cdktn import App, TerraformStack

from infra.model.envs import get_env
from infra.model.naming import Names
from infra.model.permissions import BUILD_SOURCE_CONDITION, PUBSUB_AGENT
from infra.model.pipeline import load
from infra.model.provider.lifecycle import replacement_trigger
from infra.model.wiring import derive
from infra.stackjson.stack import StackJson, first
from infra.synth.constructs.scheduled_job import attempt_deadline
from tests.synth.tfassert import assert_at, at, iam_members_on, resource

SVC3 = "google_cloud_run_v2_service.phase3_analytics_processors__service"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_services_leave_the_deployed_image_to_their_release_path(
        stacks: dict[str, StackJson], env: str) -> None:
    for svc in stacks[env].of_type("google_cloud_run_v2_service"):
        # Pinned literally: the paths Terraform reads, not the constant the construct uses.
        assert_at(svc.body, "lifecycle.ignore_changes",
                  ["template[0].containers[0].image", "client", "client_version"])
        # The declared image stays: it is what a create starts from.
        assert at(svc.body, "template.containers[0].image").startswith("us-west2-docker.pkg.dev/")
        # The stack's own variables stay managed.
        names = {e["name"] for e in at(svc.body, "template.containers[0].env")}
        assert {"GCP_PROJECT", "SPORT"} <= names, svc.address


def test_service_timeouts_come_from_the_manifest(prod: StackJson) -> None:
    names = Names(get_env("prod"))
    by_name = {r.body["name"]: r.body for r in prod.of_type("google_cloud_run_v2_service")}
    for svc in load().services:
        assert_at(by_name[names.service(svc)], "template.timeout", f"{svc.timeout_seconds}s")
    assert load().service("phase3-analytics-processors").timeout_seconds == 540


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_scheduler_deadlines_cover_their_targets(stacks: dict[str, StackJson], env: str) -> None:
    stack = stacks[env]
    for job in stack.of_type("google_cloud_scheduler_job"):
        uri = first(job.body["http_target"])["uri"]
        target = stack.refs(uri)[0]
        body = resource(stack, target)
        timeout = (int(at(body, "service_config.timeout_seconds"))
                   if target.startswith("google_cloudfunctions2_function.")
                   else int(at(body, "template.timeout").removesuffix("s")))
        deadline = int(job.body["attempt_deadline"].removesuffix("s"))
        assert timeout <= deadline <= 1800, f"{job.address}: {deadline}s for {timeout}s"
        assert_at(job.body, "retry_config.min_backoff_duration", "60s")
    backfill = resource(stack, "google_cloud_scheduler_job.same_day_phase3_job__job")
    assert_at(backfill, "attempt_deadline", "570s")


def test_a_target_slower_than_schedulers_maximum_is_refused() -> None:
    assert attempt_deadline("j", 540) == 570
    assert attempt_deadline("j", 1790) == 1800
    assert attempt_deadline("j", 1) == 31
    with pytest.raises(ValueError, match=r"job j: the target's timeout 1801s exceeds "
                                         r"Scheduler's 1800s attempt deadline"):
        attempt_deadline("j", 1801)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_functions_wait_for_their_build_identitys_grants(
        stacks: dict[str, StackJson], env: str) -> None:
    stack = stacks[env]
    builder = "google_service_account.function_builder__identity"
    grants = sorted(r.address for r in stack.of_type("google_project_iam_member")
                    if stack.refs(r.body["member"]) == [builder])
    assert [r.body["role"] for r in stack.of_type("google_project_iam_member")
            if r.address in grants] == ["roles/artifactregistry.writer",
                                        "roles/logging.logWriter", "roles/storage.objectUser"]
    # Object read/write only in Google's function source buckets, never the raw files.
    (objects,) = [r for r in stack.of_type("google_project_iam_member")
                  if r.address in grants and r.body["role"] == "roles/storage.objectUser"]
    assert objects.body["condition"]["expression"] == BUILD_SOURCE_CONDITION[1]
    for fn in stack.of_type("google_cloudfunctions2_function"):
        assert_at(fn.body, "build_config.service_account", f"${{{builder}.id}}")
        assert set(grants) <= set(fn.body["depends_on"]), f"{fn.address}.depends_on"


def test_the_raw_files_bucket_is_protected_and_granted_from_the_manifest(prod: StackJson) -> None:
    bucket = "google_storage_bucket.bucket_raw__bucket"
    assert_at(resource(prod, bucket), "name", "nba-props-platform-nba-raw")
    assert_at(resource(prod, bucket), "lifecycle.prevent_destroy", True)
    members = {r.body["member"]: r.body["role"] for r in prod.of_type(
        "google_storage_bucket_iam_member") if prod.refs(r.body["bucket"]) == [bucket]}
    assert members == {
        "serviceAccount:${google_service_account.phase1_scrapers__identity.email}":
            "roles/storage.objectUser",
        "serviceAccount:${google_service_account.phase2_raw_processors__identity.email}":
            "roles/storage.objectViewer",
    }


def test_services_read_the_previous_phase_and_run_queries(prod: StackJson) -> None:
    member = "serviceAccount:${google_service_account.phase3_analytics_processors__identity.email}"
    on_raw = {b["member"]: b["role"] for _, b in
              iam_members_on(prod, "google_bigquery_dataset.dataset_raw__dataset")}
    assert on_raw[member] == "roles/bigquery.dataViewer"
    project_roles = {r.body["role"] for r in prod.of_type("google_project_iam_member")
                     if r.body["member"] == member}
    assert project_roles == {"roles/bigquery.jobUser"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_secret_is_read_through_a_data_source(stacks: dict[str, StackJson], env: str) -> None:
    data = stacks[env].data
    assert set(data.get("data", {})) == {"google_project"}
    assert set(data["ephemeral"]) == {"google_secret_manager_secret_version"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_resource_manager_and_the_pubsub_agent_wait_for_their_apis(
        stacks: dict[str, StackJson], env: str) -> None:
    stack = stacks[env]
    crm = "google_project_service.apis__cloudresourcemanager"
    assert crm in stack.resources
    assert crm in resource(stack, "data.google_project.project")["depends_on"]
    for r in stack.of_type("google_project_iam_member"):
        assert crm in r.body["depends_on"], r.address
    agent_grants = [r for r in stack.resources.values()
                    if r.type.endswith("_iam_member") and "gcp-sa-pubsub" in r.body["member"]]
    assert len(agent_grants) == sum(1 for g in derive(load(), get_env(env)).grants
                                    if g.member == PUBSUB_AGENT)
    for r in agent_grants:
        assert "google_project_service.apis__pubsub" in r.body["depends_on"], r.address


def test_replacement_triggers_name_an_attribute_never_a_whole_resource() -> None:
    assert replacement_trigger(SVC3) == f"{SVC3}.uid"
    assert replacement_trigger("google_bigquery_dataset.d") == (
        "google_bigquery_dataset.d.creation_time")
    with pytest.raises(ValueError, match=r"no attribute of google_cloudfunctions2_function is "
                                         r"known to change only on replacement"):
        replacement_trigger("google_cloudfunctions2_function.f")
    with pytest.raises(ValueError, match="needs a literal resource address"):
        replacement_trigger(f"{SVC3}.uid")


def test_a_grant_no_construct_made_cannot_be_waited_for() -> None:
    from cdktn_provider_google.pubsub_topic import PubsubTopic

    from infra.model.permissions import Grant, Target
    from infra.synth.constructs.base import wait_for

    topic = PubsubTopic(TerraformStack(App(), "wait-under-test"), "t", name="t")
    with pytest.raises(ValueError, match=r"google_pubsub_topic cannot wait for x roles/run.invoker"
                                         r" on run.service s: no construct made it"):
        wait_for(topic, [Grant("serviceAccount:x", "roles/run.invoker",
                               Target("run.service", "s"))])
