"""Invokers: event triggers and scheduler jobs may call their targets, and nobody holds
more than run.invoker on a pipeline service."""

from __future__ import annotations

from collections.abc import Iterator

from iam.rules.engine import Context, Finding, rule
from iam.rules.helpers import (
    check_audience,
    holds_invoker,
    http_jobs,
    oidc_principal,
    target_text,
    trigger_identities,
    who,
)
from infra.model.permissions import PRIMITIVE_ROLES
from infra.stackjson.stack import first


@rule("INVOKE-001", "Function event-trigger identities hold run.invoker on the function",
      see="https://cloud.google.com/eventarc/standard/docs/functions/roles-permissions",
      fix="CloudFunction grants it; never deploy functions outside Terraform")
def trigger_invoker(ctx: Context) -> Iterator[Finding]:
    """A gen2 function runs as a Cloud Run service; Eventarc delivers each event with the
    trigger's service account, which needs roles/run.invoker on that service
    (service_config.service) or the delivery is refused."""
    g = ctx.graph
    for fn, principal in trigger_identities(g):
        if principal.declared and not holds_invoker(g, principal, fn.address):
            yield Finding(fn.address, f"event-trigger identity {who(principal)} does not hold "
                          f"roles/run.invoker on the function's Cloud Run service "
                          "(name = service_config.service), so Eventarc's deliveries are "
                          "refused and the function never runs (the 7-day silent outage of "
                          "seed 000); grant it with the function's grant_invoke()")


@rule("INVOKE-002", "Scheduler jobs call a stack service with OIDC and hold invoker on it",
      see="https://cloud.google.com/scheduler/docs/http-target-auth",
      fix="ScheduledJob passes the target; the target's grant_invoke() adds the member")
def job_invoker(ctx: Context) -> Iterator[Finding]:
    """Cloud Scheduler authenticates to Cloud Run with an OIDC token of the job's service
    account, whose audience is the target's URL; that account needs roles/run.invoker on the
    target, or every scheduled call gets 403."""
    g = ctx.graph
    for job, http, ep in http_jobs(g):
        if ep.target is None:
            yield Finding(job.address, f"http_target.uri {ep.raw!r} cannot be proven to "
                          "target a Cloud Run service or function of this stack; write it as "
                          "${<target>.uri}/<path>")
        oidc = first(http.get("oidc_token"))
        if not oidc:
            extra = " (oauth_token is for Google APIs, not Cloud Run)" if http.get(
                "oauth_token") else ""
            yield Finding(job.address, f"http_target has no oidc_token{extra}: the call is "
                          "unauthenticated and the target answers 403; add oidc_token with "
                          "the job's identity and the target's uri as audience")
            continue
        principal = oidc_principal(g, oidc)
        if principal is None:
            yield Finding(job.address, "oidc_token has no service_account_email; set it to "
                          "the job's own identity")
        yield from check_audience(job.address, g, oidc, ep)
        if (principal is not None and principal.declared and ep.target is not None
                and ep.target.address is not None
                and not holds_invoker(g, principal, ep.target.address)):
            yield Finding(job.address, f"job identity {who(principal)} does not hold "
                          f"roles/run.invoker on {target_text(ep.target)}, so the scheduled "
                          "call gets 403; grant it with the target's grant_invoke()")


def _is_broad(role: str) -> bool:
    name = role.rsplit("/", 1)[-1]
    return (role in PRIMITIVE_ROLES or name.endswith(("admin", "Admin", ".developer",
                                                      ".sourceDeveloper", "serviceAgent"))
            or name in ("iam.serviceAccountUser",))


@rule("INVOKE-003", "No role broader than invoker on a pipeline service",
      see="https://cloud.google.com/run/docs/reference/iam/roles", fix="grant roles/run.invoker")
def broad_roles_on_services(ctx: Context) -> Iterator[Finding]:
    """Cloud Run's admin and developer roles let the holder redeploy a service or rewrite its
    IAM policy; a caller needs roles/run.invoker (run.routes.invoke) and nothing more."""
    for e in ctx.graph.iam:
        if e.target is None or e.target.target.kind not in ("run.service", "function.service",
                                                            "function"):
            continue
        if _is_broad(e.role):
            yield Finding(e.address, f"grants {e.role} on {target_text(e.target)}; callers of "
                          "a pipeline service need roles/run.invoker and nothing broader "
                          "(admin/developer roles can redeploy it or change its IAM)")
