"""The drift review as Markdown, to paste into a PR or an incident issue."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from infra.terraform.drift_classify import Finding, Muted, Review


def cell(text: str) -> str:
    """Make text safe inside a Markdown table cell (GFM reads `\\|` as a pipe, even in code)."""
    return text.replace("|", "\\|").replace("\n", " ")


def code(text: str) -> str:
    """Wrap in a code span that survives backticks inside."""
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}" if fence == "`" else f"{fence} {text} {fence}"


def verdict(result: Review) -> str:
    """The one-line verdict at the top of the report."""
    if result.critical:
        return (
            f"**Verdict: CRITICAL** - {len(result.critical)} finding(s) can stop the pipeline "
            "or destroy data; act before the next apply."
        )
    if result.drift:
        return (
            f"**Verdict: drift** - {len(result.drift)} change(s) made outside Terraform; "
            "revert them with an apply or codify them."
        )
    images = f", {len(result.info)} deployed image(s) noted" if result.info else ""
    return f"**Verdict: no drift** - {len(result.muted)} muted change(s){images}."


def render(result: Review) -> str:
    """The Markdown report."""
    plan = result.plan
    planned = sum(rc.action not in ("no-op", "read") for rc in plan.resource_changes)
    lines = [
        f"# Drift review: {code(plan.source)}",
        "",
        verdict(result),
        "",
        f"Plan: {plan.kind}, format_version {plan.format_version}, terraform "
        f"{plan.terraform_version}, {len(plan.resource_drift)} drifted and "
        f"{planned} planned resource change(s) checked.",
    ]
    if plan.errored:
        lines += ["", "Note: the plan reports `errored: true`; this review may be incomplete."]
    lines += [
        "",
        "| class | count |",
        "|---|---|",
        f"| critical | {len(result.critical)} |",
        f"| drift | {len(result.drift)} |",
        f"| noise (muted) | {len(result.muted)} |",
        f"| information | {len(result.info)} |",
        "",
    ]
    lines += _findings_section("Critical", result.critical)
    lines += _findings_section("Drift", result.drift)
    lines += _findings_section("Information", result.info)
    lines += _muted_section(result.muted)
    return "\n".join(lines).rstrip() + "\n"


def _findings_section(title: str, findings: Sequence[Finding]) -> list[str]:
    """A heading and a table of findings, or "None."."""
    lines = [f"## {title} ({len(findings)})", ""]
    if not findings:
        return [*lines, "None.", ""]
    lines += ["| address | type | what changed | before → after |", "|---|---|---|---|"]
    lines += [
        f"| {cell(code(f.address))} | {cell(code(f.resource_type))} | {cell(f.what)} "
        f"| {cell(code(f.before))} → {cell(code(f.after))} |"
        for f in findings
    ]
    return [*lines, ""]


def _muted_section(muted: Sequence[Muted]) -> list[str]:
    """Muted changes counted by reason, with the attributes involved."""
    lines = [f"## Muted noise ({len(muted)})", ""]
    if not muted:
        return [*lines, "None.", ""]
    counts = Counter(m.reason for m in muted)
    lines += ["| reason | count | attributes |", "|---|---|---|"]
    for reason, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        names = sorted({m.what for m in muted if m.reason == reason})
        shown = ", ".join(code(n) for n in names[:5]) + (", …" if len(names) > 5 else "")
        lines.append(f"| {cell(reason)} | {count} | {cell(shown)} |")
    return [*lines, ""]
