"""Markdown for a PR comment: verdict, violations grouped by rule with the fix, checkov."""

from __future__ import annotations

from collections.abc import Sequence

from iam.checkov import CheckovResult
from iam.results import StackResult
from iam.rules import RULES_BY_ID


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def policy_markdown(results: Sequence[StackResult],
                    checkov: Sequence[CheckovResult] | None = None) -> str:
    violations = [v for r in results for v in r.violations]
    failed_checks = sum(len(c.failed) for c in checkov or ())
    problems = len(violations) + failed_checks
    icon = "✅" if problems == 0 else "❌"
    verdict = "passed" if problems == 0 else (
        f"{len(violations)} policy violation(s)"
        + (f", {failed_checks} checkov finding(s)" if checkov is not None else ""))
    out = [f"## {icon} Policy gate: {verdict}", ""]
    out += ["| stack | env | rules run | violations |", "|---|---|---|---|"]
    for r in results:
        out.append(f"| `{r.name}` | {r.env or '—'} | {len(r.rules_run)} | "
                   f"{len(r.violations) or '✅ 0'} |")
    for r in results:
        for note in r.notes:
            out.append(f"\n> `{r.name}`: {cell(note)}")
    out.append("")
    by_rule: dict[str, list[tuple[str, str, str]]] = {}
    for r in results:
        for v in r.violations:
            by_rule.setdefault(v.rule, []).append((r.name, v.address, v.message))
    if by_rule:
        out.append("### Violations")
        out.append("")
    for rule_id in sorted(by_rule, key=lambda i: list(RULES_BY_ID).index(i)):
        rule = RULES_BY_ID[rule_id]
        rows = by_rule[rule_id]
        out += [f"#### `{rule.id}` {rule.title} ({len(rows)})", "",
                f"**Fix:** {rule.fix}", "",
                "| stack | resource | what is wrong |", "|---|---|---|"]
        out += [f"| `{s}` | `{cell(a)}` | {cell(m)} |" for s, a, m in rows]
        see = f" See {rule.see}." if rule.see else ""
        out += ["", f"<details><summary>Why this rule</summary>\n\n{rule.rationale}{see}\n\n"
                    "</details>", ""]
    if checkov is not None:
        out += checkov_markdown(checkov)
    return "\n".join(out).rstrip() + "\n"


def checkov_markdown(results: Sequence[CheckovResult]) -> list[str]:
    out = ["### Checkov", "",
           "| stack | passed | failed | skipped (iam/checkov-skips.yaml) |",
           "|---|---|---|---|"]
    for c in results:
        out.append(f"| `{c.stack}` | {c.passed} | {len(c.failed) or '✅ 0'} | {len(c.skipped)} |")
    out.append("")
    failed = [(c.stack, f) for c in results for f in c.failed]
    if failed:
        out += ["| stack | check | resource | what |", "|---|---|---|---|"]
        out += [f"| `{s}` | `{f.check_id}` | `{cell(f.address)}` | {cell(f.name)} |"
                for s, f in failed]
        out += ["", "**Fix:** change the construct, or add a skip with its reason to "
                    "`iam/checkov-skips.yaml`.", ""]
    skipped: dict[tuple[str, str], int] = {}
    reasons: dict[tuple[str, str], str] = {}
    for c in results:
        for f, skip in c.skipped:
            key = (f.check_id, skip.resource)
            skipped[key] = skipped.get(key, 0) + 1
            reasons[key] = skip.reason
    if skipped:
        out += ["<details><summary>Skipped checks and why</summary>", "",
                "| check | resources | count | reason |", "|---|---|---|---|"]
        out += [f"| `{cid}` | `{cell(glob)}` | {n} | {cell(reasons[(cid, glob)])} |"
                for (cid, glob), n in sorted(skipped.items())]
        out += ["", "</details>", ""]
    stale = sorted(set.intersection(*(set(map(str, c.unused_skips)) for c in results))
                   if results else ())
    if stale:
        out += [f"> Skips that matched nothing: {', '.join(f'`{cell(s)}`' for s in stale)} — "
                "remove them from iam/checkov-skips.yaml.", ""]
    return out
