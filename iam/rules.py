"""The policy rules: one function per class of mistake, each with an id and its reason.

Every rule reads a ``Context`` (the stack's IAM graph, the manifest and, when the
environment is known, the expected grants from ``iam.grants``) and yields ``Violation``s
whose message says what is wrong and how to fix it. ``RULES`` is the ordered registry; the
README's rule table is generated from it (``python -m iam.policy --rules``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from iam.grants import (
    INVOKER,
    PUBLISHER,
    SHAREABLE_SLOTS,
    SUBSCRIBER,
    TOKEN_CREATOR,
    IamData,
    Target,
    short_member,
)
from infra.model.function_config import function_env
from infra.model.manifest import Function, Manifest
from infra.model.naming import Names
from infra.stackjson.graph import (
    Acting,
    Endpoint,
    IamEntry,
    Principal,
    ResolvedTarget,
    StackGraph,
    lifecycle_triggers,
)
from infra.stackjson.stack import REF_RE, Resource, first

PRIMITIVE_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
INVOKER_IAM_TYPES = frozenset({"google_cloud_run_v2_service_iam_member",
                               "google_cloud_run_service_iam_member"})
SECRET_SOURCES = ("data.google_secret_manager_secret_version.",
                  "google_secret_manager_secret_version.")


class RuleError(Exception):
    """A rule could not read the stack (a malformed block); the message names rule and cause."""


@dataclass(frozen=True, order=True)
class Violation:
    rule: str
    address: str
    message: str
    stack: str = ""

    def line(self, with_stack: bool = False) -> str:
        suffix = f" [{self.stack}]" if with_stack and self.stack else ""
        return f"{self.rule} {self.address}: {self.message}{suffix}"


@dataclass(frozen=True)
class Context:
    graph: StackGraph
    manifest: Manifest
    data: IamData | None
    """``None`` when the environment is unknown: the rules that need it do not run."""


Check = Callable[[Context], Iterator[Violation]]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    rationale: str
    fix: str
    check: Check
    needs_env: bool = False


# ----------------------------------------------------------------------------- helpers


def _v(rule: str, address: str, message: str) -> Violation:
    return Violation(rule, address, message)


def _who(p: Principal) -> str:
    return short_member(p.member) if p.declared else repr(p.raw)


def _target_text(t: ResolvedTarget | None) -> str:
    if t is None:
        return "an unresolvable target"
    return f"{t.target} ({t.address})" if t.address else str(t.target)


KIND_TYPES: Mapping[str, str] = {
    "run.service": "google_cloud_run_v2_service",
    "function.service": "google_cloudfunctions2_function",
    "function": "google_cloudfunctions2_function",
    "pubsub.topic": "google_pubsub_topic",
    "pubsub.subscription": "google_pubsub_subscription",
    "iam.serviceAccount": "google_service_account",
    "bigquery.dataset": "google_bigquery_dataset",
    "bigquery.table": "google_bigquery_table",
    "storage.bucket": "google_storage_bucket",
    "secret": "google_secret_manager_secret",
    "project": "project",
}


def _missing(rtype: str, name: str) -> str:
    """Address-like name for a resource the stack should have but does not."""
    return f'{rtype}["{name}"]'


def _push_subscriptions(g: StackGraph) -> Iterator[tuple[Resource, Mapping[str, Any]]]:
    for sub in g.resources("google_pubsub_subscription"):
        push = first(sub.body.get("push_config"))
        if push:
            yield sub, push


def _holds_invoker(g: StackGraph, principal: Principal, target_address: str) -> bool:
    return any(
        e.mode == "member" and e.rtype in INVOKER_IAM_TYPES and e.role == INVOKER
        and e.target is not None and e.target.address == target_address
        and any(p.declared and p.member == principal.member for p in e.principals)
        for e in g.iam
    )


def _agent_holds(g: StackGraph, rtype: str, role: str, target_address: str) -> bool:
    return any(
        e.mode == "member" and e.rtype == rtype and e.role == role and e.target is not None
        and e.target.address == target_address
        and any(p.kind == "pubsub_agent" for p in e.principals)
        for e in g.iam
    )


def _oidc_principal(g: StackGraph, oidc: Mapping[str, Any]) -> Principal | None:
    email = oidc.get("service_account_email")
    return g.principal(email) if email else None


def _check_audience(rule: str, address: str, g: StackGraph, oidc: Mapping[str, Any],
                    ep: Endpoint) -> Iterator[Violation]:
    audience = oidc.get("audience")
    if not audience:
        yield _v(rule, address, "oidc_token has no audience; set it explicitly to the target's "
                 "URL (${<target>.uri}) so the token is valid for exactly that service")
        return
    aud = g.audience_target(audience)
    if aud is None:
        yield _v(rule, address, f"oidc_token.audience {audience!r} cannot be proven to be the "
                 "target's URL; write it as a reference to the target's uri")
    elif ep.target is not None and aud.address != ep.target.address:
        yield _v(rule, address, f"oidc_token.audience names {aud.target} but the endpoint is "
                 f"{ep.target.target}: Cloud Run rejects the token (401); use the endpoint "
                 "service's uri")


def _is_broad(role: str) -> bool:
    name = role.rsplit("/", 1)[-1]
    return (role in PRIMITIVE_ROLES or name.endswith(("admin", "Admin", ".developer",
                                                      ".sourceDeveloper", "serviceAgent"))
            or name in ("iam.serviceAccountUser",))


# ----------------------------------------------------------------------------- push edges


def push_oidc(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for sub, push in _push_subscriptions(g):
        oidc = first(push.get("oidc_token"))
        if not oidc:
            yield _v("PUSH-001", sub.address, "push_config has no oidc_token: Pub/Sub pushes "
                     "unauthenticated and the IAM-checked target answers 403; add oidc_token "
                     "with the edge's push identity and the target's uri as audience")
            continue
        if not oidc.get("service_account_email"):
            yield _v("PUSH-001", sub.address, "oidc_token has no service_account_email; set it to "
                     "the edge's own push identity")
        yield from _check_audience("PUSH-001", sub.address, g, oidc,
                                   g.endpoint(push.get("push_endpoint")))


def push_endpoint(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for sub, push in _push_subscriptions(g):
        ep = g.endpoint(push.get("push_endpoint"))
        if ep.target is None:
            yield _v("PUSH-002", sub.address, f"push_endpoint {ep.raw!r} cannot be proven to "
                     "target a Cloud Run service of this stack (a literal URL or another "
                     "resource), so no invoker grant can be checked for it; write it as "
                     "${google_cloud_run_v2_service.<target>.uri}/<path>")


def push_invoker(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for sub, push in _push_subscriptions(g):
        ep = g.endpoint(push.get("push_endpoint"))
        principal = _oidc_principal(g, first(push.get("oidc_token")))
        if ep.target is None or ep.target.address is None or principal is None:
            continue
        if not principal.declared:
            continue
        if not _holds_invoker(g, principal, ep.target.address):
            yield _v("PUSH-003", sub.address, f"push identity {_who(principal)} does not hold "
                     f"roles/run.invoker on {_target_text(ep.target)} through a "
                     "google_cloud_run_v2_service_iam_member, so every push gets 403 and ends "
                     "in the dead-letter topic; grant it with the target's grant_invoke()")


def push_token_creator(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    identities: list[tuple[str, Principal, str]] = []
    for sub, push in _push_subscriptions(g):
        p = _oidc_principal(g, first(push.get("oidc_token")))
        if p is not None and p.declared and p.address:
            identities.append((sub.address, p, "push"))
    for fn in g.resources("google_cloudfunctions2_function"):
        trig = first(fn.body.get("event_trigger"))
        if trig.get("service_account_email"):
            p = g.principal(trig.get("service_account_email"))
            if p.declared and p.address:
                identities.append((fn.address, p, "event-trigger"))
    for address, p, what in identities:
        assert p.address is not None
        if not _agent_holds(g, "google_service_account_iam_member", TOKEN_CREATOR, p.address):
            yield _v("PUSH-004", address, f"the Pub/Sub service agent has no "
                     f"roles/iam.serviceAccountTokenCreator on {what} identity {_who(p)}, so it "
                     "cannot mint the OIDC token it pushes with; add it with the identity's "
                     "grant_token_creator(agent)")


def wiring(ctx: Context) -> Iterator[Violation]:
    g, data = ctx.graph, ctx.data
    assert data is not None
    specs = {e.subscription: e for e in data.edges}
    for sub, push in _push_subscriptions(g):
        name = g.cloud_name(sub)
        spec = specs.get(name)
        if spec is None:
            yield _v("WIRE-001", sub.address, f"push subscription {name!r} is not a transition "
                     f"of the manifest (declared: {sorted(specs)}); declare it in "
                     "infra/model/pipeline.py or remove it")
            continue
        topic = g.topic(sub.body.get("topic"))
        topic_name = g.cloud_name(g.stack.resources[topic]) if topic else sub.body.get("topic")
        if topic_name != spec.topic:
            yield _v("WIRE-001", sub.address, f"subscribes to {topic_name!r} but the manifest "
                     f"says {spec.topic!r}")
        ep = g.endpoint(push.get("push_endpoint"))
        if ep.target is not None and (ep.target.target != spec.target or ep.path != spec.path):
            yield _v("WIRE-001", sub.address, f"pushes to {ep.target.target}{ep.path} but the "
                     f"manifest says {spec.target}{spec.path}")
        dlq = g.topic(first(sub.body.get("dead_letter_policy")).get("dead_letter_topic"))
        dlq_name = g.cloud_name(g.stack.resources[dlq]) if dlq else None
        if dlq_name is not None and dlq_name != spec.dead_letter_topic:
            yield _v("WIRE-001", sub.address, f"dead-letters to {dlq_name!r}, another edge's "
                     f"topic; its own dead-letter topic is {spec.dead_letter_topic!r}")
    for sub in g.resources("google_pubsub_subscription"):
        spec = specs.get(g.cloud_name(sub))
        if spec is not None and not first(sub.body.get("push_config")):
            yield _v("WIRE-001", sub.address, f"{spec.subscription!r} has no push_config, so "
                     f"nothing delivers its messages to {spec.target}{spec.path}; the manifest "
                     "declares a push edge")
    triggers = {t.function: t for t in data.triggers}
    for fn in g.resources("google_cloudfunctions2_function"):
        name = g.cloud_name(fn)
        trig = first(fn.body.get("event_trigger"))
        spec = triggers.get(name)
        if spec is None:
            if trig:
                yield _v("WIRE-001", fn.address, f"function {name!r} has an event trigger but "
                         "the manifest declares it as an HTTP function (no trigger_topic)")
            continue
        if not trig:
            yield _v("WIRE-001", fn.address, f"function {name!r} has no event_trigger; the "
                     f"manifest triggers it from {spec.topic!r}")
            continue
        topic = g.topic(trig.get("pubsub_topic"))
        topic_name = g.cloud_name(g.stack.resources[topic]) if topic else trig.get(
            "pubsub_topic")
        if topic_name != spec.topic:
            yield _v("WIRE-001", fn.address, f"event_trigger.pubsub_topic is {topic_name!r} but "
                     f"the manifest triggers it from {spec.topic!r}")
    jobs = {j.job: j for j in data.jobs_wiring}
    for job in g.resources("google_cloud_scheduler_job"):
        name = g.cloud_name(job)
        jspec = jobs.get(name)
        http = first(job.body.get("http_target"))
        if jspec is None:
            yield _v("WIRE-001", job.address, f"scheduler job {name!r} is not declared in the "
                     f"manifest (declared: {sorted(jobs)})")
            continue
        if not http:
            yield _v("WIRE-001", job.address, f"scheduler job {name!r} has no http_target; the "
                     f"manifest has it call {jspec.target}{jspec.path}")
            continue
        ep = g.endpoint(http.get("uri"))
        if ep.target is not None and (ep.target.target != jspec.target or ep.path != jspec.path):
            yield _v("WIRE-001", job.address, f"calls {ep.target.target}{ep.path} but the "
                     f"manifest says {jspec.target}{jspec.path}")
        if http.get("http_method", "POST") != jspec.http_method:
            yield _v("WIRE-001", job.address, f"http_method {http.get('http_method')!r} but the "
                     f"manifest says {jspec.http_method!r}")
        body, want_body = http.get("body"), jspec.body
        for fld, got, want in (("schedule", job.body.get("schedule"), jspec.schedule),
                               ("time_zone", job.body.get("time_zone"), jspec.time_zone),
                               ("http_target.body (decoded)",
                                _decoded(str(body)) if body else body,
                                _decoded(want_body) if want_body else want_body)):
            if got != want:
                yield _v("WIRE-001", job.address, f"{fld} is {got!r} but the manifest says "
                         f"{want!r}; schedules and payloads come from infra/model/pipeline.py")


# ----------------------------------------------------------------------------- invokers


def trigger_invoker(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for fn in g.resources("google_cloudfunctions2_function"):
        trig = first(fn.body.get("event_trigger"))
        if not trig or not trig.get("service_account_email"):
            continue
        principal = g.principal(trig.get("service_account_email"))
        if principal.declared and not _holds_invoker(g, principal, fn.address):
            yield _v("INVOKE-001", fn.address, f"event-trigger identity {_who(principal)} does "
                     f"not hold roles/run.invoker on the function's Cloud Run service "
                     "(name = service_config.service), so Eventarc's deliveries are refused and "
                     "the function never runs (the 7-day silent outage of seed 000); grant it "
                     "with the function's grant_invoke()")


def job_invoker(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for job in g.resources("google_cloud_scheduler_job"):
        http = first(job.body.get("http_target"))
        if not http:
            continue
        ep = g.endpoint(http.get("uri"))
        if ep.target is None:
            yield _v("INVOKE-002", job.address, f"http_target.uri {ep.raw!r} cannot be proven to "
                     "target a Cloud Run service or function of this stack; write it as "
                     "${<target>.uri}/<path>")
        oidc = first(http.get("oidc_token"))
        if not oidc:
            extra = " (oauth_token is for Google APIs, not Cloud Run)" if http.get(
                "oauth_token") else ""
            yield _v("INVOKE-002", job.address, f"http_target has no oidc_token{extra}: the "
                     "call is unauthenticated and the target answers 403; add oidc_token with "
                     "the job's identity and the target's uri as audience")
            continue
        principal = _oidc_principal(g, oidc)
        if principal is None:
            yield _v("INVOKE-002", job.address, "oidc_token has no service_account_email; set "
                     "it to the job's own identity")
        yield from _check_audience("INVOKE-002", job.address, g, oidc, ep)
        if (principal is not None and principal.declared and ep.target is not None
                and ep.target.address is not None
                and not _holds_invoker(g, principal, ep.target.address)):
            yield _v("INVOKE-002", job.address, f"job identity {_who(principal)} does not hold "
                     f"roles/run.invoker on {_target_text(ep.target)}, so the scheduled call "
                     "gets 403; grant it with the target's grant_invoke()")


def broad_roles_on_services(ctx: Context) -> Iterator[Violation]:
    for e in ctx.graph.iam:
        if e.target is None or e.target.target.kind not in ("run.service", "function.service",
                                                            "function"):
            continue
        if _is_broad(e.role):
            yield _v("INVOKE-003", e.address, f"grants {e.role} on {_target_text(e.target)}; "
                     "callers of a pipeline service need roles/run.invoker and nothing broader "
                     "(admin/developer roles can redeploy it or change its IAM)")


# ----------------------------------------------------------------------------- IAM shape


def replace_triggered_by(ctx: Context) -> Iterator[Violation]:
    seen: set[str] = set()
    for e in ctx.graph.iam:
        if e.address in seen or e.target is None or e.target.address is None:
            continue
        seen.add(e.address)
        want = e.target.address
        literal = [a for a in e.replace_triggered_by if "${" not in a]
        ok = any(a == want or a.startswith(f"{want}.") for a in literal)
        if ok:
            continue
        if len(literal) != len(e.replace_triggered_by):
            why = "uses an interpolation; it must be a literal address"
        elif e.replace_triggered_by:
            why = f"names {list(e.replace_triggered_by)}, not the target"
        else:
            why = "is missing"
        yield _v("LIFE-001", e.address, f"lifecycle.replace_triggered_by {why}: when {want} is "
                 "replaced the new resource starts with an empty IAM policy and this grant is "
                 f"not re-applied; set replace_triggered_by = [\"{want}\"]")


def authoritative(ctx: Context) -> Iterator[Violation]:
    seen: set[str] = set()
    for e in ctx.graph.iam:
        if e.mode == "member" or e.address in seen:
            continue
        seen.add(e.address)
        base = e.rtype.rsplit("_iam_", 1)[0]
        yield _v("AUTH-001", e.address, f"{e.rtype} is authoritative: every apply removes the "
                 "members it does not list (how redeploys stripped run.invoker); use one "
                 f"{base}_iam_member per member and role")


def public_members(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for e in g.iam:
        for p in e.principals:
            if p.kind == "public":
                yield _v("PUBLIC-001", e.address, f"grants {e.role} to {p.raw}: anyone on the "
                         "internet (or with any Google account) gets it; grant a pipeline "
                         "identity instead")
    for svc in g.resources("google_cloud_run_v2_service"):
        if svc.body.get("invoker_iam_disabled") is True:
            yield _v("PUBLIC-001", svc.address, "invoker_iam_disabled = true lets anyone call "
                     "the service without an identity; remove it and grant run.invoker")
    for bucket in g.resources("google_storage_bucket"):
        if bucket.body.get("public_access_prevention") != "enforced":
            yield _v("PUBLIC-001", bucket.address, "public_access_prevention is not "
                     "\"enforced\": one allUsers grant or object ACL would publish the bucket; "
                     "set it to enforced")
        if bucket.body.get("uniform_bucket_level_access") is not True:
            yield _v("PUBLIC-001", bucket.address, "uniform_bucket_level_access is not true, so "
                     "per-object ACLs can grant access IAM does not show; enable it")
    for fn in g.resources("google_cloudfunctions_function"):
        if fn.body.get("trigger_http") and not fn.body.get("ingress_settings"):
            yield _v("PUBLIC-001", fn.address, "HTTP function without ingress_settings is "
                     "reachable from the internet; use gen2 with ALLOW_INTERNAL_ONLY")
    yield from public_acls(ctx)


_OMITTED = {
    "service.runtime": "the service runs as the default compute service account",
    "function.runtime": "the function runs as the default compute service account",
    "function.trigger": "Eventarc delivers as the default compute service account",
    "function.build": "Cloud Build builds as the project's default build service account",
}


def default_accounts(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for e in g.iam:
        for p in e.principals:
            if p.kind == "default":
                yield _v("SA-001", e.address, f"grants {e.role} to {p.raw}, {p.problem}, which "
                         "every default workload shares (seed 000 used 756957797294-compute@ as "
                         "the push identity); grant the component's own identity")
    for a in g.acting():
        if a.principal is None and a.slot.kind in _OMITTED:
            yield _v("SA-001", a.address, f"{a.field} is not set, so {_OMITTED[a.slot.kind]} "
                     "(by default Editor on the project); set it to the component's own identity")
        elif a.principal is not None and a.principal.kind == "default":
            yield _v("SA-001", a.address, f"{a.field} is {a.principal.raw!r}, {a.principal.problem}"
                     "; every component gets its own least-privilege identity")


def declared_identities(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for e in g.iam:
        for p in e.principals:
            if p.kind == "unresolved":
                yield _v("SA-002", e.address, f"member {p.raw!r}: {p.problem}; grant a "
                         "google_service_account of this stack by reference "
                         "(serviceAccount:${google_service_account.<x>.email})")
        for p in e.principals:
            ref = REF_RE.fullmatch(p.raw.strip())
            if p.declared and not p.raw.strip().startswith("serviceAccount:") and not (
                    ref and ref.group(2) == ".member"):
                yield _v("SA-002", e.address, f"member {p.raw!r} has no 'serviceAccount:' "
                         "prefix, so IAM rejects it; write serviceAccount:${…email}")
    for a in g.acting():
        if (a.principal is not None and a.principal.raw.strip().startswith("serviceAccount:")
                and a.slot.kind != "function.build"):
            yield _v("SA-002", a.address, f"{a.field} {a.principal.raw!r} is a member string; "
                     "this field takes the account's email")
        if a.principal is not None and a.principal.kind == "unresolved":
            yield _v("SA-002", a.address, f"{a.field} {a.principal.raw!r}: "
                     f"{a.principal.problem}; use the component's own google_service_account")
        elif a.principal is not None and a.principal.kind in ("public", "pubsub_agent"):
            yield _v("SA-002", a.address, f"{a.field} {a.principal.raw!r} is not a service "
                     "account of this stack")


def shared_identities(ctx: Context) -> Iterator[Violation]:
    by_member: dict[str, list[Acting]] = defaultdict(list)
    for a in ctx.graph.acting():
        if a.principal is not None and a.principal.declared:
            by_member[a.principal.member].append(a)
    for member, uses in sorted(by_member.items()):
        if len(uses) < 2 or all(u.slot.kind in SHAREABLE_SLOTS for u in uses):
            continue
        for u in uses:
            others = ", ".join(str(o.slot) for o in uses if o is not u)
            yield _v("SA-003", u.address, f"{u.field} is {short_member(member)}, which also acts "
                     f"as {others}; every component acts as its own identity so a grant to one "
                     "never lets another in (swapped or shared identities)")


def primitive_roles(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    seen: set[tuple[str, str]] = set()
    for e in g.iam:
        why = _role_problem(e.role)
        if why and (e.address, e.role) not in seen:
            seen.add((e.address, e.role))
            yield _v("ROLE-001", e.address, f"{e.role} is {why}; grant the predefined role the "
                     "connection needs")
    for res in g.resources("data.google_iam_policy"):
        for role, _ in g.policy_bindings(f"${{{res.address}.policy_data}}"):
            why = _role_problem(role)
            if why:
                yield _v("ROLE-001", res.address, f"binding of {role}, {why}; use the "
                         "predefined role the connection needs")


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


PROJECT_IAM_TYPES = ("google_project_iam_", "google_folder_iam_", "google_organization_iam_")
RESOURCE_ROLE_PREFIXES = ("roles/run.", "roles/pubsub.", "roles/bigquery.data",
                          "roles/storage.", "roles/iam.serviceAccount", "roles/cloudfunctions.",
                          "roles/secretmanager.", "roles/cloudscheduler.")


def project_scoped_roles(ctx: Context) -> Iterator[Violation]:
    for e in ctx.graph.iam:
        if e.rtype.startswith(PROJECT_IAM_TYPES) and e.role.startswith(RESOURCE_ROLE_PREFIXES):
            scope = e.rtype.split("_iam_")[0].removeprefix("google_")
            yield _v("ROLE-002", e.address, f"{e.role} granted on the whole {scope} reaches "
                     "every service, topic, dataset or account in it; grant it on the one "
                     "resource the connection needs (the construct's grant_*() method)")


# ----------------------------------------------------------------------------- dead letters, topics


def dead_letter(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for sub, _ in _push_subscriptions(g):
        policy = first(sub.body.get("dead_letter_policy"))
        if not policy or not policy.get("dead_letter_topic"):
            yield _v("DLQ-001", sub.address, "push subscription has no dead_letter_policy: a "
                     "message the target keeps refusing is retried for 7 days and then lost "
                     "silently; add a dead-letter topic with its own subscription")
            continue
        dlq = g.topic(policy.get("dead_letter_topic"))
        if dlq is None:
            yield _v("DLQ-001", sub.address, "dead_letter_topic "
                     f"{policy.get('dead_letter_topic')!r} is not a topic of this stack; "
                     "reference the edge's dead-letter topic")
            continue
        if dlq == g.topic(sub.body.get("topic")):
            yield _v("DLQ-001", sub.address, "dead_letter_topic is the subscription's own topic: "
                     "dead letters would be redelivered forever; use a separate -dlq topic")
            continue
        readers = [s.address for s in g.resources("google_pubsub_subscription")
                   if g.topic(s.body.get("topic")) == dlq]
        if not readers:
            yield _v("DLQ-001", sub.address, f"dead-letter topic {dlq} has no subscription, so "
                     "dead-lettered messages are dropped; add a pull subscription on it")


def dead_letter_publisher(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for sub, _ in _push_subscriptions(g):
        dlq = g.topic(first(sub.body.get("dead_letter_policy")).get("dead_letter_topic"))
        if dlq is not None and not _agent_holds(g, "google_pubsub_topic_iam_member", PUBLISHER,
                                                dlq):
            yield _v("DLQ-002", sub.address, f"the Pub/Sub service agent has no "
                     f"roles/pubsub.publisher on dead-letter topic {dlq}, so dead-lettering "
                     "silently does nothing; grant it with the topic's grant_publish(agent)")


def dead_letter_subscriber(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for sub, _ in _push_subscriptions(g):
        if not first(sub.body.get("dead_letter_policy")):
            continue
        if not _agent_holds(g, "google_pubsub_subscription_iam_member", SUBSCRIBER, sub.address):
            yield _v("DLQ-003", sub.address, "the Pub/Sub service agent has no "
                     "roles/pubsub.subscriber on this subscription, so it cannot forward "
                     "undeliverable messages to the dead-letter topic; add a "
                     "google_pubsub_subscription_iam_member for the agent")


def subscription_expiry(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for sub in g.resources("google_pubsub_subscription"):
        policy = sub.body.get("expiration_policy")
        ttl = first(policy).get("ttl") if policy is not None else None
        if ttl != "":
            shown = "omitted (Pub/Sub's default: 31 days)" if ttl is None else repr(ttl)
            yield _v("SUB-001", sub.address, f"expiration_policy.ttl is {shown}: Pub/Sub deletes "
                     "a subscription idle that long, silently cutting the edge (dead-letter "
                     "subscriptions are idle by design, triggers idle in the off-season); set "
                     "expiration_policy { ttl = \"\" } (never expire)")


def push_backoff(ctx: Context) -> Iterator[Violation]:
    for sub, _ in _push_subscriptions(ctx.graph):
        policy = sub.body.get("retry_policy")
        if policy is None or not first(policy):
            yield _v("SUB-002", sub.address, "push subscription has no retry_policy, so Pub/Sub "
                     "redelivers a refused message at once, again and again: a failing target "
                     "is hammered and its dead-letter attempts burn in seconds; set retry_policy "
                     "{ minimum_backoff, maximum_backoff } (the push edge's construct does)")
            continue
        if not first(policy).get("minimum_backoff"):
            yield _v("SUB-002", sub.address, "retry_policy has no minimum_backoff; set it (10s "
                     "in the push edge's construct) so redeliveries back off")


def topic_consumers(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    consumed: set[str] = set()
    for s in g.resources("google_pubsub_subscription"):
        consumed.add(g.topic(s.body.get("topic")) or "")
    for fn in g.resources("google_cloudfunctions2_function"):
        consumed.add(g.topic(first(fn.body.get("event_trigger")).get("pubsub_topic")) or "")
    for fn in g.resources("google_cloudfunctions_function"):
        consumed.add(g.topic(first(fn.body.get("event_trigger")).get("resource")) or "")
    for trig in g.resources("google_eventarc_trigger"):
        pubsub = first(first(trig.body.get("transport")).get("pubsub"))
        consumed.add(g.topic(pubsub.get("topic")) or "")
    for topic in g.resources("google_pubsub_topic"):
        if topic.address not in consumed:
            yield _v("TOPIC-001", topic.address, f"topic {g.cloud_name(topic)!r} has no "
                     "subscription or event trigger: whatever is published there is lost (like "
                     "the removed nba-phase3-trigger); add its consumer or remove the topic")


# ----------------------------------------------------------------------------- data stores, ACLs

DATA_STORES = ("google_firestore_database", "google_bigquery_dataset", "google_bigquery_table")
# A field that, at this value, lets a destroy delete the data with the resource.
DESTROY_ENABLERS: Mapping[str, tuple[tuple[str, object], ...]] = {
    "google_firestore_database": (("deletion_policy", "DELETE"),
                                  ("delete_protection_state", "DELETE_PROTECTION_DISABLED")),
    "google_bigquery_dataset": (("delete_contents_on_destroy", True),),
    "google_bigquery_table": (("deletion_protection", False),),
}


def data_protection(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for rtype in DATA_STORES:
        for res in g.resources(rtype):
            lifecycle = first(res.body.get("lifecycle"))
            if lifecycle.get("prevent_destroy") is not True:
                yield _v("DATA-001", res.address, "lifecycle.prevent_destroy is not true: a "
                         "rename or a removed manifest entry plans the destroy of pipeline data "
                         "(completion tracking, orchestration tables) and apply carries it out; "
                         "set prevent_destroy = true (the data constructs do)")
            for field, value in DESTROY_ENABLERS[rtype]:
                if res.body.get(field) == value:
                    yield _v("DATA-001", res.address, f"{field} = {json.dumps(value)} lets a "
                             "destroy delete the data with the resource; remove it")


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


def legacy_acls(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for rtype, what in ACL_TYPES.items():
        for res in g.resources(rtype):
            role = res.body.get("role")
            extra = f" with the basic role {role}" if role in ("OWNER", "WRITER", "READER") else ""
            yield _v("ACL-001", res.address, f"{rtype} {what}{extra}; access goes through "
                     "additive *_iam_member grants of a predefined role (the construct's "
                     "grant_*() method)")
    for res in g.resources("google_bigquery_dataset"):
        if _blocks(res.body.get("access")):
            yield _v("ACL-001", res.address, "access blocks make the dataset's ACL authoritative: "
                     "each apply drops every entry they do not list, including the "
                     "google_bigquery_dataset_iam_member grants; remove them and grant with "
                     "dataset grant_*() methods")


def public_acls(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for rtype in ACL_TYPES:
        for res in g.resources(rtype):
            who = _acl_public(res.body)
            if who:
                yield _v("PUBLIC-001", res.address, f"ACL entry for {who}: anyone on the "
                         "internet (or with any Google account) gets access; remove it")
    for res in g.resources("google_bigquery_dataset"):
        for block in _blocks(res.body.get("access")):
            who = _acl_public(block)
            if who:
                yield _v("PUBLIC-001", res.address, f"access block for {who}: the dataset is "
                         "public; remove it")


# ----------------------------------------------------------------------------- drift


def _manifest_function(manifest: Manifest, name: str) -> Function | None:
    for fn in manifest.functions:
        if name == (fn.cloud_name or "") or name == fn.key or name.endswith(f"-{fn.key}"):
            return fn
    return None


def _env_vars(g: StackGraph) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """``(address, component name, env)`` for every function and Cloud Run container."""
    for fn in g.resources("google_cloudfunctions2_function"):
        env = first(fn.body.get("service_config")).get("environment_variables")
        yield fn.address, g.cloud_name(fn), env if isinstance(env, Mapping) else {}
    for fn in g.resources("google_cloudfunctions_function"):
        env = fn.body.get("environment_variables")
        yield fn.address, g.cloud_name(fn), env if isinstance(env, Mapping) else {}
    for svc in g.resources("google_cloud_run_v2_service"):
        container_env: dict[str, Any] = {}
        for c in _blocks(first(svc.body.get("template")).get("containers")):
            for item in _blocks(c.get("env")):
                if "value" in item:
                    container_env[str(item.get("name"))] = item.get("value")
        yield svc.address, g.cloud_name(svc), container_env


def _processor_diff(manifest: Manifest, phase: int, got: object) -> str | None:
    want = list(manifest.enabled_processors(phase))
    if not isinstance(got, list) or not all(isinstance(x, str) for x in got):
        return f"is not a JSON list of processor names ({got!r})"
    if sorted(got) == want:
        return None
    by_name = {p.name: p for p in manifest.processors}
    extra = sorted(set(got) - set(want))
    missing = sorted(set(want) - set(got))
    parts = []
    if missing:
        parts.append(f"missing {missing}")
    for name in extra:
        proc = by_name.get(name)
        if proc is None:
            parts.append(f"{name} is not a processor of the manifest")
        elif proc.phase != phase:
            state = "" if proc.enabled else f", disabled: {proc.note or 'off'}"
            parts.append(f"{name} is a phase {proc.phase} processor{state}")
        else:
            parts.append(f"{name} is disabled ({proc.note or 'off'}), so it never completes "
                         "and the gate waits forever")
    if len(got) != len(set(got)):
        parts.append("names repeat")
    return (f"lists {len(got)} processors but the manifest enables {len(want)} in phase "
            f"{phase} {want}: " + "; ".join(parts))


def expected_processors(ctx: Context) -> Iterator[Violation]:
    g, m = ctx.graph, ctx.manifest
    phase_by_id = {p.id: p.number for p in m.phases}
    gated = {t.key: t for t in m.gated()}
    fix = "; it is generated by infra.function_config from the manifest, never edited by hand"
    for address, name, env in _env_vars(g):
        mfn = _manifest_function(m, name) if address.startswith(
            "google_cloudfunctions") else None
        if mfn is not None and mfn.role == "orchestrator" and "EXPECTED_PROCESSORS" not in env:
            yield _v("DRIFT-001", address, "orchestrator has no EXPECTED_PROCESSORS" + fix)
        if mfn is not None and mfn.role == "canary" and "GATED_TRANSITIONS" not in env:
            yield _v("DRIFT-001", address, "canary has no GATED_TRANSITIONS" + fix)
        if "EXPECTED_PROCESSORS" in env:
            phase: int | None = None
            if mfn is not None and mfn.role == "orchestrator":
                t = next((t for t in m.gated() if t.function == mfn.key), None)
                phase = t.source if t else None
                if t is not None and env.get("SOURCE_PHASE", m.phase(t.source).id) != m.phase(
                        t.source).id:
                    yield _v("DRIFT-001", address, f"SOURCE_PHASE {env.get('SOURCE_PHASE')!r} "
                             f"but the manifest gates {m.phase(t.source).id}" + fix)
            elif str(env.get("SOURCE_PHASE")) in phase_by_id:
                phase = phase_by_id[str(env.get("SOURCE_PHASE"))]
            elif str(env.get("TRANSITION")) in gated:
                phase = gated[str(env.get("TRANSITION"))].source
            if phase is None:
                yield _v("DRIFT-001", address, "EXPECTED_PROCESSORS is set but neither the "
                         "function nor SOURCE_PHASE/TRANSITION name a gated transition of the "
                         "manifest" + fix)
            else:
                diff = _processor_diff(m, phase, _json(env.get("EXPECTED_PROCESSORS")))
                if diff:
                    yield _v("DRIFT-001", address, "EXPECTED_PROCESSORS " + diff + fix)
        if "GATED_TRANSITIONS" in env:
            items = _json(env.get("GATED_TRANSITIONS"))
            if not isinstance(items, list):
                yield _v("DRIFT-001", address, "GATED_TRANSITIONS is not a JSON list" + fix)
                continue
            seen: set[str] = set()
            for item in items:
                if not isinstance(item, Mapping):
                    yield _v("DRIFT-001", address, f"GATED_TRANSITIONS entry {item!r} is not "
                             "an object" + fix)
                    continue
                key = str(item.get("name"))
                seen.add(key)
                t = gated.get(key)
                if t is None:
                    yield _v("DRIFT-001", address, f"GATED_TRANSITIONS names {key!r}, which "
                             f"the manifest does not gate (gated: {sorted(gated)})" + fix)
                    continue
                if item.get("source_phase") not in (None, m.phase(t.source).id):
                    yield _v("DRIFT-001", address, f"GATED_TRANSITIONS[{key}].source_phase "
                             f"{item.get('source_phase')!r} but the manifest says "
                             f"{m.phase(t.source).id}" + fix)
                diff = _processor_diff(m, t.source, item.get("expected"))
                if diff:
                    yield _v("DRIFT-001", address, f"GATED_TRANSITIONS[{key}].expected " + diff
                             + fix)
                for fld, want in (("collection", t.completion_collection),
                                  ("stall_minutes", t.stall_minutes)):
                    if fld in item and item[fld] != want:
                        yield _v("DRIFT-001", address, f"GATED_TRANSITIONS[{key}].{fld} "
                                 f"{item[fld]!r} but the manifest says {want!r}" + fix)
            for key in sorted(set(gated) - seen):
                yield _v("DRIFT-001", address, f"GATED_TRANSITIONS does not watch gated "
                         f"transition {key!r}, so its stalls go unnoticed" + fix)
    if ctx.data is not None and _wrong_environment(ctx) is None:
        yield from _generated_config(ctx, fix)


SEMANTIC_KEYS = frozenset({"EXPECTED_PROCESSORS", "GATED_TRANSITIONS"})


def _generated_config(ctx: Context, fix: str) -> Iterator[Violation]:
    """Every variable ``infra.function_config`` generates, with exactly its value."""
    assert ctx.data is not None
    g, m, env = ctx.graph, ctx.manifest, ctx.data.env
    names = Names(env)
    by_name = {names.function(fn): fn for fn in m.functions}
    for fn_res in g.resources("google_cloudfunctions2_function"):
        fn = by_name.get(g.cloud_name(fn_res))
        if fn is None:
            continue
        got = first(fn_res.body.get("service_config")).get("environment_variables")
        if not isinstance(got, Mapping):
            got = {}
        for key, want in sorted(function_env(m, env, fn).items()):
            if key in SEMANTIC_KEYS and key in got:
                if _json(got[key]) != _json(want) and key == "GATED_TRANSITIONS":
                    items = _json(got[key])
                    topics = {i.get("name"): i.get("trigger_topic") for i in items
                              if isinstance(i, Mapping)} if isinstance(items, list) else {}
                    for t in m.gated():
                        want_topic = names.topic(t.trigger_topic or "")
                        if t.key in topics and topics[t.key] != want_topic:
                            yield _v("DRIFT-001", fn_res.address,
                                     f"GATED_TRANSITIONS[{t.key}].trigger_topic "
                                     f"{topics[t.key]!r} but the manifest says {want_topic!r}"
                                     + fix)
                continue
            if key not in got:
                yield _v("DRIFT-001", fn_res.address, f"environment variable {key} is missing "
                         f"(want {want!r})" + fix)
            elif str(got[key]) != want:
                yield _v("DRIFT-001", fn_res.address, f"environment variable {key} is "
                         f"{got[key]!r} but the manifest gives {want!r}" + fix)


_REMOVABLE_TYPES = ("google_cloudfunctions2_function", "google_cloudfunctions_function",
                    "google_cloud_run_v2_service", "google_cloud_run_service",
                    "google_pubsub_topic", "google_pubsub_subscription",
                    "google_cloud_scheduler_job", "google_eventarc_trigger")


def removed_components(ctx: Context) -> Iterator[Violation]:
    g, m = ctx.graph, ctx.manifest
    if not m.removed:
        return
    sport = ctx.data.env.sport if ctx.data is not None else r"[a-z]{2,5}"
    pattern = re.compile(rf"(?<![a-z0-9-])(?:{sport}-)?(?:{'|'.join(map(re.escape, m.removed))})"
                         r"(?![a-z0-9-])")
    for rtype in _REMOVABLE_TYPES:
        for res in g.resources(rtype):
            if pattern.fullmatch(g.cloud_name(res)):
                yield _v("DRIFT-002", res.address, f"{g.cloud_name(res)!r} was removed from the "
                         "pipeline (manifest 'removed'; seed 000: the monitoring-only Phase 2→3 "
                         "orchestrator and its subscriber-less topic); delete this resource")
    for address, _, env in _env_vars(g):
        for key, value in sorted(env.items()):
            if isinstance(value, str) and pattern.fullmatch(value):
                yield _v("DRIFT-002", address, f"environment variable {key} names {value!r}, "
                         "which was removed from the pipeline; point it at the manifest's "
                         "current topic or component")
    for res in g.resources("google_monitoring_alert_policy"):
        text = json.dumps(res.body)
        hit = pattern.search(text.replace('\\"', " "))
        if hit:
            yield _v("DRIFT-002", res.address, f"alerts on removed component {hit.group(0)!r}: "
                     "monitoring that fires on a component nobody depends on raised 7 sessions "
                     "of false alarms; delete the policy")


def declared_components(ctx: Context) -> Iterator[Violation]:
    g, data = ctx.graph, ctx.data
    assert data is not None
    names: dict[str, set[str]] = defaultdict(set)
    for res in g.stack.resources.values():
        names[res.type].add(g.cloud_name(res))
    checks = (
        (data.services, ("google_cloud_run_v2_service", "google_cloud_run_service"), "service"),
        (data.functions, ("google_cloudfunctions2_function",), "function"),
        (data.topics, ("google_pubsub_topic",), "topic"),
        (frozenset(e.subscription for e in data.edges), ("google_pubsub_subscription",),
         "push subscription"),
        (data.jobs, ("google_cloud_scheduler_job",), "scheduler job"),
        (data.datasets, ("google_bigquery_dataset",), "dataset"),
    )
    for wanted, rtypes, what in checks:
        have = set().union(*(names[t] for t in rtypes))
        for name in sorted(wanted - have):
            yield _v("DRIFT-003", _missing(rtypes[0], name), f"the manifest declares {what} "
                     f"{name!r} but the stack has no such resource (declared-but-missing); "
                     "restore the construct that renders it")


# ----------------------------------------------------------------------------- grants vs data


def _actual_grants(g: StackGraph) -> Iterator[tuple[IamEntry, Principal, Target]]:
    for e in g.iam:
        target = e.target.target if e.target is not None else Target("other", "?")
        if "${" in target.name:
            continue  # a reference to a resource the stack lacks: REF-001 reports it
        for p in e.principals:
            if p.declared:
                yield e, p, target


def undeclared_grants(ctx: Context) -> Iterator[Violation]:
    data = ctx.data
    assert data is not None
    for e, p, target in _actual_grants(ctx.graph):
        if any(gr.member == p.member and gr.role == e.role and gr.target == target
               for gr in data.grants):
            continue
        same_role = sorted(str(gr.target) for gr in data.grants_of(p.member) if gr.role == e.role)
        hint = (f"the data gives it {e.role} only on {same_role}" if same_role
                else f"the data gives it no {e.role}")
        yield _v("GRANT-001", e.address, f"{short_member(p.member)} ({data.describe(p.member)}) "
                 f"holds {e.role} on {target}, which iam/grants.py does not give it; {hint}. "
                 "Remove the grant, or add the connection to the manifest")


def missing_grants(ctx: Context) -> Iterator[Violation]:
    g, data = ctx.graph, ctx.data
    assert data is not None
    have = {(p.member, e.role, target) for e, p, target in _actual_grants(g) if e.mode == "member"}
    by_target: dict[Target, str] = {}
    for res in g.stack.resources.values():
        if res.type.startswith("data.") or res.type.endswith(("_iam_member", "_iam_binding",
                                                               "_iam_policy")):
            continue
        kind = g.kind_of(res, "other")
        if res.type == "google_cloudfunctions2_function":
            kind = "function.service"
        by_target.setdefault(Target(kind, g.cloud_name(res)), res.address)
    for gr in sorted(data.grants):
        if (gr.member, gr.role, gr.target) in have:
            continue
        address = by_target.get(gr.target) or _missing(
            KIND_TYPES.get(gr.target.kind, gr.target.kind), gr.target.name)
        yield _v("GRANT-002", address, f"{short_member(gr.member)} needs {gr.role} on "
                 f"{gr.target} ({gr.why}) and no *_iam_member grants it; restore the grant_*() "
                 "call of the construct that owns the target")


def slot_identities(ctx: Context) -> Iterator[Violation]:
    data = ctx.data
    assert data is not None
    for a in ctx.graph.acting():
        want = data.slots.get(a.slot)
        if want is None or a.principal is None or not a.principal.declared:
            continue
        if a.principal.member != want:
            yield _v("GRANT-003", a.address, f"{a.field} is {short_member(a.principal.member)} "
                     f"({data.describe(a.principal.member)}) but the {a.slot} acts as "
                     f"{short_member(want)}; use the component's own identity")


# ----------------------------------------------------------------------------- secrets, ingress


SECRET_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Slack webhook URL", re.compile(r"hooks\.slack\.com/(?:services|workflows|triggers)/")),
    ("a chat webhook URL", re.compile(r"discord(?:app)?\.com/api/webhooks/|"
                                      r"webhook\.office\.com/|outlook\.office\.com/webhook")),
    ("a Slack token", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{8,}|\bxapp-\d-[A-Za-z0-9-]{8,}")),
    ("a private key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----|\"private_key\"\s*:")),
    ("a Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("a Google OAuth client secret", re.compile(r"\bGOCSPX-[A-Za-z0-9_-]{20,}")),
    ("an AWS access key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a GitHub token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{22,}")),
    ("a GitLab token", re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}")),
    ("a Stripe key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}")),
    ("a JSON web token", re.compile(r"\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.")),
    ("a bearer token", re.compile(r"\bBearer\s+[A-Za-z0-9._~+/-]{20,}")),
    ("credentials in a URL", re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@${}]+:[^/\s@${}]+@")),
)
SENSITIVE_KEYS = frozenset({"auth_token", "secret_data", "password", "api_key", "private_key",
                            "client_secret", "access_token", "secret_key", "token", "service_key",
                            "credentials", "webhook_url", "bot_token", "signing_secret",
                            "secret_string", "private_key_pem", "refresh_token"})
SENSITIVE_SUFFIXES = ("_token", "_secret", "_password", "_api_key", "_private_key")
SENSITIVE_NAME_PARTS = frozenset({"TOKEN", "KEY", "SECRET", "PASSWORD", "PASSWD", "APIKEY",
                                  "CREDENTIALS", "CREDENTIAL", "WEBHOOK", "AUTHORIZATION",
                                  "PRIVATE"})


def _sensitive_name(name: str) -> bool:
    parts = set(re.split(r"[^A-Z0-9]+", name.upper()))
    return bool(parts & SENSITIVE_NAME_PARTS)


def _secret_source(value: str) -> str | None:
    """``None`` when ``value`` is a Secret Manager reference; else why it is not acceptable."""
    ref = REF_RE.fullmatch(value.strip())
    if ref and ref.group(1).startswith(SECRET_SOURCES):
        return None
    if ref:
        return f"comes from {ref.group(1)}, not Secret Manager"
    return "is a literal value"


def _walk(value: object, path: str) -> Iterator[tuple[str, str, object]]:
    """``(path, key, value)`` of every scalar under ``value``."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if k == "//":
                continue
            sub = f"{path}.{k}" if path else str(k)
            if isinstance(v, Mapping | list):
                yield from _walk(v, sub)
            else:
                yield sub, str(k), v
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")


def _decoded(value: str) -> str:
    try:
        return base64.b64decode(value, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""


def secrets(ctx: Context) -> Iterator[Violation]:
    yield from minted_keys(ctx)
    data = ctx.graph.stack.data
    blocks: list[tuple[str, object]] = []
    for kind in ("resource", "data"):
        for rtype, by_name in (data.get(kind) or {}).items():
            for name, body in (by_name or {}).items():
                prefix = "data." if kind == "data" else ""
                blocks.append((f"{prefix}{rtype}.{name}", body))
    for kind in ("provider", "output", "variable", "locals", "terraform"):
        for name, body in (data.get(kind) or {}).items():
            if isinstance(body, Mapping | list):
                blocks.append((f"{kind}.{name}", body))
            else:
                blocks.append((f"{kind}.{name}", {name: body}))
            value: object = None
            if kind == "variable" and isinstance(body, Mapping):
                value = body.get("default")
            elif kind == "locals":
                value = body
            if (isinstance(value, str) and value and _sensitive_name(name)
                    and _secret_source(value)):
                yield _v("SECRET-001", f"{kind}.{name}", f"{kind} {name} holds a literal "
                         "value; secrets are read from Secret Manager, never written in the "
                         "stack")
    for address, body in blocks:
        reported: set[str] = set()
        for path, key, value in _walk(body, ""):
            if not isinstance(value, str) or not value:
                continue
            where = path
            texts = [value]
            if path.replace("[0]", "") in ("http_target.body", "pubsub_target.data"):
                texts.append(_decoded(value))
            for label, pattern in SECRET_PATTERNS:
                if any(pattern.search(t) for t in texts) and where not in reported:
                    reported.add(where)
                    yield _v("SECRET-001", address, f"{where} holds {label}; secrets live in "
                             "Secret Manager and reach the stack only as "
                             "data.google_secret_manager_secret_version references (rotate it: "
                             "it is in the code that wrote this stack and in Terraform state)")
            if where in reported:
                continue
            sensitive = (key in SENSITIVE_KEYS or key.endswith(SENSITIVE_SUFFIXES)
                         or ".sensitive_labels." in f".{path}")
            if address.startswith("data.google_secret_manager_secret_version."):
                sensitive = False
            if sensitive:
                why = _secret_source(value)
                if why:
                    reported.add(where)
                    yield _v("SECRET-001", address, f"sensitive field {where} {why}; read it "
                             "from data.google_secret_manager_secret_version.<x>.secret_data")
        yield from _secret_env(address, body, reported)


def _secret_env(address: str, body: object, reported: set[str]) -> Iterator[Violation]:
    if not isinstance(body, Mapping):
        return
    pairs: list[tuple[str, str, object]] = []
    for block in ("service_config", "build_config"):
        env = first(body.get(block)).get("environment_variables")
        if isinstance(env, Mapping):
            pairs += [(f"{block}.environment_variables.{k}", k, v) for k, v in env.items()]
    for key in ("environment_variables", "build_environment_variables"):
        env = body.get(key)
        if isinstance(env, Mapping):
            pairs += [(f"{key}.{k}", k, v) for k, v in env.items()]
    headers = first(body.get("http_target")).get("headers")
    if isinstance(headers, Mapping):
        pairs += [(f"http_target.headers.{k}", k, v) for k, v in headers.items()]
    template = first(body.get("template"))
    containers = _blocks(template.get("containers")) + _blocks(
        first(template.get("spec")).get("containers"))
    for i, c in enumerate(containers):
        for j, item in enumerate(_blocks(c.get("env"))):
            if "value" in item:
                pairs.append((f"template.containers[{i}].env[{j}]", str(item.get("name")),
                              item.get("value")))
    for path, name, value in pairs:
        if path in reported or not isinstance(value, str) or not value:
            continue
        if not _sensitive_name(name):
            continue
        why = _secret_source(value)
        if why:
            yield _v("SECRET-001", address, f"{path} ({name}) {why}; environment variables are "
                     "readable by every viewer of the service: use a Secret Manager secret "
                     "reference (value_source.secret_key_ref / secret_environment_variables)")


KEY_MINTING_TYPES: Mapping[str, str] = {
    "google_service_account_key": "a service-account private key",
    "google_storage_hmac_key": "an HMAC secret",
    "google_apikeys_key": "an API key string",
}


def minted_keys(ctx: Context) -> Iterator[Violation]:
    for rtype, what in KEY_MINTING_TYPES.items():
        for res in ctx.graph.resources(rtype):
            yield _v("SECRET-001", res.address, f"{rtype} writes {what} into Terraform state "
                     "(and outputs); pipeline identities never need exported keys: Cloud Run, "
                     "functions and Scheduler act as their service account directly")


def conditional_grants(ctx: Context) -> Iterator[Violation]:
    seen: set[str] = set()
    for e in ctx.graph.iam:
        res = ctx.graph.stack.resources.get(e.address)
        if res is None or e.address in seen or not first(res.body.get("condition")):
            continue
        seen.add(e.address)
        cond = first(res.body.get("condition"))
        yield _v("COND-001", e.address, f"{e.role} is conditional "
                 f"({cond.get('expression', '')!r}): a time- or request-bound grant stops "
                 "working on its own, silently (an expiring invoker is the stripped-invoker "
                 "outage on a timer); grant it unconditionally")


def ingress(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    for svc in g.resources("google_cloud_run_v2_service"):
        value = svc.body.get("ingress")
        if value not in ("INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"):
            shown = value or "omitted (defaults to INGRESS_TRAFFIC_ALL)"
            yield _v("INGRESS-001", svc.address, f"ingress is {shown}; pipeline services take "
                     "internal traffic only (Pub/Sub push, Scheduler and Eventarc still reach "
                     "them): set INGRESS_TRAFFIC_INTERNAL_ONLY")
    for svc in g.resources("google_cloud_run_service"):
        ann = first(svc.body.get("metadata")).get("annotations") or {}
        if ann.get("run.googleapis.com/ingress") not in ("internal",
                                                          "internal-and-cloud-load-balancing"):
            yield _v("INGRESS-001", svc.address, "run.googleapis.com/ingress is not internal; "
                     "set it to internal")
    for fn in g.resources("google_cloudfunctions2_function"):
        value = first(fn.body.get("service_config")).get("ingress_settings")
        if value not in ("ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"):
            shown = value or "omitted (defaults to ALLOW_ALL)"
            yield _v("INGRESS-001", fn.address, f"service_config.ingress_settings is {shown}; "
                     "set ALLOW_INTERNAL_ONLY")


def _wrong_environment(ctx: Context) -> str | None:
    """Why the stack is not for the environment of ``ctx.data``; ``None`` when it is."""
    if ctx.data is None or ctx.graph.project is None:
        return None
    if ctx.graph.project != ctx.data.env.project_id:
        return (f"the provider's project is {ctx.graph.project!r} but the {ctx.data.env.name} "
                f"environment is {ctx.data.env.project_id!r}")
    return None


def project_consistency(ctx: Context) -> Iterator[Violation]:
    g = ctx.graph
    wrong = _wrong_environment(ctx)
    if wrong:
        yield _v("ENV-001", "provider.google", f"{wrong}; check the stack of the environment "
                 "you deploy (the grant rules were skipped: nothing would match)")
        return
    project = ctx.data.env.project_id if ctx.data is not None else g.project
    if project is None:
        return
    for res in sorted(g.stack.resources.values(), key=lambda r: r.address):
        for fld in ("project", "project_id"):
            value = res.body.get(fld)
            if isinstance(value, str) and "${" not in value and value != project:
                yield _v("ENV-001", res.address, f"{fld} is {value!r} but every resource of this "
                         f"stack lives in {project!r}; a resource in another project escapes "
                         "this stack's grants and checks")


_BUILTIN_SCOPES = ("each", "count", "path", "self", "terraform", "module")


def dangling_references(ctx: Context) -> Iterator[Violation]:
    stack = ctx.graph.stack
    data = stack.data
    variables = set((data.get("variable") or {}).keys())
    local_names = set((data.get("locals") or {}).keys())
    owners: list[tuple[str, object]] = [(a, r.body) for a, r in stack.resources.items()]
    owners += [(f"output.{k}", v) for k, v in (data.get("output") or {}).items()]
    for owner, body in owners:
        lifecycle_free = ({k: v for k, v in body.items() if k != "lifecycle"}
                          if isinstance(body, Mapping) else body)
        for address in sorted(set(stack.refs(lifecycle_free))):
            scope, _, name = address.partition(".")
            if scope in _BUILTIN_SCOPES:
                continue
            if scope == "var":
                if name not in variables:
                    yield _v("REF-001", owner, f"references var.{name}, which is not declared")
                continue
            if scope == "local":
                if name not in local_names:
                    yield _v("REF-001", owner, f"references local.{name}, which is not declared")
                continue
            if address not in stack.resources:
                yield _v("REF-001", owner, f"references {address}, which this stack does not "
                         "declare (a removed resource still in use); restore it or drop the "
                         "reference")
        if isinstance(body, Mapping):
            for entry in lifecycle_triggers(body):
                target = str(entry).split("[", 1)[0]
                target = ".".join(target.split(".")[:2])
                if "${" not in target and target not in stack.resources:
                    yield _v("REF-001", owner, f"lifecycle.replace_triggered_by names {entry!r}, "
                             "which this stack does not declare")


def _blocks(value: object) -> list[Mapping[str, Any]]:
    """The objects of a repeated block (a list, or one object); anything else is skipped."""
    items = value if isinstance(value, list) else [value]
    return [i for i in items if isinstance(i, Mapping)]


def _json(value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


# ----------------------------------------------------------------------------- registry

RULES: tuple[Rule, ...] = (
    Rule("ENV-001", "The stack and its resources are in the environment's project",
         "Environments differ only in their config (STYLE 1): a prod stack checked as dev, or "
         "one resource pointed at another project (the dev project in prod), means grants and "
         "wiring are checked against the wrong names.",
         "synthesize the stack for the environment; never hard-code a project",
         project_consistency),
    Rule("PUSH-001", "Push subscriptions carry an OIDC identity and an explicit audience",
         "Cloud Run services here are IAM-checked: a push without an OIDC token is refused, "
         "and a token whose audience is not the target's URL is rejected (401). The identity "
         "is what the invoker grant is checked against (STYLE: OIDC + explicit audience).",
         "set push_config.oidc_token { service_account_email, audience = <target>.uri }",
         push_oidc),
    Rule("PUSH-002", "Push endpoints provably target a service of this stack",
         "A literal URL (seed 000's https://nba-phase3-…run.app/process) cannot be tied to a "
         "service, so nobody can check that the push identity may invoke it, and it silently "
         "points at the old service when one is renamed or replaced.",
         "push_endpoint = ${google_cloud_run_v2_service.<x>.uri}/<path>", push_endpoint),
    Rule("PUSH-003", "The push identity holds roles/run.invoker on the push target",
         "Failure 1 (seed 000): redeploys stripped roles/run.invoker and the push identity "
         "got 403 for 7+ days without anyone noticing. The grant must be declared, additive "
         "(google_cloud_run_v2_service_iam_member) and on the target the endpoint names.",
         "target.grant_invoke(edge identity) — PushEdge does this", push_invoker),
    Rule("PUSH-004", "The Pub/Sub agent can mint tokens for push and trigger identities",
         "Pub/Sub signs each authenticated push with a token of the push (or Eventarc trigger) "
         "identity; it needs roles/iam.serviceAccountTokenCreator on that identity (required "
         "for projects created before April 8, 2021, and harmless where it is implicit).",
         "identity.grant_token_creator(pubsub agent) — PushEdge and CloudFunction do this",
         push_token_creator),
    Rule("WIRE-001", "Subscriptions, triggers and jobs are wired as the manifest declares",
         "Phase 2→3 is a direct push, Phase 3→4 is gated by the orchestrator's trigger and the "
         "backup triggers call /process-date-range (seed 000). A subscription, trigger or job "
         "on the wrong topic or target, or one the manifest does not know, is an "
         "undocumented trigger path.", "change infra/model/pipeline.py, not the stack", wiring,
         needs_env=True),
    Rule("INVOKE-001", "Function event-trigger identities hold run.invoker on the function",
         "Gen2 functions run on Cloud Run; Eventarc delivers with the trigger identity, which "
         "needs roles/run.invoker on service_config.service. Each `gcloud functions deploy` "
         "reset that policy (seed 000), so the function module grants it itself.",
         "CloudFunction grants it; never deploy functions outside Terraform", trigger_invoker),
    Rule("INVOKE-002", "Scheduler jobs call a stack service with OIDC and hold invoker on it",
         "The same-day Phase 3 backup triggers and the canary call internal, IAM-checked "
         "services: without OIDC, invoker and the right audience the backup trigger fails on "
         "exactly the days it is needed.",
         "ScheduledJob passes the target; the target's grant_invoke() adds the member",
         job_invoker),
    Rule("INVOKE-003", "No role broader than invoker on a pipeline service",
         "Owner/editor/admin/developer roles on a service let the holder redeploy it or "
         "rewrite its IAM policy — the very operation that stripped run.invoker. Callers need "
         "roles/run.invoker only.", "grant roles/run.invoker", broad_roles_on_services),
    Rule("LIFE-001", "IAM on a replaceable resource is re-created with it",
         "A replaced service, function, topic, subscription, account or dataset comes back "
         "with an empty IAM policy while Terraform still believes the member exists: the "
         "stripped-invoker outage again. replace_triggered_by with the target's literal "
         "address re-creates the member (STYLE IAM rule 3).",
         "lifecycle.replace_triggered_by = [\"<target type>.<name>\"] (replaced_with())",
         replace_triggered_by),
    Rule("COND-001", "No conditional grants",
         "A grant with a condition (an expiry, a time window) disappears in effect without any "
         "change to the stack; a pipeline identity's access must not depend on the clock.",
         "drop the condition block", conditional_grants),
    Rule("AUTH-001", "No authoritative IAM",
         "*_iam_binding and *_iam_policy own the whole role or policy: each apply removes "
         "members it does not list (Eventarc's, the console's, another stack's) — the failure "
         "mode of seed 000's redeploys. Only additive *_iam_member is allowed.",
         "one *_iam_member per member and role", authoritative),
    Rule("ACL-001", "No legacy ACLs beside IAM",
         "BigQuery dataset access entries and Cloud Storage ACLs grant access that no "
         "*_iam_member shows, use basic roles (OWNER/WRITER/READER), and in their list forms "
         "(a dataset's access blocks, *_acl resources) own the whole ACL: every apply drops the "
         "entries they do not list, including the dataset grants of the pipeline's identities "
         "(the stripped-IAM failure again, on data).",
         "grant a predefined role with the construct's grant_*() method", legacy_acls),
    Rule("PUBLIC-001", "Nothing is public",
         "allUsers/allAuthenticatedUsers (or invoker_iam_disabled) expose pipeline services "
         "and data to the internet; every caller here is a pipeline identity (STYLE: never "
         "allUsers).", "grant the calling component's identity", public_members),
    Rule("SA-001", "No default service accounts, granted or implied",
         "Failure 6: seed 000 granted run.invoker to 756957797294-compute@developer, the "
         "default compute account every workload shares (by default Editor on the project). A "
         "service or function without an explicit identity runs as that account too.",
         "give the component its own google_service_account", default_accounts),
    Rule("SA-002", "Every member and acting identity is declared in the stack",
         "A literal email that matches no account of the stack (a typo, the other "
         "environment's project, a literal project number) grants nothing useful and cannot "
         "be checked; identities are referenced, not typed.",
         "serviceAccount:${google_service_account.<x>.email}", declared_identities),
    Rule("SA-003", "Each component acts as its own identity",
         "Sharing one identity between components (e.g. the phase-2 push identity on the "
         "phase-3 subscription) lets a grant meant for one open another; least privilege "
         "needs one identity per component (failure 6).",
         "use the identity the component's construct creates", shared_identities),
    Rule("ROLE-001", "No primitive, admin or impersonation roles",
         "roles/owner, roles/editor and roles/viewer carry thousands of permissions across "
         "every service of the project; admin roles can rewrite a resource's IAM (how invoker "
         "bindings were lost) and impersonation roles let one identity act as another. The "
         "pipeline needs none of them, at any level.",
         "use the predefined role the connection needs", primitive_roles),
    Rule("ROLE-002", "Resource roles are granted on the resource, not the project",
         "Invoker, publisher, subscriber, data-editor and token-creator roles exist on each "
         "service, topic, subscription, dataset and account; granted project-wide they open "
         "every other one too (a widened grant). Only Firestore's and Cloud Build's roles, "
         "which have no resource level, are granted on the project.",
         "call the target construct's grant_*() method", project_scoped_roles),
    Rule("DLQ-001", "Push subscriptions dead-letter to a topic that is read",
         "Without a dead-letter topic a message the target keeps refusing (e.g. the 403s of a "
         "stripped invoker) is retried until retention ends and dropped silently; a "
         "dead-letter topic nobody subscribes to drops it too (failure 5).",
         "PushEdge creates <sub>-dlq and <sub>-dlq-sub", dead_letter),
    Rule("DLQ-002", "The Pub/Sub agent may publish to each dead-letter topic",
         "Dead-lettering is done by the Pub/Sub service agent; without roles/pubsub.publisher "
         "on the dead-letter topic it silently does nothing (documented Pub/Sub behaviour).",
         "dead_letter_topic.grant_publish(pubsub agent)", dead_letter_publisher),
    Rule("DLQ-003", "The Pub/Sub agent may subscribe to each dead-lettering subscription",
         "The service agent must acknowledge the message on the source subscription when it "
         "forwards it; without roles/pubsub.subscriber there it cannot, and messages are "
         "redelivered until retention drops them (documented Pub/Sub behaviour).",
         "google_pubsub_subscription_iam_member for the agent (PushEdge adds it)",
         dead_letter_subscriber),
    Rule("SUB-001", "Subscriptions never expire",
         "Pub/Sub deletes a subscription after 31 days without activity unless its "
         "expiration_policy.ttl is empty (documented default). Dead-letter subscriptions are "
         "idle by design and the Phase 3→4 trigger idles between seasons: expiry would remove "
         "an edge with no error anywhere (failure 5, silent outages).",
         "expiration_policy { ttl = \"\" } (PushEdge sets it)", subscription_expiry),
    Rule("SUB-002", "Push subscriptions back off between redeliveries",
         "Without a retry_policy Pub/Sub redelivers a refused push immediately: a target that "
         "answers 403 or 500 (a stripped invoker, a crashed deploy) is hammered, and the "
         "dead-letter attempts are used up in seconds instead of spreading over the minutes "
         "that let a transient failure heal (documented Pub/Sub behaviour).",
         "retry_policy { minimum_backoff = \"10s\", maximum_backoff = \"600s\" }", push_backoff),
    Rule("TOPIC-001", "Every topic has a consumer",
         "Failure 4: the Phase 2→3 orchestrator published to nba-phase3-trigger, which had no "
         "subscribers (seed 000). A topic without a subscription or event trigger loses "
         "every message published to it.",
         "add the transition or trigger that consumes it, or remove the topic",
         topic_consumers),
    Rule("DRIFT-001", "Expected-processor configuration equals the manifest's enabled set",
         "Failure 2 (seeds 000/001): the orchestrator kept expecting 6 Phase 2 processors, "
         "including the disabled p2_bdl_box_scores, and waited three days for one that could "
         "never come. EXPECTED_PROCESSORS and the canary's GATED_TRANSITIONS must be exactly "
         "the manifest's enabled processors of the gated phase.",
         "regenerate with make synth (infra.function_config); never edit it",
         expected_processors),
    Rule("DRIFT-002", "Removed components stay removed",
         "Seed 000 removed the monitoring-only phase2-to-phase3-orchestrator (7 sessions of "
         "false alarms) and its subscriber-less topic nba-phase3-trigger; they, and alerts on "
         "them, must not come back.", "delete the resource; see manifest 'removed'",
         removed_components),
    Rule("DRIFT-003", "Everything the manifest declares is in the stack",
         "Failure 4: tables, topics and monitors that were declared but never created. Each "
         "service, function, topic, push subscription, job and dataset of the manifest must "
         "be rendered.", "restore the construct call in infra/synth/stacks/pipeline_stack.py",
         declared_components, needs_env=True),
    Rule("GRANT-001", "No identity holds a role the data does not give it",
         "iam/grants.py derives every grant from the manifest. A grant outside it is a widened "
         "role, a project-level grant where a resource one was meant, or a swapped identity "
         "(the phase-2 push identity invoking Phase 3).",
         "remove the grant, or declare the connection in the manifest", undeclared_grants,
         needs_env=True),
    Rule("GRANT-002", "Every grant the data requires is declared additively",
         "The other half of failure 1: a publisher, writer, token-creator or invoker grant the "
         "pipeline needs and the stack lost. Only *_iam_member counts.",
         "restore the grant_*() call", missing_grants, needs_env=True),
    Rule("GRANT-003", "Each slot acts as the identity the data assigns",
         "A runtime, trigger, push or job identity replaced by another declared identity "
         "keeps every grant valid while the wrong principal acts (swapped identities).",
         "use the identity the component's construct creates", slot_identities,
         needs_env=True),
    Rule("DATA-001", "Data stores cannot be destroyed by an apply",
         "The Firestore database holds the orchestrator's completion records and trigger "
         "claims, and the BigQuery datasets and tables hold the pipeline's outputs and the "
         "orchestration log; a renamed construct or a removed manifest entry would plan their "
         "destruction and an approved apply would carry it out. prevent_destroy (and no "
         "delete-contents / deletion-protection-off flags) makes that plan fail instead.",
         "lifecycle { prevent_destroy = true }", data_protection),
    Rule("SECRET-001", "No secret values in the stack",
         "The Slack token of the alert channel lives in Secret Manager; anything literal in "
         "cdk.tf.json came from code in git and lands in CI artifacts, plan files and state. "
         "Tokens, keys, webhook URLs and sensitive fields come from "
         "data.google_secret_manager_secret_version.",
         "reference the secret version; rotate any leaked value", secrets),
    Rule("INGRESS-001", "Services and functions take internal traffic only",
         "Pipeline components are called by Pub/Sub, Eventarc and Cloud Scheduler only; an "
         "omitted ingress defaults to all traffic, which leaves IAM as the only barrier.",
         "INGRESS_TRAFFIC_INTERNAL_ONLY / ALLOW_INTERNAL_ONLY", ingress),
    Rule("REF-001", "References name declared resources",
         "A resource removed while something still references it (a deleted service account, "
         "topic or invoker target) fails at plan time at best; the gate names it first.",
         "restore the resource or drop the reference", dangling_references),
)

RULES_BY_ID: Mapping[str, Rule] = {r.id: r for r in RULES}


def run(ctx: Context) -> list[Violation]:
    """All violations of ``ctx``'s stack, in rule order then address order, deduplicated."""
    out: list[Violation] = []
    seen: set[tuple[str, str, str]] = set()
    skip_env = ctx.data is None or _wrong_environment(ctx) is not None
    for rule in RULES:
        if rule.needs_env and skip_env:
            continue
        try:
            found = sorted(rule.check(ctx), key=lambda v: (v.address, v.message))
        except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
            raise RuleError(f"rule {rule.id} cannot read this stack ({type(exc).__name__}: "
                            f"{exc}); a block has an unexpected shape") from exc
        for v in found:
            key = (v.rule, v.address, v.message)
            if key not in seen:
                seen.add(key)
                out.append(Violation(v.rule, v.address, v.message, ctx.graph.name))
    return out
