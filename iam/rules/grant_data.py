"""The stack's grants and acting identities equal the grant data of ``iam.grants``."""

from __future__ import annotations

from collections.abc import Iterator

from iam.rules.engine import PROVIDER_DOCS, Context, Finding, rule
from iam.rules.helpers import KIND_TYPES, missing
from infra.model.permissions import Target, short_member
from infra.stackjson.graph import IamEntry, Principal, StackGraph

LEAST_PRIVILEGE_DOC = "https://cloud.google.com/iam/docs/using-iam-securely"


def _actual_grants(g: StackGraph) -> Iterator[tuple[IamEntry, Principal, Target]]:
    for e in g.iam:
        target = e.target.target if e.target is not None else Target("other", "?")
        if "${" in target.name:
            continue  # a reference to a resource the stack lacks: REF-001 reports it
        for p in e.principals:
            if p.declared:
                yield e, p, target


@rule("GRANT-001", "No identity holds a role the data does not give it",
      see=LEAST_PRIVILEGE_DOC,
      fix="remove the grant, or declare the connection in the manifest", needs_env=True)
def undeclared_grants(ctx: Context) -> Iterator[Finding]:
    """Least privilege: each identity holds exactly the roles its connections need, on the
    resources they need them. iam/grants.py derives those from the manifest; a grant outside it
    is a widened role, a project-level grant or a swapped identity."""
    data = ctx.data
    assert data is not None
    for e, p, target in _actual_grants(ctx.graph):
        if any(gr.member == p.member and gr.role == e.role and gr.target == target
               for gr in data.grants):
            continue
        same_role = sorted(str(gr.target) for gr in data.grants_of(p.member) if gr.role == e.role)
        hint = (f"the data gives it {e.role} only on {same_role}" if same_role
                else f"the data gives it no {e.role}")
        yield Finding(e.address, f"{short_member(p.member)} ({data.describe(p.member)}) holds "
                      f"{e.role} on {target}, which iam/grants.py does not give it; {hint}. "
                      "Remove the grant, or add the connection to the manifest")


@rule("GRANT-002", "Every grant the data requires is declared additively",
      see=PROVIDER_DOCS + "resources/pubsub_topic_iam",
      fix="restore the grant_*() call", needs_env=True)
def missing_grants(ctx: Context) -> Iterator[Finding]:
    """A publisher, subscriber, token-creator, data-editor or invoker grant that a connection
    needs and the stack lacks fails at run time with 403. Only an additive *_iam_member counts:
    a binding or policy can be overwritten by another."""
    g, data = ctx.graph, ctx.data
    assert data is not None
    have = {(p.member, e.role, target) for e, p, target in _actual_grants(g) if e.mode == "member"}
    by_target: dict[Target, str] = {}
    for res in g.stack.resources.values():
        if res.type.startswith(("data.", "ephemeral.")) or res.type.endswith((
                "_iam_member", "_iam_binding", "_iam_policy")):
            continue
        kind = g.kind_of(res, "other")
        if res.type == "google_cloudfunctions2_function":
            kind = "function.service"
        by_target.setdefault(Target(kind, g.cloud_name(res)), res.address)
    for gr in sorted(data.grants):
        if (gr.member, gr.role, gr.target) in have:
            continue
        address = by_target.get(gr.target) or missing(
            KIND_TYPES.get(gr.target.kind, gr.target.kind), gr.target.name)
        yield Finding(address, f"{short_member(gr.member)} needs {gr.role} on {gr.target} "
                      f"({gr.why}) and no *_iam_member grants it; restore the grant_*() call "
                      "of the construct that owns the target")


@rule("GRANT-003", "Each slot acts as the identity the data assigns",
      see="https://cloud.google.com/iam/docs/service-account-overview",
      fix="use the identity the component's construct creates", needs_env=True)
def slot_identities(ctx: Context) -> Iterator[Finding]:
    """A runtime, trigger, push or job identity replaced by another declared identity keeps
    every grant valid while the wrong principal acts; each component acts as the one service
    account made for it."""
    data = ctx.data
    assert data is not None
    for a in ctx.graph.acting():
        want = data.slots.get(a.slot)
        if want is None or a.principal is None or not a.principal.declared:
            continue
        if a.principal.member != want:
            yield Finding(a.address, f"{a.field} is {short_member(a.principal.member)} "
                          f"({data.describe(a.principal.member)}) but the {a.slot} acts as "
                          f"{short_member(want)}; use the component's own identity")
