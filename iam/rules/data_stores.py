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


# Runtime resources that run live and that no apply may delete: (type, field, required value,
# the provider default when omitted). Cloud Run's deletion_protection defaults to true and an
# import sets it true (website/docs/r/cloud_run_v2_service.html.markdown); a function's
# deletion_policy defaults to DELETE (resource_cloudfunctions2_function.go, the generic
# deletion_policy virtual field).
RUNTIME_GUARDS: tuple[tuple[str, str, object, object], ...] = (
    ("google_cloud_run_v2_service", "deletion_protection", True, True),
    ("google_cloudfunctions2_function", "deletion_policy", "PREVENT", "DELETE"),
)


@rule("PROTECT-001", "Live services and functions cannot be deleted or replaced by an apply",
      see="https://registry.terraform.io/providers/hashicorp/google/latest/docs/resources/"
          "cloud_run_v2_service#deletion_protection",
      fix="deletion_protection = true on services, deletion_policy = PREVENT on functions "
          "(the constructs set both)")
def runtime_protection(ctx: Context) -> Iterator[Finding]:
    """The platform is live: a renamed construct, a ForceNew change or a removed manifest
    entry would plan a service's or function's destroy, taking its traffic and its IAM policy
    with it. The provider's own guards make such a plan fail; turning one off (as the first
    plan after an import would, for a service declared with deletion_protection = false) is
    refused."""
    for rtype, field, value, default in RUNTIME_GUARDS:
        for res in ctx.graph.resources(rtype):
            got = res.body.get(field, default)
            if got != value:
                yield Finding(res.address, f"{field} is {json.dumps(got)}: a plan may delete "
                              f"or replace the live {rtype.removeprefix('google_')}; set "
                              f"{field} = {json.dumps(value)}")
