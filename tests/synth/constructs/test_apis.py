"""ProjectApis: every pipeline API enabled and kept on destroy; resources wait for theirs."""

from __future__ import annotations

from typing import Any

import pytest
from cdktn import TerraformStack

from infra.synth.constructs.apis import PIPELINE_APIS, ProjectApis, apis_for
from tests.synth.constructs.support import PROJECT, new_stack, service, synthesized, topic
from tests.synth.tfassert import assert_inventory


def build(stack: TerraformStack) -> None:
    apis = ProjectApis(stack, "apis", PROJECT)
    topic(stack)
    service(stack)
    apis.order_before(stack)


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory(doc, counts={
        "google_project_service": len(PIPELINE_APIS),
        "google_pubsub_topic": 1,
        "google_cloud_run_v2_service": 1,
        "google_service_account": 1,
    }, values={
        **{f"google_project_service.apis__{api.split('.')[0]}": {
            "service": api, "project": PROJECT, "disable_on_destroy": False,
            "disable_dependent_services": False} for api in PIPELINE_APIS},
        "google_pubsub_topic.t__topic": {"depends_on": ["google_project_service.apis__pubsub"]},
        "google_cloud_run_v2_service.svc__service": {
            "depends_on": ["google_project_service.apis__run"]},
        "google_service_account.svc__identity": {
            "depends_on": ["google_project_service.apis__iam"]},
    })


def test_iam_members_wait_through_their_target() -> None:
    assert apis_for("google_cloud_run_v2_service_iam_member") == ()
    assert apis_for("google_cloudfunctions2_function") == (
        "cloudfunctions", "cloudbuild", "artifactregistry", "eventarc", "run")


def test_a_resource_needing_a_missing_api_is_refused() -> None:
    stack = new_stack("apis-missing")
    apis = ProjectApis(stack, "apis", PROJECT, apis=("pubsub.googleapis.com", "iam.googleapis.com"))
    service(stack)
    with pytest.raises(KeyError, match=r"google_cloud_run_v2_service needs the APIs \['run'\]"):
        apis.order_before(stack)
