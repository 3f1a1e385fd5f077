"""Identities and roles: own, declared, unshared service accounts holding narrow roles on
the resource they need."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping
from typing import Any

from iam.rules.engine import Context, Finding, rule
from iam.rules.helpers import granted
from infra.model.permissions import (
    BUILD_SOURCE_CONDITION,
    OBJECT_USER,
    PRIMITIVE_ROLES,
    SHAREABLE_SLOTS,
    short_member,
)
from infra.stackjson.graph import Acting
from infra.stackjson.stack import REF_RE

_OMITTED = {
    "service.runtime": "the service runs as the default compute service account",
    "function.runtime": "the function runs as the default compute service account",
    "function.trigger": "Eventarc delivers as the default compute service account",
    "function.build": "Cloud Build builds as the project's default build service account",
}


@rule("SA-001", "No default service accounts, granted or implied",
      see="https://cloud.google.com/run/docs/securing/service-identity",
      fix="give the component its own google_service_account")
def default_accounts(ctx: Context) -> Iterator[Finding]:
    """The Compute Engine default service account is shared by every workload that names no
    identity (a service or function without service_account runs as it) and by default holds
    Editor on the project; each component gets its own user-managed account instead."""
    g = ctx.graph
    for e, p in granted(g, "default"):
        yield Finding(e.address, f"grants {e.role} to {p.raw}, {p.problem}, which every "
                      "default workload shares (seed 000 used 756957797294-compute@ as the "
                      "push identity); grant the component's own identity")
    for a in g.acting():
        if a.principal is None and a.slot.kind in _OMITTED:
            yield Finding(a.address, f"{a.field} is not set, so {_OMITTED[a.slot.kind]} (by "
                          "default Editor on the project); set it to the component's own "
                          "identity")
        elif a.principal is not None and a.principal.kind == "default":
            yield Finding(a.address, f"{a.field} is {a.principal.raw!r}, "
                          f"{a.principal.problem}; every component gets its own "
                          "least-privilege identity")


@rule("SA-002", "Every member and acting identity is declared in the stack",
      see="https://cloud.google.com/iam/docs/principal-identifiers",
      fix="serviceAccount:${google_service_account.<x>.email}")
def declared_identities(ctx: Context) -> Iterator[Finding]:
    """A member is written serviceAccount:<email>; a literal email that matches no account of
    the stack (a typo, another project, a literal project number) grants nothing useful and
    cannot be checked, so identities are referenced, not typed."""
    g = ctx.graph
    for e, p in granted(g, "unresolved"):
        yield Finding(e.address, f"member {p.raw!r}: {p.problem}; grant a "
                      "google_service_account of this stack by reference "
                      "(serviceAccount:${google_service_account.<x>.email})")
    for e in g.iam:
        for p in e.principals:
            ref = REF_RE.fullmatch(p.raw.strip())
            if p.declared and not p.raw.strip().startswith("serviceAccount:") and not (
                    ref and ref.group(2) == ".member"):
                yield Finding(e.address, f"member {p.raw!r} has no 'serviceAccount:' prefix, "
                              "so IAM rejects it; write serviceAccount:${…email}")
    for a in g.acting():
        if (a.principal is not None and a.principal.raw.strip().startswith("serviceAccount:")
                and a.slot.kind != "function.build"):
            yield Finding(a.address, f"{a.field} {a.principal.raw!r} is a member string; this "
                          "field takes the account's email")
        if a.principal is not None and a.principal.kind == "unresolved":
            yield Finding(a.address, f"{a.field} {a.principal.raw!r}: {a.principal.problem}; "
                          "use the component's own google_service_account")
        elif a.principal is not None and a.principal.kind in ("public", "pubsub_agent"):
            yield Finding(a.address, f"{a.field} {a.principal.raw!r} is not a service account "
                          "of this stack")


@rule("SA-003", "Each component acts as its own identity",
      see="https://cloud.google.com/iam/docs/best-practices-service-accounts",
      fix="use the identity the component's construct creates")
def shared_identities(ctx: Context) -> Iterator[Finding]:
    """A service account shared between components lets a grant meant for one open the others;
    single-purpose service accounts keep every grant to the one component that needs it."""
    by_member: dict[str, list[Acting]] = defaultdict(list)
    for a in ctx.graph.acting():
        if a.principal is not None and a.principal.declared:
            by_member[a.principal.member].append(a)
    for member, uses in sorted(by_member.items()):
        if len(uses) < 2 or all(u.slot.kind in SHAREABLE_SLOTS for u in uses):
            continue
        for u in uses:
            others = ", ".join(str(o.slot) for o in uses if o is not u)
            yield Finding(u.address, f"{u.field} is {short_member(member)}, which also acts as "
                          f"{others}; every component acts as its own identity so a grant to "
                          "one never lets another in (swapped or shared identities)")


IMPERSONATION_ROLES = frozenset({"roles/iam.serviceAccountUser", "roles/iam.serviceAccountAdmin",
                                 "roles/iam.serviceAccountKeyAdmin",
                                 "roles/iam.workloadIdentityUser", "roles/iam.securityAdmin"})


def _role_problem(role: str) -> str | None:
    if role in PRIMITIVE_ROLES:
        return "a primitive role (thousands of permissions across every service)"
    if role in IMPERSONATION_ROLES:
        return "an impersonation role (act as, or mint keys for, other identities)"
    if role.rsplit("/", 1)[-1].lower().endswith("admin"):
        return "an admin role (can rewrite the resource and its IAM policy)"
    return None


@rule("ROLE-001", "No primitive, admin or impersonation roles",
      see="https://cloud.google.com/iam/docs/roles-overview",
      fix="use the predefined role the connection needs")
def primitive_roles(ctx: Context) -> Iterator[Finding]:
    """The basic roles (owner, editor, viewer) carry thousands of permissions across every
    service and are not meant for production; admin roles can rewrite a resource's IAM policy
    and impersonation roles let one identity act as another. The pipeline needs none of them, at
    any level."""
    g = ctx.graph
    seen: set[tuple[str, str]] = set()
    for e in g.iam:
        why = _role_problem(e.role)
        if why and (e.address, e.role) not in seen:
            seen.add((e.address, e.role))
            yield Finding(e.address, f"{e.role} is {why}; grant the predefined role the "
                          "connection needs")
    for res in g.resources("data.google_iam_policy"):
        for role, _ in g.policy_bindings(f"${{{res.address}.policy_data}}"):
            why = _role_problem(role)
            if why:
                yield Finding(res.address, f"binding of {role}, {why}; use the predefined role "
                              "the connection needs")


BUILD_SOURCE_ROLE = OBJECT_USER
PROJECT_IAM_TYPES = ("google_project_iam_", "google_folder_iam_", "google_organization_iam_")
RESOURCE_ROLE_PREFIXES = ("roles/run.", "roles/pubsub.", "roles/bigquery.data",
                          "roles/storage.", "roles/iam.serviceAccount", "roles/cloudfunctions.",
                          "roles/secretmanager.", "roles/cloudscheduler.")


def _conditioned_on_sources(body: Mapping[str, Any]) -> bool:
    cond = body.get("condition")
    cond = cond[0] if isinstance(cond, list) and cond else cond
    return isinstance(cond, Mapping) and cond.get("expression") == BUILD_SOURCE_CONDITION[1]


@rule("ROLE-002", "Resource roles are granted on the resource, not the project",
      see="https://cloud.google.com/iam/docs/resource-hierarchy-access-control",
      fix="call the target construct's grant_*() method")
def project_scoped_roles(ctx: Context) -> Iterator[Finding]:
    """Roles granted on a project are inherited by every resource in it, so an invoker,
    publisher, subscriber, data-editor or token-creator role granted there opens every service,
    topic, dataset or account; grant each on the one resource (Firestore's and Cloud Build's
    roles have no resource level). One exception: a function build reads its source copy in
    Google's gcf-v2-sources-<number>-<region> bucket, which the first deploy creates, so a
    build identity holds objectUser project-wide, and only under the condition that limits
    it to Google's gcf-v2 source buckets (infra.model.permissions.BUILD_SOURCE_CONDITION)."""
    builders = {a.principal.member for a in ctx.graph.acting()
                if a.slot.kind == "function.build" and a.principal is not None}
    for e in ctx.graph.iam:
        if (e.role == BUILD_SOURCE_ROLE and e.principals
                and {p.member for p in e.principals} <= builders
                and _conditioned_on_sources(ctx.graph.body(e.address))):
            continue
        if e.rtype.startswith(PROJECT_IAM_TYPES) and e.role.startswith(RESOURCE_ROLE_PREFIXES):
            scope = e.rtype.split("_iam_")[0].removeprefix("google_")
            yield Finding(e.address, f"{e.role} granted on the whole {scope} reaches every "
                          "service, topic, dataset or account in it; grant it on the one "
                          "resource the connection needs (the construct's grant_*() method)")
