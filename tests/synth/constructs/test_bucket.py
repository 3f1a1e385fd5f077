"""Bucket: private, uniform access, object readers granted on this bucket only."""

from __future__ import annotations

from typing import Any

from cdktn import TerraformStack

from infra.synth.constructs.bucket import Bucket, BucketProps
from tests.synth.constructs.support import PROJECT, identity, synthesized
from tests.synth.tfassert import assert_inventory

BUCKET = "google_storage_bucket.sources__bucket"


def build(stack: TerraformStack) -> None:
    bucket = Bucket(stack, "b", BucketProps("nba-sources", "sources", PROJECT, "US"))
    bucket.grant_read(identity(stack, "nba-build-fn", "build"))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory(doc, counts={
        "google_storage_bucket": 1,
        "google_storage_bucket_iam_member": 1,
        "google_service_account": 1,
    }, values={
        BUCKET: {"name": "nba-sources", "location": "US", "uniform_bucket_level_access": True,
                 "public_access_prevention": "enforced", "force_destroy": False},
        "google_storage_bucket_iam_member.sources__reader_build_identity": {
            "role": "roles/storage.objectViewer", "bucket": f"${{{BUCKET}.name}}",
            "member": "serviceAccount:${google_service_account.build__identity.email}",
            "lifecycle": {"replace_triggered_by": [f"{BUCKET}.time_created"]},
        },
    })
