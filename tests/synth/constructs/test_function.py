"""CloudFunction: hash-named bundle, runtime identity, and for a Pub/Sub function a trigger
identity with token creator for the agent and invoker on the function's Cloud Run service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from infra.synth.bundle import Bundle, build_bundle
from infra.synth.constructs.function import PUBSUB_EVENT
from tests.synth.constructs.support import AGENT, REGION, function, new_stack, topic
from tests.synth.tfassert import assert_inventory, synth

FN = "google_cloudfunctions2_function.orch__function"
RUNTIME_SA = "google_service_account.orch__runtime_identity"
TRIGGER_SA = "google_service_account.orch__trigger_identity"




@pytest.fixture(scope="module")
def doc(bundle: Bundle) -> dict[str, Any]:
    stack = new_stack("function")
    function(stack, bundle, "orch", trigger_topic=topic(stack), trigger_account_id="nba-trg-orch",
             pubsub_agent=AGENT, env=(("SPORT", "nba"),), timeout_seconds=540, memory_mb=512,
             description="Gates phase 4")
    function(stack, bundle, "canary")
    return synth(stack)


def test_inventory(doc: dict[str, Any], bundle: Bundle) -> None:
    assert_inventory(doc, counts={
        "google_cloudfunctions2_function": 2,
        "google_storage_bucket_object": 2,
        # Runtime identities of both, the trigger identity, the two build identities.
        "google_service_account": 5,
        "google_service_account_iam_member": 1,
        "google_cloud_run_v2_service_iam_member": 1,
        # Each build identity's three project roles.
        "google_project_iam_member": 6,
        "google_pubsub_topic": 1,
    }, values={
        "google_storage_bucket_object.orch__bundle": {
            "name": bundle.object_name, "bucket": "nba-sources"},
        FN: {
            "name": "nba-orch", "location": REGION, "deletion_policy": "PREVENT",
            "description": "Gates phase 4",
            "build_config": {
                "runtime": "python312", "entry_point": "handler",
                "service_account": "${google_service_account.orch_build__identity.id}",
                "source": {"storage_source": {
                    "bucket": "nba-sources",
                    "object": "${google_storage_bucket_object.orch__bundle.name}",
                    # Optional+Computed: unset, an update sends the API's stale copy's.
                    "generation": "${google_storage_bucket_object.orch__bundle.generation}"}},
            },
            "service_config": {
                "service_account_email": f"${{{RUNTIME_SA}.email}}",
                "timeout_seconds": 540, "available_memory": "512M",
                "ingress_settings": "ALLOW_INTERNAL_ONLY",
                "environment_variables": {"SPORT": "nba"},
            },
            "event_trigger": {
                "event_type": PUBSUB_EVENT, "pubsub_topic": "${google_pubsub_topic.t__topic.id}",
                "retry_policy": "RETRY_POLICY_RETRY", "trigger_region": REGION,
                "service_account_email": f"${{{TRIGGER_SA}.email}}",
            },
            # The build grants and the agent's token creator precede the function.
            "depends_on": [
                "google_project_iam_member.orch_build__identity_artifactregistry_writer",
                "google_project_iam_member.orch_build__identity_logging_logWriter",
                "google_project_iam_member.orch_build__identity_storage_objectUser",
                "google_service_account_iam_member.orch__trigger_identity_token_creator_agent",
            ],
        },
        TRIGGER_SA: {"account_id": "nba-trg-orch"},
        "google_service_account_iam_member.orch__trigger_identity_token_creator_agent": {
            "role": "roles/iam.serviceAccountTokenCreator", "member": AGENT.member,
            "service_account_id": f"${{{TRIGGER_SA}.name}}",
        },
        "google_cloud_run_v2_service_iam_member.orch__invoker_orch_trigger_identity": {
            "role": "roles/run.invoker", "member": f"serviceAccount:${{{TRIGGER_SA}.email}}",
            # gen2 checks the invoker on the function's Cloud Run service.
            "name": f"${{{FN}.service_config[0].service}}",
        },
    })
    invoker = doc["resource"]["google_cloud_run_v2_service_iam_member"][
        "orch__invoker_orch_trigger_identity"]
    # Its name changes only on replacement: a whole-function trigger would fire on code changes.
    assert "lifecycle" not in invoker


def test_bundle_object_is_named_by_content_hash(bundle: Bundle) -> None:
    assert bundle.object_name == f"functions/fn-{bundle.sha256[:16]}.zip"


def test_an_http_function_has_no_trigger(doc: dict[str, Any]) -> None:
    body = doc["resource"]["google_cloudfunctions2_function"]["canary__function"]
    assert "event_trigger" not in body
    assert "environment_variables" not in body["service_config"]


def test_pubsub_function_needs_a_trigger_identity(bundle: Bundle) -> None:
    stack = new_stack("function-invalid")
    with pytest.raises(ValueError, match="a Pub/Sub trigger needs trigger_account_id"):
        function(stack, bundle, "fn", trigger_topic=topic(stack))


def test_bundle_errors_name_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"function 'fn': .*main.py not found"):
        build_bundle("fn", tmp_path / "out", tmp_path)


def test_an_adopted_functions_invoker_names_its_live_service_and_precedes_it(
        bundle: Bundle) -> None:
    """Adopted (``live_service``): the invoker is named literally, so the function (whose
    trigger identity switches in the first apply) waits for it to exist and propagate; a new
    function's invoker names the computed service and cannot precede it."""
    stack = new_stack("function-adopted")
    fn = function(stack, bundle, "orch", trigger_topic=topic(stack),
                  trigger_account_id="nba-trg-orch", pubsub_agent=AGENT,
                  live_service="nba-orch")
    new = function(stack, bundle, "fresh", trigger_topic=topic(stack, "t2"),
                   trigger_account_id="nba-trg-fresh", pubsub_agent=AGENT)
    doc = synth(stack)
    members = doc["resource"]["google_cloud_run_v2_service_iam_member"]
    assert members["orch__invoker_orch_trigger_identity"]["name"] == "nba-orch"
    assert members["fresh__invoker_fresh_trigger_identity"]["name"] == (
        "${google_cloudfunctions2_function.fresh__function.service_config[0].service}")
    assert fn.trigger_identity is not None and new.trigger_identity is not None
    (_, adopted_excluded), = fn.trigger_identity.users
    (_, new_excluded), = new.trigger_identity.users
    assert adopted_excluded == frozenset()
    assert new_excluded == {"google_cloud_run_v2_service_iam_member."
                            "fresh__invoker_fresh_trigger_identity"}
