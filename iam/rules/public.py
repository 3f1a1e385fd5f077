"""Access outside pipeline IAM: legacy ACLs beside IAM, and anything public."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from iam.rules.engine import PROVIDER_DOCS, Context, Finding, rule
from iam.rules.helpers import blocks, granted

# Legacy ACLs: grants IAM members do not show, basic roles, and authoritative lists.
ACL_TYPES: Mapping[str, str] = {
    "google_bigquery_dataset_access": "grants a dataset ACL entry outside IAM",
    "google_storage_bucket_acl": "owns the bucket's whole ACL (authoritative)",
    "google_storage_default_object_acl": "owns the default object ACL (authoritative)",
    "google_storage_object_acl": "owns an object's whole ACL (authoritative)",
    "google_storage_bucket_access_control": "grants a bucket ACL entry outside IAM",
    "google_storage_default_object_access_control": "grants a default object ACL entry "
                                                    "outside IAM",
    "google_storage_object_access_control": "grants an object ACL entry outside IAM",
}
ACL_PUBLIC_VALUES = frozenset({"allUsers", "allAuthenticatedUsers", "allusers",
                               "allauthenticatedusers"})


def _acl_public(body: Mapping[str, Any]) -> str | None:
    for key in ("special_group", "iam_member", "entity", "user_by_email", "group_by_email"):
        value = body.get(key)
        if isinstance(value, str) and value.strip() in ACL_PUBLIC_VALUES:
            return value.strip()
    for entry in body.get("role_entity") or []:
        if isinstance(entry, str) and entry.split(":", 1)[-1].strip() in ACL_PUBLIC_VALUES:
            return entry.split(":", 1)[-1].strip()
    return None


@rule("ACL-001", "No legacy ACLs beside IAM",
      see=PROVIDER_DOCS + "resources/bigquery_dataset",
      fix="grant a predefined role with the construct's grant_*() method")
def legacy_acls(ctx: Context) -> Iterator[Finding]:
    """Cloud Storage ACLs and BigQuery dataset access entries grant access that no IAM member
    shows, with basic roles (OWNER/WRITER/READER); their list forms (*_acl resources, a
    dataset's access blocks) own the whole ACL, so every apply drops the entries they do not
    list, IAM-granted dataset access included."""
    g = ctx.graph
    for rtype, what in ACL_TYPES.items():
        for res in g.resources(rtype):
            role = res.body.get("role")
            extra = f" with the basic role {role}" if role in ("OWNER", "WRITER", "READER") else ""
            yield Finding(res.address, f"{rtype} {what}{extra}; access goes through additive "
                          "*_iam_member grants of a predefined role (the construct's grant_*() "
                          "method)")
    for res in g.resources("google_bigquery_dataset"):
        if blocks(res.body.get("access")):
            yield Finding(res.address, "access blocks make the dataset's ACL authoritative: "
                          "each apply drops every entry they do not list, including the "
                          "google_bigquery_dataset_iam_member grants; remove them and grant "
                          "with dataset grant_*() methods")


@rule("PUBLIC-001", "Nothing is public",
      see="https://cloud.google.com/iam/docs/principals-overview",
      fix="grant the calling component's identity")
def public_members(ctx: Context) -> Iterator[Finding]:
    """allUsers is anyone on the internet and allAuthenticatedUsers anyone with a Google
    account; granted a role (or with invoker IAM disabled, an unenforced public access
    prevention or per-object ACLs) they reach pipeline services and data. Every caller here is a
    pipeline identity."""
    g = ctx.graph
    for e, p in granted(g, "public"):
        yield Finding(e.address, f"grants {e.role} to {p.raw}: anyone on the internet (or "
                      "with any Google account) gets it; grant a pipeline identity instead")
    for svc in g.resources("google_cloud_run_v2_service"):
        if svc.body.get("invoker_iam_disabled") is True:
            yield Finding(svc.address, "invoker_iam_disabled = true lets anyone call the "
                          "service without an identity; remove it and grant run.invoker")
    for bucket in g.resources("google_storage_bucket"):
        if bucket.body.get("public_access_prevention") != "enforced":
            yield Finding(bucket.address, "public_access_prevention is not \"enforced\": one "
                          "allUsers grant or object ACL would publish the bucket; set it to "
                          "enforced")
        if bucket.body.get("uniform_bucket_level_access") is not True:
            yield Finding(bucket.address, "uniform_bucket_level_access is not true, so "
                          "per-object ACLs can grant access IAM does not show; enable it")
    for fn in g.resources("google_cloudfunctions_function"):
        if fn.body.get("trigger_http") and not fn.body.get("ingress_settings"):
            yield Finding(fn.address, "HTTP function without ingress_settings is reachable "
                          "from the internet; use gen2 with ALLOW_INTERNAL_ONLY")
    yield from _public_acls(ctx)


def _public_acls(ctx: Context) -> Iterator[Finding]:
    g = ctx.graph
    for rtype in ACL_TYPES:
        for res in g.resources(rtype):
            who = _acl_public(res.body)
            if who:
                yield Finding(res.address, f"ACL entry for {who}: anyone on the internet (or "
                              "with any Google account) gets access; remove it")
    for res in g.resources("google_bigquery_dataset"):
        for block in blocks(res.body.get("access")):
            who = _acl_public(block)
            if who:
                yield Finding(res.address, f"access block for {who}: the dataset is public; "
                              "remove it")
