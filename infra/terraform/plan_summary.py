"""Markdown summary of a Terraform plan JSON, grouped by pipeline component, for PR comments.

    python -m infra.plan_summary [--adoption FILE] PLAN_JSON

Resource names follow `<component>__<part>` (e.g. `phase3_analytics_sub__invoker`); names
without `__` are grouped as "shared". Rows flagged ⚠ need a careful look: a function or
service replaced (its IAM policy goes with it), an IAM grant deleted (its role and member
named), a data store deleted or replaced. A replacement forced by attributes names each with
its value `before → after`.

First plan (the plan imports live resources): every imported resource Terraform updates in
place gets its changed attributes listed, `before → after` (dotted paths, list indices as
numbers: `template.0.scaling.0.max_instance_count`; values Terraform marks sensitive and
write-only `*_wo` attributes shown as `(sensitive)`, unknown ones as `(known after apply)`).
Each is checked against the `changes` the adoption record announced for that address: an
entry covers its attribute path and everything under it, and may leave out the `.0` of a
single nested block (`push_config.oidc_token.service_account_email` covers
`push_config.0.oidc_token.0.service_account_email`); an announced `labels` also covers the
same keys of `terraform_labels` and `effective_labels`, which the provider derives from it. A
change no entry covers is flagged ⚠ "not announced by the adoption report"; without a record,
every change is. The record is read only when the plan imports something.

--adoption FILE  the adoption record; default `infra/adoption/<env>.json` when PLAN_JSON is in
                 a stack folder `pipeline-<env>` (where `make plan` writes `plan.json`). A
                 plan elsewhere without the option is reviewed as having no record.

Exit 0 with a summary; 2 with a summary when a change to an imported resource was not
announced (plus one line on stderr naming it); 1 when the plan or the record is unreadable or
the command line is wrong (one line on stderr: which file, which field, why).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import InputError
from infra.model.adoption import ADOPTION_DIR
from infra.terraform.drift import DATA_STORE_TYPES, RUNTIME_TYPES, cell, code, is_iam
from infra.terraform.first_plan import (
    NO_RECORD,
    NOT_ANNOUNCED,
    FirstPlanReview,
    find_adoption,
    review_first_plan,
)
from infra.terraform.plan_json import (
    AttrPath,
    Plan,
    ResourceChange,
    format_path,
    load_plan,
    marked,
    render_value,
    value_at,
)

COLUMNS = ("create", "update", "replace", "delete")

USAGE = "usage: python -m infra.plan_summary [--adoption FILE] PLAN_JSON"

EXIT_OK = 0
EXIT_UNREADABLE = 1
EXIT_UNANNOUNCED = 2


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
        return "IAM grant deleted" + grant_of(rc.before)
    if rc.resource_type in DATA_STORE_TYPES and rc.action in ("delete", "replace"):
        return f"data store {rc.action}d: its data is destroyed"
    return ""


def grant_of(before: Any) -> str:
    """``: `ROLE` for `MEMBER` `` from an IAM member's (or binding's) ``before``; "" when
    ``before`` names neither."""
    if not isinstance(before, dict):
        return ""
    role = before.get("role")
    members = before.get("members")
    if isinstance(before.get("member"), str):
        members = [before["member"]]
    shown = ", ".join(code(str(m)) for m in members) if isinstance(members, list) and members \
        else ""
    if not isinstance(role, str) and not shown:
        return ""
    text = f": {code(role)}" if isinstance(role, str) else ":"
    return text + (f" for {shown}" if shown else "")


def forced_by(rc: ResourceChange, path: AttrPath) -> str:
    """``path: `before` → `after` ``: an attribute forcing replacement and its two values
    (sensitive ones as `(sensitive)`, unknown ones as `(known after apply)`)."""
    sensitive = marked(rc.before_sensitive, path) or marked(rc.after_sensitive, path)
    before = render_value(value_at(rc.before, path), sensitive=sensitive, limit=80)
    after = render_value(value_at(rc.after, path), sensitive=sensitive,
                         unknown=marked(rc.after_unknown, path), limit=80)
    return f"{format_path(path)}: {code(before)} → {code(after)}"


def why(rc: ResourceChange) -> str:
    """Terraform's reason for the action, the attributes forcing replacement (each with its
    value before → after), and moves."""
    parts = []
    if rc.action_reason:
        parts.append(rc.action_reason)
    if rc.replace_paths:
        parts.append("forced by " + ", ".join(forced_by(rc, p) for p in rc.replace_paths))
    if rc.previous_address:
        parts.append(f"moved from {rc.previous_address}")
    return "; ".join(parts)


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


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def review_headline(review: FirstPlanReview) -> str:
    """``K imported resources updated (M attributes, U not announced)``."""
    return (f"{plural(len(review.updated), 'imported resource')} updated "
            f"({plural(len(review.changes), 'attribute')}, "
            f"{len(review.unannounced)} not announced)")


def render_review(review: FirstPlanReview) -> list[str]:
    """The section listing each changed attribute of the imported resources updated in place."""
    if not review.updated:
        return []
    adoption = review.adoption
    lines = ["", "## Imported resources updated in place", ""]
    if adoption.note:
        lines.append(f"⚠ {adoption.note}: nothing was announced, so every change below is "
                     "flagged.")
    else:
        lines.append(f"Checked against the changes announced in {code(adoption.source)}.")
    lines += ["", "| | address | attribute | before → after | adoption report |",
              "|---|---|---|---|---|"]
    for c in review.changes:
        before = render_value(c.change.before, sensitive=c.change.sensitive)
        after = render_value(c.change.after, sensitive=c.change.sensitive,
                             unknown=c.change.unknown)
        if c.announced_by:
            flag, note = "", f"announced ({code(c.announced_by)})"
        else:
            flag, note = "⚠", NOT_ANNOUNCED
            if c.kept is not None:
                value = (f" at {code(render_value(c.kept.value, sensitive=c.change.sensitive))}"
                         if c.kept.has_value else "")
                note += f"; it lists {code(c.kept.attribute)} as kept{value}"
        lines.append(f"| {flag} | {cell(code(c.address))} | {cell(code(c.attribute))} "
                     f"| {cell(code(before))} → {cell(code(after))} | {cell(note)} |")
    for address in review.silent:
        lines.append(f"| ⚠ | {cell(code(address))} | | | updated, but no attribute differs "
                     "in the plan JSON; read `terraform show plan.tfplan` |")
    return lines


def render(plan: Plan, review: FirstPlanReview | None = None) -> str:
    """The Markdown summary; ``review``: the first-plan review (default: reviewed as having no
    adoption record)."""
    imports = plan.imports
    changes = rows(plan, imports)
    if review is None:
        review = review_first_plan(plan, imports, NO_RECORD)
    totals = Counter(r.action for r in changes)
    flagged = sum(bool(r.warning) for r in changes)
    headline = ", ".join(f"{totals[a]} to {a}" for a in COLUMNS)
    if imports:
        headline = f"{len(imports)} to import, " + headline
    if totals["move"]:
        headline += f", {totals['move']} moved"
    if imports:
        headline += "; " + review_headline(review)
    lines = [f"# Plan summary: {code(plan.source)}", "", f"**{headline}.**"]
    if flagged:
        lines[-1] += f" ⚠ {flagged} change(s) need a careful look."
    if imports and (totals["delete"] or totals["replace"]):
        # Taking a project over must destroy nothing: a replace while importing is a
        # declared value that differs from the live one (see `make adopt`).
        lines[-1] += (" ⚠ this plan destroys or replaces while it imports: declare the live "
                      "values (`make adopt`) before applying.")
    if review.unannounced:
        lines[-1] += (f" ⚠ {len(review.unannounced)} change(s) to imported resources "
                      f"{NOT_ANNOUNCED}.")
    if not changes:
        return "\n".join([*lines, "", "No changes.", ""])
    columns = ("import", *COLUMNS) if imports else COLUMNS
    lines += ["", "| component | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    per_action = Counter((r.component, r.action) for r in changes)
    imported = Counter(r.component for r in changes if r.address in imports)
    for component in sorted({r.component for r in changes}):
        counts = " | ".join(str(imported[component] if a == "import"
                                else per_action[component, a]) for a in columns)
        lines.append(f"| {cell(component)} | {counts} |")
    lines += ["", "| | component | action | address | why |", "|---|---|---|---|---|"]
    for r in changes:
        flag = "⚠" if r.warning else ""
        reason = "; ".join(part for part in (r.warning, r.why) if part)
        lines.append(
            f"| {flag} | {cell(r.component)} | {r.action} | {cell(code(r.address))} "
            f"| {cell(reason)} |"
        )
    lines += render_review(review)
    return "\n".join([*lines, ""])


def parse_args(args: Sequence[str]) -> tuple[str, str | None] | None:
    """``(PLAN_JSON, --adoption FILE or None)``; None for a command line that is not the usage."""
    plan: str | None = None
    adoption: str | None = None
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "--adoption" or arg.startswith("--adoption="):
            value = arg.partition("=")[2] if "=" in arg else (rest.pop(0) if rest else "")
            if adoption is not None or not value or value.startswith("-"):
                return None
            adoption = value
        elif arg.startswith("-") or plan is not None:
            return None
        else:
            plan = arg
    return None if plan is None else (plan, adoption)


def unannounced_line(review: FirstPlanReview) -> str:
    """The one stderr line of exit 2: how many, against which record, the first of them."""
    missing = review.unannounced
    first = f"{missing[0].address} {missing[0].attribute}"
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    record = (f"by {review.adoption.source}" if review.adoption.found
              else "(no adoption record" + (f" {review.adoption.source})" if review.adoption.source
                                            else ")"))
    return (f"{plural(len(missing), 'change')} to imported resources not announced {record}: "
            f"{first}{more}")


def main(argv: Sequence[str] | None = None, adoption_dir: Path = ADOPTION_DIR) -> int:
    """Print the summary; return the exit code. ``adoption_dir``: where default records live."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args in (["--help"], ["-h"]):
        print(f"{USAGE}\n\n{__doc__.strip()}")
        return EXIT_OK
    parsed = parse_args(args)
    if parsed is None:
        print(f"plan_summary: {USAGE}", file=sys.stderr)
        return EXIT_UNREADABLE
    plan_path, option = parsed
    try:
        plan = load_plan(plan_path)
        # Only a plan that imports is checked against a record: a later plan never reads it.
        adoption = (find_adoption(plan_path, option, adoption_dir)
                    if plan.imports or option is not None else NO_RECORD)
    except InputError as err:
        print(f"plan_summary: {err}", file=sys.stderr)
        return EXIT_UNREADABLE
    review = review_first_plan(plan, plan.imports, adoption)
    sys.stdout.write(render(plan, review))
    if review.unannounced:
        print(f"plan_summary: {unannounced_line(review)}", file=sys.stderr)
        return EXIT_UNANNOUNCED
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
