"""Data stores: Firestore and BigQuery data cannot be destroyed by an apply."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

from iam.rules.engine import LIFECYCLE_DOC, Context, Finding, rule
from infra.stackjson.stack import first

DATA_STORES = ("google_firestore_database", "google_bigquery_dataset", "google_bigquery_table")
# A field that, at this value, lets a destroy delete the data with the resource.
DESTROY_ENABLERS: Mapping[str, tuple[tuple[str, object], ...]] = {
    "google_firestore_database": (("deletion_policy", "DELETE"),
                                  ("delete_protection_state", "DELETE_PROTECTION_DISABLED")),
    "google_bigquery_dataset": (("delete_contents_on_destroy", True),),
    "google_bigquery_table": (("deletion_protection", False),),
}


@rule("DATA-001", "Data stores cannot be destroyed by an apply",
      see=LIFECYCLE_DOC + "#prevent_destroy",
      fix="lifecycle { prevent_destroy = true }")
def data_protection(ctx: Context) -> Iterator[Finding]:
    """A renamed construct or a removed manifest entry plans the destroy of the Firestore
    database or a BigQuery dataset or table, and an approved apply deletes the data.
    prevent_destroy makes such a plan fail, and the delete-contents / deletion-protection-off
    flags must stay unset."""
    g = ctx.graph
    for rtype in DATA_STORES:
        for res in g.resources(rtype):
            lifecycle = first(res.body.get("lifecycle"))
            if lifecycle.get("prevent_destroy") is not True:
                yield Finding(res.address, "lifecycle.prevent_destroy is not true: a rename or "
                              "a removed manifest entry plans the destroy of pipeline data "
                              "(completion tracking, orchestration tables) and apply carries "
                              "it out; set prevent_destroy = true (the data constructs do)")
            for field, value in DESTROY_ENABLERS[rtype]:
                if res.body.get(field) == value:
                    yield Finding(res.address, f"{field} = {json.dumps(value)} lets a destroy "
                                  "delete the data with the resource; remove it")
