"""The policy gate over synthesized Terraform JSON.

``python -m iam.policy PATH... [--format text|markdown] [--env dev|prod]``

PATH is a ``cdk.tf.json`` or a folder holding one (a ``cdktf.out`` folder expands to its
stacks). The environment of each stack comes from ``--env``, else from ``pipeline-<env>`` in
the path or the stack's own name; with no known environment only the rules that need no
grant data run. Text output is one line per violation,
``RULE-ID resource-address: what is wrong and how to fix it``, on stdout; a one-line summary
per stack goes to stderr. Exit status: 0 clean, 1 violations, 2 unreadable input (one line
naming the file and why).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from iam.grants import expected
from iam.render import policy_markdown
from iam.results import StackResult
from iam.rules import RULES, Context, RuleError, Violation, run
from infra.cli import EXIT_USAGE, Parser, add_env_argument
from infra.errors import InputError
from infra.model.envs import ENVS, get_env
from infra.model.manifest import Manifest
from infra.model.pipeline import load
from infra.stackjson.graph import StackGraph
from infra.stackjson.stack import StackJson

STACK_FILE = "cdk.tf.json"
STACK_DIR_RE = re.compile(r"^pipeline-([a-z0-9]+)$")
T = TypeVar("T")
R = TypeVar("R")


def stack_files(path: Path) -> list[Path]:
    """The ``cdk.tf.json`` files ``path`` stands for; ``InputError`` when there are none."""
    if not path.exists():
        raise InputError(path, "missing (no such file or folder)")
    if path.is_dir():
        if (path / STACK_FILE).is_file():
            return [path / STACK_FILE]
        nested = sorted((path / "stacks").glob(f"*/{STACK_FILE}"))
        if nested:
            return nested
        raise InputError(path, f"folder has no {STACK_FILE} (run make synth first)")
    return [path]


def read_stack(path: Path) -> StackJson:
    """Parse ``path`` as a Terraform JSON stack or raise ``InputError`` saying why not."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputError(path, f"unreadable ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InputError(path, f"not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(path, "not a Terraform JSON stack (top level is "
                         f"{type(data).__name__}, expected an object)")
    resources = data.get("resource")
    if not isinstance(resources, dict) or not resources:
        hint = " (this looks like a plan; pass the synthesized cdk.tf.json)" if (
            "planned_values" in data or "resource_changes" in data) else ""
        raise InputError(path, f"not a Terraform JSON stack (no 'resource' object){hint}")
    for kind in ("resource", "data"):
        for rtype, by_name in (data.get(kind) or {}).items():
            if not isinstance(by_name, dict) or not all(isinstance(b, dict)
                                                        for b in by_name.values()):
                raise InputError(path, f"not a Terraform JSON stack ({kind}.{rtype} is not an "
                                 "object of named blocks)")
    return StackJson(data, path)


def detect_env(path: Path | None, data: Mapping[str, Any]) -> str | None:
    """``pipeline-<env>`` in the path (nearest folder first), else in the stack's name.

    Only known environments count, so a checkout folder such as ``pipeline-infra`` is not
    mistaken for one; ``None`` when nothing names a known environment.
    """
    names: list[str] = list(reversed(path.resolve().parts)) if path is not None else []
    meta = (data.get("//") or {}).get("metadata") or {}
    if isinstance(meta, Mapping) and isinstance(meta.get("stackName"), str):
        names.append(meta["stackName"])
    for name in names:
        m = STACK_DIR_RE.match(name)
        if m and m.group(1) in ENVS:
            return m.group(1)
    return None


def check_stack(stack: StackJson | Mapping[str, Any], env: str | None = None,
                manifest: Manifest | None = None) -> list[Violation]:
    """Run every applicable rule on one stack (a ``StackJson`` or its parsed JSON)."""
    sj = stack if isinstance(stack, StackJson) else StackJson(stack)
    manifest = manifest or load()
    data = expected(manifest, get_env(env)) if env is not None else None
    try:
        graph = StackGraph(sj)
    except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
        raise RuleError(f"the IAM graph cannot be built ({type(exc).__name__}: {exc}); a block "
                        "has an unexpected shape") from exc
    return run(Context(graph, manifest, data))


def evaluate(path: Path, stack: StackJson, env_override: str | None,
             manifest: Manifest) -> StackResult:
    notes: list[str] = []
    env = env_override or detect_env(path, stack.data)
    if env is not None and env not in ENVS:
        notes.append(f"unknown environment {env!r} (known: {sorted(ENVS)}); "
                     "manifest-only rules ran")
        env = None
    elif env is None:
        notes.append("environment unknown (no pipeline-<env> in path or stack name); "
                     "manifest-only rules ran")
    try:
        violations = check_stack(stack, env, manifest)
    except RuleError as exc:
        raise InputError(path, str(exc)) from exc
    rules_run = tuple(r.id for r in RULES if env is not None or not r.needs_env)
    meta = (stack.data.get("//") or {}).get("metadata") if isinstance(
        stack.data.get("//"), Mapping) else None
    name = str(meta.get("stackName")) if isinstance(meta, Mapping) and meta.get(
        "stackName") else path.parent.name
    return StackResult(name, path, env, tuple(violations), rules_run, tuple(notes))


def _every(items: Iterable[T], fn: Callable[[T], R]) -> list[R]:
    """``fn`` of every item; ``InputError`` naming every failure, one per line, if any fail
    (the first failure's, its reason followed by the other failures' lines)."""
    done: list[R] = []
    errors: list[InputError] = []
    for item in items:
        try:
            done.append(fn(item))
        except InputError as exc:
            errors.append(exc)
    if len(errors) == 1:
        raise errors[0]
    if errors:
        first = errors[0]
        raise InputError(first.source, "\n".join([first.reason, *map(str, errors[1:])]),
                         field=first.field)
    return done


def load_stacks(paths: Sequence[Path]) -> list[tuple[Path, StackJson]]:
    """Every stack file ``paths`` stand for, read; ``InputError`` (all problems) if any fail."""
    files = _every(paths, lambda p: [(f, read_stack(f)) for f in stack_files(p)])
    return [pair for group in files for pair in group]


def evaluate_all(loaded: Sequence[tuple[Path, StackJson]], env: str | None,
                 manifest: Manifest) -> list[StackResult]:
    """``evaluate`` every loaded stack; ``InputError`` (all problems) if any fail."""
    return _every(loaded, lambda pair: evaluate(pair[0], pair[1], env, manifest))


def check_paths(paths: Sequence[Path], env: str | None = None,
                manifest: Manifest | None = None) -> list[StackResult]:
    """Load and check every stack; ``InputError`` (all problems, one per line) if any fail."""
    manifest = manifest or load()
    return evaluate_all(load_stacks(paths), env, manifest)


def text_lines(results: Sequence[StackResult]) -> list[str]:
    many = len(results) > 1
    return [v.line(with_stack=many) for r in results for v in r.violations]


def summary_line(r: StackResult) -> str:
    env = r.env or "no env"
    verdict = "clean" if r.ok else f"{len(r.violations)} violation(s)"
    return f"iam.policy: {r.name} ({env}, {len(r.rules_run)} rules): {verdict}"


def rules_table() -> str:
    """The Markdown rule table of the README (id, what, why with its public source)."""
    rows = ["| id | rule | why | needs env |", "|---|---|---|---|"]
    for r in RULES:
        rows.append(f"| `{r.id}` | {r.title} | {r.rationale} [(source)]({r.see}) | "
                    f"{'yes' if r.needs_env else ''} |")
    return "\n".join(rows)


def stack_parser(prog: str, doc: str | None, paths: dict[str, Any], env_help: str,
                 markdown_help: str) -> Parser:
    """The command line both reports share: stack paths (``paths`` are their ``add_argument``
    options), ``--format``, ``--env`` and ``--markdown-out``."""
    parser = Parser(prog=prog, description=doc, tool="policy", code=EXIT_USAGE,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", type=Path, **paths)
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    add_env_argument(parser, help=env_help)
    parser.add_argument("--markdown-out", type=Path, metavar="FILE", help=markdown_help)
    return parser


def publish(results: Sequence[StackResult], markdown: str, lines: Sequence[str], fmt: str,
            markdown_out: Path | None) -> None:
    """Write ``markdown`` to ``markdown_out`` when given; print it (``fmt`` markdown) or
    ``lines`` on stdout; then each stack's summary and notes on stderr."""
    if markdown_out is not None:
        markdown_out.parent.mkdir(parents=True, exist_ok=True)
        markdown_out.write_text(markdown)
    if fmt == "markdown":
        print(markdown, end="")
    else:
        for line in lines:
            print(line)
    for r in results:
        print(summary_line(r), file=sys.stderr)
        for note in r.notes:
            print(f"iam.policy: {r.name}: {note}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = stack_parser(
        "python -m iam.policy", __doc__,
        {"nargs": "*", "metavar": "PATH", "help": "cdk.tf.json or a folder holding one"},
        env_help="environment of every PATH (default: from the stack name)",
        markdown_help="also write the Markdown report to FILE")
    parser.add_argument("--rules", action="store_true", help="print the rule table and exit")
    args = parser.parse_args(argv)
    if args.rules:
        print(rules_table())
        return 0
    if not args.paths:
        parser.error("at least one PATH is required")
    try:
        results = check_paths(args.paths, args.env)
    except InputError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    publish(results, policy_markdown(results), text_lines(results), args.format,
            args.markdown_out)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
