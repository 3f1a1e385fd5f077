"""Firestore: the protected default database, TTL fields, project-level data roles."""

from __future__ import annotations

from typing import Any

from cdktn import TerraformStack

from infra.synth.constructs.firestore import Firestore, FirestoreProps
from tests.synth.constructs.support import PROJECT, identity, synthesized
from tests.synth.tfassert import assert_inventory

DATABASE = "google_firestore_database.firestore__database"


def build(stack: TerraformStack) -> None:
    db = Firestore(stack, "fs", FirestoreProps(PROJECT, "us-west2",
                                               ("phase3_completion", "processors")))
    db.grant_read_write(identity(stack, "nba-fn-orch", "orch"))
    db.grant_read(identity(stack, "nba-fn-canary", "canary"))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    ttl = {"database": f"${{{DATABASE}.name}}", "field": "_expires_at", "ttl_config": {},
           "index_config": {}}
    assert_inventory(doc, counts={
        "google_firestore_database": 1,
        "google_firestore_field": 2,
        "google_project_iam_member": 2,
        "google_service_account": 2,
    }, values={
        DATABASE: {"name": "(default)", "location_id": "us-west2", "type": "FIRESTORE_NATIVE",
                   "delete_protection_state": "DELETE_PROTECTION_ENABLED",
                   "deletion_policy": "ABANDON", "lifecycle": {"prevent_destroy": True}},
        "google_firestore_field.firestore__ttl_phase3_completion":
            {**ttl, "collection": "phase3_completion"},
        "google_firestore_field.firestore__ttl_processors": {**ttl, "collection": "processors"},
        "google_project_iam_member.orch__identity_datastore_user": {
            "role": "roles/datastore.user",
            "member": "serviceAccount:${google_service_account.orch__identity.email}"},
        "google_project_iam_member.canary__identity_datastore_viewer": {
            "role": "roles/datastore.viewer",
            "member": "serviceAccount:${google_service_account.canary__identity.email}"},
    })
