"""README sections generated from the manifest: the pipeline table and the Mermaid diagram.

``python -m infra.synth.docs --write README.md`` rewrites the marked blocks; ``--check`` exits 1
when the README no longer matches the manifest (a test runs the check).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from infra.cli import EXIT_USAGE, Parser, add_env_argument
from infra.model.envs import EnvConfig, get_env
from infra.model.manifest import Manifest
from infra.model.naming import Names
from infra.model.pipeline import load
from infra.model.wiring import source_topic

BLOCK_RE = r"(<!-- BEGIN GENERATED: {name} -->\n)(.*?)(<!-- END GENERATED: {name} -->)"


def pipeline_table(manifest: Manifest, env: EnvConfig) -> str:
    """Topic → subscription → target → identity, one row per edge of the manifest."""
    n = Names(env)
    rows = ["| topic | subscription / trigger | target | identity (invoker on target) |",
            "|---|---|---|---|"]
    for t in manifest.transitions:
        if t.kind == "gated" and t.function is not None:
            fn = manifest.function(t.function)
            rows.append(f"| `{n.topic(t.topic)}` | event trigger (gated: waits for "
                        f"{len(manifest.enabled_processors(t.source))} enabled Phase {t.source} "
                        f"processors) | function `{n.function(fn)}` | `{n.trigger_account(fn)}` |")
        svc = manifest.service(t.target_service)
        rows.append(f"| `{n.topic(source_topic(t))}` | push `{n.subscription(t.subscription)}` "
                    f"(DLQ `{n.dead_letter_topic(t.subscription)}`) | `{n.service(svc)}{t.path}` "
                    f"| `{n.push_account(t)}` |")
    for job in manifest.jobs:
        # Same form as the edges above: a service route in backticks, a function as
        # "function `name`".
        target = (f"`{n.service(manifest.service(job.target))}{job.path}`"
                  if job.target in {s.key for s in manifest.services}
                  else f"function `{n.function(manifest.function(job.target))}`")
        rows.append(f"| scheduler `{job.schedule}` ({job.time_zone}) | job `{n.job(job)}` | "
                    f"{target} | `{n.job_account(job)}` |")
    return "\n".join(rows) + "\n"


def _node(prefix: str, key: str) -> str:
    return f"{prefix}_{key.replace('-', '_')}"


def mermaid(manifest: Manifest, env: EnvConfig) -> str:
    """The topology as a Mermaid flowchart (renders on the code host)."""
    lines = ["```mermaid", "flowchart LR", *_mermaid_nodes(manifest, Names(env)),
             *_mermaid_edges(manifest), "```"]
    return "\n".join(lines) + "\n"


def _mermaid_nodes(manifest: Manifest, n: Names) -> list[str]:
    """One node per service, function, topic and job, labelled with its cloud name."""
    lines = []
    for s in manifest.services:
        lines.append(f"  {_node('svc', s.key)}[\"{n.service(s)}<br/>(Cloud Run, phase {s.phase})\"]")
    for f in manifest.functions:
        lines.append(f"  {_node('fn', f.key)}{{{{\"{n.function(f)}<br/>(function)\"}}}}")
    for t in manifest.topics:
        lines.append(f"  {_node('topic', t.key)}([\"{n.topic(t.key)}\"])")
    for j in manifest.jobs:
        lines.append(f"  {_node('job', j.key)}>\"{n.job(j)}<br/>{j.schedule}\"]")
    return lines


def _mermaid_edges(manifest: Manifest) -> list[str]:
    """Publishes, invocations, event triggers, pushes and scheduled calls."""
    lines = []
    for s in manifest.services:
        for topic in s.publishes:
            lines.append(f"  {_node('svc', s.key)} -- publish --> {_node('topic', topic)}")
        for callee in s.invokes:
            lines.append(f"  {_node('svc', s.key)} -- invoke --> {_node('svc', callee)}")
    for f in manifest.functions:
        if f.trigger_topic:
            lines.append(f"  {_node('topic', f.trigger_topic)} -- event --> {_node('fn', f.key)}")
        for topic in f.publishes:
            lines.append(f"  {_node('fn', f.key)} -- publish once --> {_node('topic', topic)}")
    for t in manifest.transitions:
        lines.append(f"  {_node('topic', source_topic(t))} -- \"push {t.path}\" --> "
                     f"{_node('svc', t.target_service)}")
    services = {s.key for s in manifest.services}
    for j in manifest.jobs:
        target = _node("svc", j.target) if j.target in services else _node("fn", j.target)
        lines.append(f"  {_node('job', j.key)} -- \"{j.http_method} {j.path}\" --> {target}")
    return lines


def processors_table(manifest: Manifest) -> str:
    """One row per processor: enabled, whether a gate waits for it, its tables, inferences."""
    rows = ["| phase | processor | enabled | expected | output tables | inferred |",
            "|---|---|---|---|---|---|"]
    for p in manifest.processors:
        enabled = "yes" if p.enabled else "no: " + p.note
        expected = "yes" if p.enabled and p.gated else "no"
        tables = ", ".join(f"`{t}`" for t in p.tables)
        rows.append(f"| {p.phase} | `{p.name}` | {enabled} | {expected} | {tables} "
                    f"| {p.inferred or '-'} |")
    return "\n".join(rows) + "\n"


def blocks(manifest: Manifest, env: EnvConfig) -> dict[str, str]:
    return {
        "pipeline-table": pipeline_table(manifest, env),
        "diagram": mermaid(manifest, env),
        "processors": processors_table(manifest),
    }


def render(text: str, generated: dict[str, str]) -> str:
    for name, body in generated.items():
        pattern = re.compile(BLOCK_RE.format(name=re.escape(name)), re.S)
        if not pattern.search(text):
            raise ValueError(f"README has no block '<!-- BEGIN GENERATED: {name} -->'; add the "
                             "BEGIN/END markers where it belongs")
        text = pattern.sub(_between_markers(body), text)
    return text


def _between_markers(body: str) -> Callable[[re.Match[str]], str]:
    """The replacement of a generated block: its markers kept, ``body`` between them (taken
    as is: a function, so that backslashes in ``body`` are not read as group references)."""
    def replace(m: re.Match[str]) -> str:
        return m.group(1) + body + m.group(3)
    return replace


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m infra.synth.docs", description=__doc__, tool="docs",
                    code=EXIT_USAGE)
    parser.add_argument("readme", nargs="?", type=Path, default=Path("README.md"))
    parser.add_argument("--write", action="store_true", help="rewrite the generated blocks")
    add_env_argument(parser, default="prod", help="environment whose names are shown")
    args = parser.parse_args(argv)
    current = args.readme.read_text()
    wanted = render(current, blocks(load(), get_env(args.env)))
    if args.write:
        if wanted == current:
            print(f"docs: {args.readme} already matches the manifest; nothing to regenerate")
            return 0
        args.readme.write_text(wanted)
        print(f"docs: {args.readme} regenerated from the manifest")
        return 0
    if wanted != current:
        print(f"docs: {args.readme} is out of date with the manifest; run `make docs`",
              file=sys.stderr)
        return 1
    print(f"docs: {args.readme} matches the manifest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
