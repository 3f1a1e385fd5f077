"""Order: nothing delivers, or is built, before the grants it needs exist.

Terraform creates independent resources in parallel; only a reference or ``depends_on`` orders
them. A subscription or trigger created (or switched to a new identity) before its grants
pushes tokens the target refuses, and a function built before its build identity's grants
fails to build.
"""

from __future__ import annotations

from collections.abc import Iterator

from iam.rules.engine import Context, Finding, rule
from iam.rules.helpers import INVOKER_IAM_TYPES, push_identities, trigger_identities
from infra.model.permissions import INVOKER, TOKEN_CREATOR
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
    for sub, principal, ep in push_identities(g):
        if ep.target is None or ep.target.address is None:
            continue
        yield from _unwaited(sub, _invokers(g, principal, ep.target.address),
                             "its push identity's run.invoker on the target")
        yield from _unwaited(sub, _agent_token_creators(g, principal.address),
                             "the Pub/Sub agent's token creator on its push identity")
    for fn, principal in trigger_identities(g):
        yield from _unwaited(fn, _agent_token_creators(g, principal.address),
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


PROPAGATION_DOC = "https://cloud.google.com/iam/docs/access-change-propagation"


def _references(g: StackGraph, grant: str, address: str) -> bool:
    body = g.body(grant)
    return any(address in g.stack.refs(v) for v in body.values() if isinstance(v, str))


@rule("ORDER-003", "Nothing acts as an identity before its grants have propagated",
      see=PROPAGATION_DOC,
      fix="let the stack add the identity's PropagationWait (Identity.acts_for)")
def identity_switch_waits_for_propagation(ctx: Context) -> Iterator[Finding]:
    """``depends_on`` a grant waits for the API call, not for the binding to take effect
    (typically 2 minutes, up to 7 or more). A service, function, trigger, push subscription or
    job that switches to an identity in the apply that grants it works with missing access in
    that window: pushes dead-letter, builds fail, queries are refused. Each must depend on a
    ``time_sleep`` that depends on every grant made to (or, for token creators, on) the
    identity, except a grant on the acting resource itself, which cannot precede it."""
    g = ctx.graph
    sleeps = {r.address: _depends_on(r) for r in g.resources("time_sleep")}
    for a in g.acting():
        account = a.principal.address if a.principal is not None else None
        if account is None:
            continue
        grants = {e.address for e in g.iam
                  if any(p.address == account for p in e.principals)
                  or (e.target is not None and e.target.address == account)}
        grants = {x for x in grants if not _references(g, x, a.address)}
        if not grants:
            continue
        res = g.stack.resources[a.address]
        waited: set[str] = set()
        for dep in _depends_on(res):
            waited |= sleeps.get(dep, set())
        missing = sorted(grants - waited)
        if missing:
            yield Finding(a.address, f"acts as {a.principal.member if a.principal else account} "
                          f"({a.field}) without waiting for {', '.join(missing)} to propagate; "
                          "depend on a time_sleep after them")
