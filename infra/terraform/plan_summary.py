"""Markdown summary of a Terraform plan JSON, grouped by pipeline component, for PR comments.

    python -m infra.plan_summary PLAN_JSON

Resource names follow `<component>__<part>` (e.g. `phase3_analytics_sub__invoker`); names
without `__` are grouped as "shared". Rows flagged ⚠ need a careful look: a function or
service replaced (its IAM policy goes with it), an IAM grant deleted, a data store deleted
or replaced. Exit 0 with a summary, 1 when the file is unreadable (one line on stderr).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from infra.terraform.drift import DATA_STORE_TYPES, RUNTIME_TYPES, cell, code, is_iam
from infra.terraform.plan_json import (
    InputError,
    Plan,
    ResourceChange,
    format_path,
    load_plan,
    read_json,
)

COLUMNS = ("create", "update", "replace", "delete")

USAGE = "usage: python -m infra.plan_summary PLAN_JSON"


@dataclass(frozen=True)
class Row:
    """One planned change in the summary."""

    component: str
    action: str
    address: str
    resource_type: str
    why: str
    warning: str


def warning_for(rc: ResourceChange) -> str:
    """Why this change deserves a ⚠, or "" when it does not."""
    if rc.resource_type in RUNTIME_TYPES and rc.action == "replace":
        return "replaced: IAM on it is dropped unless re-created with it"
    if is_iam(rc) and rc.action == "delete":
        return "IAM grant deleted"
    if rc.resource_type in DATA_STORE_TYPES and rc.action in ("delete", "replace"):
        return f"data store {rc.action}d: its data is destroyed"
    return ""


def why(rc: ResourceChange) -> str:
    """Terraform's reason for the action, the attributes forcing replacement, and moves."""
    parts = []
    if rc.action_reason:
        parts.append(rc.action_reason)
    if rc.replace_paths:
        parts.append("forced by " + ", ".join(format_path(p) for p in rc.replace_paths))
    if rc.previous_address:
        parts.append(f"moved from {rc.previous_address}")
    return "; ".join(parts)


def importing(data: object) -> frozenset[str]:
    """Addresses the plan imports (``resource_changes[].change.importing``, Terraform 1.5+)."""
    entries = data.get("resource_changes") if isinstance(data, dict) else None
    return frozenset(
        e["address"] for e in entries or []
        if isinstance(e, dict) and isinstance(e.get("address"), str)
        and isinstance(e.get("change"), dict) and e["change"].get("importing") is not None
    )


def rows(plan: Plan, imports: frozenset[str] = frozenset()) -> list[Row]:
    """Managed resources with a real action or a move, by component, action and address.

    Moves (`moved` blocks; action no-op) and `forget` (Terraform 1.7+: drop from state,
    keep the object) are listed but not counted in the columns.
    """
    order = {action: index
             for index, action in enumerate((*COLUMNS, "import", "move", "forget"))}
    found = [
        Row(
            rc.component,
            ("import" if rc.address in imports else "move") if rc.action == "no-op"
            else rc.action,
            rc.address,
            rc.resource_type,
            why(rc),
            warning_for(rc),
        )
        for rc in plan.resource_changes
        if rc.mode == "managed" and (rc.action not in ("no-op", "read") or rc.previous_address
                                     or rc.address in imports)
    ]
    return sorted(found, key=lambda r: (r.component, order.get(r.action, len(order)), r.address))


def render(plan: Plan, imports: frozenset[str] = frozenset()) -> str:
    """The Markdown summary; ``imports``: addresses the plan imports (see ``importing``)."""
    changes = rows(plan, imports)
    totals = Counter(r.action for r in changes)
    flagged = sum(bool(r.warning) for r in changes)
    headline = ", ".join(f"{totals[a]} to {a}" for a in COLUMNS)
    if imports:
        headline = f"{len(imports)} to import, " + headline
    if totals["move"]:
        headline += f", {totals['move']} moved"
    lines = [f"# Plan summary: {code(plan.source)}", "", f"**{headline}.**"]
    if flagged:
        lines[-1] += f" ⚠ {flagged} change(s) need a careful look."
    if imports and (totals["delete"] or totals["replace"]):
        # Taking a project over must destroy nothing: a replace while importing is a
        # declared value that differs from the live one (see `make adopt`).
        lines[-1] += (" ⚠ this plan destroys or replaces while it imports: declare the live "
                      "values (`make adopt`) before applying.")
    if not changes:
        return "\n".join([*lines, "", "No changes.", ""])
    columns = ("import", *COLUMNS) if imports else COLUMNS
    lines += ["", "| component | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    per_component = Counter((r.component, r.action) for r in changes)
    per_component.update(r.component for r in changes if r.address in imports)
    for component in sorted({r.component for r in changes}):
        counts = " | ".join(str(per_component[component] if a == "import"
                                else per_component[component, a]) for a in columns)
        lines.append(f"| {cell(component)} | {counts} |")
    lines += ["", "| | component | action | address | why |", "|---|---|---|---|---|"]
    for r in changes:
        flag = "⚠" if r.warning else ""
        reason = "; ".join(part for part in (r.warning, r.why) if part)
        lines.append(
            f"| {flag} | {cell(r.component)} | {r.action} | {cell(code(r.address))} "
            f"| {cell(reason)} |"
        )
    return "\n".join([*lines, ""])


def main(argv: Sequence[str] | None = None) -> int:
    """Print the summary; return the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--help"], ["-h"]):
        print(f"{USAGE}\n\n{__doc__.strip()}")
        return 0
    if len(args) != 1 or args[0].startswith("-"):
        print(f"plan_summary: {USAGE}", file=sys.stderr)
        return 1
    try:
        plan = load_plan(args[0])
        imports = importing(read_json(args[0]))
    except InputError as err:
        print(f"plan_summary: {err}", file=sys.stderr)
        return 1
    sys.stdout.write(render(plan, imports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
