"""Push edges: each push subscription authenticates, targets a stack service, and its
identity may invoke that service and have tokens minted for it."""

from __future__ import annotations

from collections.abc import Iterator

from iam.rules.engine import Context, Finding, rule
from iam.rules.helpers import (
    agent_holds,
    check_audience,
    holds_invoker,
    push_identities,
    push_subscriptions,
    target_text,
    trigger_identities,
    who,
)
from infra.model.permissions import TOKEN_CREATOR
from infra.stackjson.stack import first

PUSH_AUTH_DOC = "https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions"


@rule("PUSH-001", "Push subscriptions carry an OIDC identity and an explicit audience",
      see=PUSH_AUTH_DOC, fix="set push_config.oidc_token { service_account_email, audience = <target>.uri }")
def push_oidc(ctx: Context) -> Iterator[Finding]:
    """An IAM-checked Cloud Run service refuses a push without an OIDC token, and rejects a
    token whose audience is not its URL; the token's identity is the one the invoker grant must
    be checked against."""
    g = ctx.graph
    for sub, push in push_subscriptions(g):
        oidc = first(push.get("oidc_token"))
        if not oidc:
            yield Finding(sub.address, "push_config has no oidc_token: Pub/Sub pushes "
                          "unauthenticated and the IAM-checked target answers 403; add "
                          "oidc_token with the edge's push identity and the target's uri as "
                          "audience")
            continue
        if not oidc.get("service_account_email"):
            yield Finding(sub.address, "oidc_token has no service_account_email; set it to "
                          "the edge's own push identity")
        yield from check_audience(sub.address, g, oidc, g.endpoint(push.get("push_endpoint")))


@rule("PUSH-002", "Push endpoints provably target a service of this stack",
      see="https://cloud.google.com/run/docs/triggering/pubsub-push",
      fix="push_endpoint = ${google_cloud_run_v2_service.<x>.uri}/<path>")
def push_endpoint(ctx: Context) -> Iterator[Finding]:
    """A literal endpoint URL cannot be tied to a service, so no one can check that the push
    identity may invoke it, and it keeps pointing at the old URL when the service is renamed or
    replaced; the endpoint is the service's uri."""
    g = ctx.graph
    for sub, push in push_subscriptions(g):
        ep = g.endpoint(push.get("push_endpoint"))
        if ep.target is None:
            yield Finding(sub.address, f"push_endpoint {ep.raw!r} cannot be proven to target "
                          "a Cloud Run service of this stack (a literal URL or another "
                          "resource), so no invoker grant can be checked for it; write it as "
                          "${google_cloud_run_v2_service.<target>.uri}/<path>")


@rule("PUSH-003", "The push identity holds roles/run.invoker on the push target",
      see="https://cloud.google.com/run/docs/tutorials/pubsub",
      fix="target.grant_invoke(edge identity) — PushEdge does this")
def push_invoker(ctx: Context) -> Iterator[Finding]:
    """Cloud Run answers 403 to a push whose identity lacks roles/run.invoker on the service.
    The grant must be declared, additive (google_cloud_run_v2_service_iam_member) and on the
    target the endpoint names."""
    g = ctx.graph
    for sub, principal, ep in push_identities(g):
        if ep.target is None or ep.target.address is None or not principal.declared:
            continue
        if not holds_invoker(g, principal, ep.target.address):
            yield Finding(sub.address, f"push identity {who(principal)} does not hold "
                          f"roles/run.invoker on {target_text(ep.target)} through a "
                          "google_cloud_run_v2_service_iam_member, so every push gets 403 and "
                          "ends in the dead-letter topic; grant it with the target's "
                          "grant_invoke()")


@rule("PUSH-004", "The Pub/Sub agent can mint tokens for push and trigger identities",
      see=PUSH_AUTH_DOC,
      fix="identity.grant_token_creator(pubsub agent) — PushEdge and CloudFunction do this")
def push_token_creator(ctx: Context) -> Iterator[Finding]:
    """Pub/Sub signs each authenticated push with a token of the push (or Eventarc trigger)
    identity; its service agent needs roles/iam.serviceAccountTokenCreator on that identity
    (required for projects created before April 8, 2021, harmless where it is implicit)."""
    g = ctx.graph
    identities = [(sub, p, "push") for sub, p, _ in push_identities(g)]
    identities += [(fn, p, "event-trigger") for fn, p in trigger_identities(g)]
    for res, p, what in identities:
        if not p.declared or not p.address:
            continue
        if not agent_holds(g, "google_service_account_iam_member", TOKEN_CREATOR, p.address):
            yield Finding(res.address, f"the Pub/Sub service agent has no "
                          f"roles/iam.serviceAccountTokenCreator on {what} identity {who(p)}, "
                          "so it cannot mint the OIDC token it pushes with; add it with the "
                          "identity's grant_token_creator(agent)")
