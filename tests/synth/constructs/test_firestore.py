"""Firestore: the protected default database, TTL fields, project-level data roles."""

from __future__ import annotations

from typing import Any

from cdktn import TerraformStack

from infra.synth.constructs.firestore import Firestore, FirestoreProps
from tests.synth.constructs.support import INVENTORIES, PROJECT, identity, synthesized
from tests.synth.tfassert import assert_inventory_file


def build(stack: TerraformStack) -> None:
    db = Firestore(stack, "fs", FirestoreProps(PROJECT, "us-west2",
                                               ("phase3_completion", "processors")))
    db.grant_read_write(identity(stack, "nba-fn-orch", "orch"))
    db.grant_read(identity(stack, "nba-fn-canary", "canary"))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory_file(doc, INVENTORIES / "firestore.yaml")
