"""How a grant is written: re-created with its target, unconditional, additive."""

from __future__ import annotations

import re
from collections.abc import Iterator

from iam.rules.engine import LIFECYCLE_DOC, PROVIDER_DOCS, Context, Finding, rule
from iam.rules.helpers import trigger_for
from infra.stackjson.stack import first


@rule("LIFE-001", "IAM on a replaceable resource is re-created with it",
      see=LIFECYCLE_DOC + "#replace_triggered_by",
      fix="lifecycle.replace_triggered_by = [\"<target type>.<name>.<attr>\"] (replaced_with())")
def replace_triggered_by(ctx: Context) -> Iterator[Finding]:
    """A replaced service, topic, subscription, account, bucket or dataset comes back with an
    empty IAM policy while Terraform's state still holds the member; replace_triggered_by with
    the target's literal address re-creates the member whenever the target is replaced. A gen2
    function's invoker needs none: it names the function's service_config[0].service, which is
    new when the function is replaced, and a new name forces a new member; or, for an adopted
    function, its live service by name, and the function has deletion_policy PREVENT, so no
    plan can replace it."""
    seen: set[str] = set()
    for e in ctx.graph.iam:
        if e.address in seen or e.target is None or e.target.address is None:
            continue
        seen.add(e.address)
        want = e.target.address
        if _names_function_service(ctx, e.address, want):
            continue
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
        yield Finding(e.address, f"lifecycle.replace_triggered_by {why}: when {want} is "
                      "replaced the new resource starts with an empty IAM policy and this "
                      f"grant is not re-applied; set replace_triggered_by = "
                      f"[\"{trigger_for(want)}\"]")


def _names_function_service(ctx: Context, member: str, target: str) -> bool:
    """Whether ``member`` is on a gen2 function's Cloud Run service, named by reference."""
    if not target.startswith("google_cloudfunctions2_function."):
        return False
    body = ctx.graph.stack.resources[member].body
    if body.get("name") == f"${{{target}.service_config[0].service}}":
        return True
    fn = ctx.graph.stack.resources.get(target)
    return (isinstance(body.get("name"), str) and "${" not in body["name"] and fn is not None
            and fn.body.get("deletion_policy") == "PREVENT")


STATIC_ATTRIBUTES = re.compile(r"\bresource\.(name|type|service)\b")
OTHER_ATTRIBUTES = re.compile(r"\b(request|api|destination|resource)\.[a-z_]+")


def _static_resource_condition(expression: str) -> bool:
    """Whether ``expression`` reads only the resource's name, type or service (no time, no
    request, no tags): https://cloud.google.com/iam/docs/conditions-attribute-reference."""
    used = OTHER_ATTRIBUTES.findall(expression)
    return bool(STATIC_ATTRIBUTES.search(expression)) and all(
        m == "resource" for m in used) and not re.search(
        r"\bresource\.(?!name\b|type\b|service\b)[a-z_]+", expression)


@rule("COND-001", "No conditional grants",
      see="https://cloud.google.com/iam/docs/conditions-overview", fix="drop the condition block")
def conditional_grants(ctx: Context) -> Iterator[Finding]:
    """An IAM condition (an expiry, a time window, a request attribute) makes a grant stop
    applying without any change to the stack; a pipeline identity's access must not depend on
    the clock. A condition on the resource's own name, type or service only
    (``resource.name.startsWith(...)``) is static: it narrows where a grant applies, never
    when, and is allowed (the build identity's source buckets)."""
    seen: set[str] = set()
    for e in ctx.graph.iam:
        res = ctx.graph.stack.resources.get(e.address)
        if res is None or e.address in seen or not first(res.body.get("condition")):
            continue
        if _static_resource_condition(str(first(res.body.get("condition")).get("expression", ""))):
            continue
        seen.add(e.address)
        cond = first(res.body.get("condition"))
        yield Finding(e.address, f"{e.role} is conditional ({cond.get('expression', '')!r}): "
                      "a time- or request-bound grant stops working on its own, silently (an "
                      "expiring invoker is the stripped-invoker outage on a timer); grant it "
                      "unconditionally")


@rule("AUTH-001", "No authoritative IAM",
      see=PROVIDER_DOCS + "resources/cloud_run_v2_service_iam",
      fix="one *_iam_member per member and role")
def authoritative(ctx: Context) -> Iterator[Finding]:
    """*_iam_policy owns a resource's whole policy and *_iam_binding a whole role: each apply
    removes every member they do not list (those added by Eventarc, the console or another
    stack). Only the non-authoritative *_iam_member is allowed."""
    seen: set[str] = set()
    for e in ctx.graph.iam:
        if e.mode == "member" or e.address in seen:
            continue
        seen.add(e.address)
        base = e.rtype.rsplit("_iam_", 1)[0]
        yield Finding(e.address, f"{e.rtype} is authoritative: every apply removes the members "
                      "it does not list (how redeploys stripped run.invoker); use one "
                      f"{base}_iam_member per member and role")
