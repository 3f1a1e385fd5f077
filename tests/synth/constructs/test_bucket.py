"""Bucket: private, uniform access, object readers granted on this bucket only."""

from __future__ import annotations

from typing import Any

from cdktn import TerraformStack

from infra.synth.constructs.bucket import Bucket, BucketProps
from tests.synth.constructs.support import INVENTORIES, PROJECT, identity, synthesized
from tests.synth.tfassert import assert_inventory_file


def build(stack: TerraformStack) -> None:
    bucket = Bucket(stack, "b", BucketProps("nba-sources", "sources", PROJECT, "US"))
    bucket.grant_read(identity(stack, "nba-build-fn", "build"))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory_file(doc, INVENTORIES / "bucket.yaml")
