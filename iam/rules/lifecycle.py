"""Lifecycle: what makes Terraform replace a resource, and what an apply must leave alone."""

from __future__ import annotations

from collections.abc import Iterator

from iam.rules.engine import LIFECYCLE_DOC, PROVIDER_DOCS, Context, Finding, rule
from iam.rules.helpers import trigger_for
from infra.model.provider.lifecycle import DEPLOYED_FIELDS, REPLACED_ONLY
from infra.stackjson.graph import lifecycle_triggers


@rule("LIFE-002", "replace_triggered_by names an attribute that changes only on replacement",
      see=LIFECYCLE_DOC + "#replace_triggered_by",
      fix="name the target's attribute from infra/model/provider/lifecycle.py (replaced_with())")
def whole_resource_triggers(ctx: Context) -> Iterator[Finding]:
    """A replace_triggered_by entry naming a whole resource fires on every plan that updates
    that resource in place, not only on its replacement: each code change of a function, each
    revision of a service, would delete and re-create the grants on it, and IAM changes take
    minutes to propagate, so deliveries fail with 403 meanwhile. An attribute fires only when
    its value changes, so the trigger names one that changes only on replacement."""
    for res in ctx.graph.stack.resources.values():
        for entry in lifecycle_triggers(res.body):
            parts = entry.split("[", 1)[0].split(".")
            if "${" in entry or len(parts) < 2:
                continue  # LIFE-001 and REF-001 report non-literal and dangling entries
            rtype, target = parts[0], ".".join(parts[:2])
            fact = REPLACED_ONLY.get(rtype)
            if len(parts) == 2:
                yield Finding(res.address, f"replace_triggered_by names the whole resource "
                              f"{target}: every in-place update of it re-creates this resource; "
                              f"name {trigger_for(target)} instead")
            elif fact is None or parts[2] != fact.attribute:
                known = fact.attribute if fact else "none is recorded"
                yield Finding(res.address, f"replace_triggered_by names {entry}, which is not "
                              f"known to change only on replacement of {target} (recorded: "
                              f"{known}); use infra/model/provider/lifecycle.py")


@rule("DEPLOY-001", "Services leave the deployed image to their release path",
      see=PROVIDER_DOCS + "resources/cloud_run_v2_service",
      fix="lifecycle.ignore_changes the image, client and client_version (CloudRunService)")
def deployed_image(ctx: Context) -> Iterator[Finding]:
    """A Cloud Run service whose image is deployed by its own repository (gcloud run deploy)
    is rolled back to the stack's image by the next apply unless Terraform ignores the image
    and the client fields gcloud sets with it; the stack still owns identity, ingress, scaling,
    its environment variables and IAM."""
    for res in ctx.graph.resources("google_cloud_run_v2_service"):
        lifecycle = res.body.get("lifecycle")
        ignored = lifecycle.get("ignore_changes") if isinstance(lifecycle, dict) else None
        if ignored == "all":
            yield Finding(res.address, "lifecycle.ignore_changes = all: the stack no longer "
                          "manages the service's identity, ingress, scaling or env; ignore "
                          f"only {list(DEPLOYED_FIELDS)}")
            continue
        missing = [f for f in DEPLOYED_FIELDS if f not in (ignored or [])]
        if missing:
            yield Finding(res.address, f"lifecycle.ignore_changes lacks {missing}: the next "
                          "apply rolls the image deployed by gcloud run deploy back to the "
                          "stack's and resets its client fields")
