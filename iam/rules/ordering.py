"""Order: nothing delivers, or is built, before the grants it needs exist.

Terraform creates independent resources in parallel; only a reference or ``depends_on`` orders
them. A subscription or trigger created (or switched to a new identity) before its grants
pushes tokens the target refuses, and a function built before its build identity's grants
fails to build.
"""

from __future__ import annotations

from collections.abc import Iterator

from iam.rules.engine import Context, Finding, rule
from iam.rules.helpers import INVOKER_IAM_TYPES, oidc_principal, push_subscriptions
from infra.model.wiring import INVOKER, TOKEN_CREATOR
from infra.stackjson.graph import Principal, StackGraph
from infra.stackjson.stack import Resource, first

ORDER_DOC = "https://developer.hashicorp.com/terraform/language/meta-arguments/depends_on"


def _depends_on(res: Resource) -> set[str]:
    deps = res.body.get("depends_on")
    return {str(d) for d in deps} if isinstance(deps, list) else set()


def _invokers(g: StackGraph, principal: Principal, target: str) -> list[str]:
    return [e.address for e in g.iam
            if e.rtype in INVOKER_IAM_TYPES and e.role == INVOKER and e.target is not None
            and e.target.address == target
            and any(p.member == principal.member for p in e.principals)]


def _agent_token_creators(g: StackGraph, account: str | None) -> list[str]:
    return [e.address for e in g.iam
            if e.role == TOKEN_CREATOR and account is not None and e.target is not None
            and e.target.address == account
            and any(p.kind == "pubsub_agent" for p in e.principals)]


def _unwaited(res: Resource, needed: list[str], what: str) -> Iterator[Finding]:
    deps = _depends_on(res)
    for address in needed:
        if address not in deps:
            yield Finding(res.address, f"does not depend on {address} ({what}): it can deliver "
                          "before the grant exists, and each push meets a 403 until it does; "
                          f"add it to depends_on")


@rule("ORDER-001", "Subscriptions and triggers wait for the grants they deliver with",
      see=ORDER_DOC, fix="depends_on the invoker and the agent's token creator (PushEdge does)")
def delivery_waits_for_grants(ctx: Context) -> Iterator[Finding]:
    """A push subscription switched to a new OIDC identity before that identity holds
    run.invoker on the target, or before the Pub/Sub agent may mint its tokens, has every push
    refused until the grants exist and propagate, and dead-letters after five attempts; a
    function's event trigger likewise needs the agent's token creator on its identity before
    the function (and so the trigger) is created."""
    g = ctx.graph
    for sub, push in push_subscriptions(g):
        principal = oidc_principal(g, first(push.get("oidc_token")))
        ep = g.endpoint(push.get("push_endpoint"))
        if principal is None or ep.target is None or ep.target.address is None:
            continue
        yield from _unwaited(sub, _invokers(g, principal, ep.target.address),
                             "its push identity's run.invoker on the target")
        yield from _unwaited(sub, _agent_token_creators(g, principal.address),
                             "the Pub/Sub agent's token creator on its push identity")
    for fn in g.resources("google_cloudfunctions2_function"):
        trig = first(fn.body.get("event_trigger"))
        email = trig.get("service_account_email")
        if not trig or not email:
            continue
        yield from _unwaited(fn, _agent_token_creators(g, g.principal(email).address),
                             "the Pub/Sub agent's token creator on its trigger identity")


@rule("ORDER-002", "Functions wait for their build identity's grants",
      see="https://cloud.google.com/functions/docs/securing/build-custom-sa",
      fix="build with FunctionBuilder; CloudFunction depends on its grants")
def build_waits_for_grants(ctx: Context) -> Iterator[Finding]:
    """A gen2 function is built by Cloud Build as its build identity when it is created or its
    source changes; created in parallel with that identity's grants (logs, Artifact Registry,
    reading the source copy) the build fails and the function is left without a revision."""
    g = ctx.graph
    for fn in g.resources("google_cloudfunctions2_function"):
        account = first(fn.body.get("build_config")).get("service_account")
        if not account:
            continue
        builder = g.principal(account)
        grants = sorted({e.address for e in g.iam
                         if any(p.member == builder.member for p in e.principals)})
        deps = _depends_on(fn)
        for address in grants:
            if address not in deps:
                yield Finding(fn.address, f"does not depend on {address}, a grant of its build "
                              "identity: the build can start before the grant exists and fail; "
                              "add it to depends_on")
