"""References: every reference names something the stack declares."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from iam.rules.engine import Context, Finding, rule
from infra.stackjson.graph import lifecycle_triggers

_BUILTIN_SCOPES = ("each", "count", "path", "self", "terraform", "module")


@rule("REF-001", "References name declared resources",
      see="https://developer.hashicorp.com/terraform/language/expressions/references",
      fix="restore the resource or drop the reference")
def dangling_references(ctx: Context) -> Iterator[Finding]:
    """A reference to a resource, variable or local the configuration does not declare (a
    deleted service account, topic or invoker target still in use) is an error at plan time at
    best; the gate names it first."""
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
                    yield Finding(owner, f"references var.{name}, which is not declared")
                continue
            if scope == "local":
                if name not in local_names:
                    yield Finding(owner, f"references local.{name}, which is not declared")
                continue
            if address not in stack.resources:
                yield Finding(owner, f"references {address}, which this stack does not "
                              "declare (a removed resource still in use); restore it or drop "
                              "the reference")
        if isinstance(body, Mapping):
            for entry in lifecycle_triggers(body):
                target = str(entry).split("[", 1)[0]
                target = ".".join(target.split(".")[:2])
                if "${" not in target and target not in stack.resources:
                    yield Finding(owner, f"lifecycle.replace_triggered_by names {entry!r}, "
                                  "which this stack does not declare")
