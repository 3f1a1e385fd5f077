"""The full policy report: the rule engine and checkov over the same stacks, in one report.

``python -m iam.report STACK_DIR... [--format text|markdown] [--env dev|prod]
[--checkov PATH] [--skips iam/checkov-skips.yaml] [--markdown-out FILE]``

Text output: one line per policy violation (as ``iam.policy``), then one line per checkov
finding not covered by ``iam/checkov-skips.yaml``
(``CKV_… resource-address: check name (checkov)``); per-stack summaries and timings on
stderr. Markdown output: a PR comment. Exit status: 0 clean, 1 violations or unskipped
findings, 2 unreadable input, unusable skip list or checkov not runnable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from iam.checkov import DEFAULT_CHECKOV, DEFAULT_SKIPS, CheckovError, CheckovResult, scan
from iam.policy import evaluate_all, load_stacks, publish, stack_parser, text_lines
from iam.render import policy_markdown
from infra.errors import InputError
from infra.model.pipeline import load


def checkov_lines(results: Sequence[CheckovResult]) -> list[str]:
    many = len(results) > 1
    return [f"{f.check_id} {f.address}: {f.name} (checkov; fix it or add a reasoned skip to "
            f"iam/checkov-skips.yaml){f' [{c.stack}]' if many else ''}"
            for c in results for f in c.failed]


def stale_skips(results: Sequence[CheckovResult]) -> list[str]:
    """Skips that matched no finding in any stack."""
    if not results:
        return []
    common = set.intersection(*(set(map(str, c.unused_skips)) for c in results))
    return sorted(common)


def main(argv: Sequence[str] | None = None) -> int:
    parser = stack_parser(
        "python -m iam.report", __doc__,
        {"nargs": "+", "metavar": "STACK_DIR",
         "help": "stack folder (or its cdk.tf.json, or a cdktf.out folder)"},
        env_help="environment of every stack (default: from the stack name)",
        markdown_help="also write the Markdown report to FILE (one run for the log and the "
                      "PR comment)")
    parser.add_argument("--checkov", type=Path, default=DEFAULT_CHECKOV,
                        help=f"checkov executable (default {DEFAULT_CHECKOV})")
    parser.add_argument("--skips", type=Path, default=DEFAULT_SKIPS,
                        help="checked-in skip list (check id, resource glob, reason)")
    args = parser.parse_args(argv)

    manifest = load()
    try:
        loaded = load_stacks(args.paths)
        started = time.monotonic()
        results = evaluate_all(loaded, args.env, manifest)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    rules_seconds = time.monotonic() - started
    names = [r.name for r in results]
    keyed = {(r.name if names.count(r.name) == 1 else f"{r.name} ({f})"): (f, s)
             for r, (f, s) in zip(results, loaded, strict=True)}
    started = time.monotonic()
    try:
        checkov = scan(keyed, args.checkov, args.skips)
    except CheckovError as exc:
        print(f"iam.report: {exc}", file=sys.stderr)
        return 2
    checkov_seconds = time.monotonic() - started

    lines = text_lines(results) + checkov_lines(checkov)
    publish(results, policy_markdown(results, checkov), lines, args.format, args.markdown_out)
    for c in checkov:
        print(f"checkov: {c.stack}: {c.passed} passed, {len(c.failed)} failed, "
              f"{len(c.skipped)} skipped with a reason", file=sys.stderr)
    for s in stale_skips(checkov):
        print(f"checkov: skip '{s}' matched nothing; remove it from {args.skips}",
              file=sys.stderr)
    print(f"iam.report: rules {rules_seconds:.1f}s, checkov {checkov_seconds:.1f}s",
          file=sys.stderr)
    ok = all(r.ok for r in results) and all(c.ok for c in checkov)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
