"""App entry (``cdktf.json`` ``app``): synthesize every environment's stack, then summarize.

``python -m infra.main [--env dev] [--outdir cdktf.out] [--quiet]``

Without ``--env`` it synthesizes every environment (``make synth`` does the same unless
``ENV`` is given). Exit 0 synthesized, 1 the manifest or the stack failed, 2 a bad command
line (an unknown environment: one line, nothing synthesized).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from infra.cli import EXIT_USAGE, Parser, UsageError, add_env_argument, fail
from infra.model.components import ManifestError
from infra.model.envs import ENVS
from infra.model.pipeline import load
from infra.paths import DEFAULT_OUTDIR


@contextmanager
def jsii_debug_type_checks_off() -> Iterator[None]:
    """Within it, jsii's run-time argument checks (typeguard) are off; leaving it restores them.

    jsii checks every argument of every construct call against the binding's annotations
    while ``__debug__`` is on (``python -O`` skips them, but then every provider module is
    compiled again, which costs more than it saves). ``make lint`` already checks the same
    calls statically (``mypy --strict`` over ``infra``, with the provider's types), and the
    tests synthesize through ``infra.synth.app.synthesize`` with the checks on, so a call of the
    wrong type still fails the suite (``main`` called in a test process restores them too). The
    switches are jsii's own resolved checker and its cache of resolved type hints
    (``jsii._type_checking``): if a jsii release renames them, this does nothing and synthesis
    is only slower. Saves about a sixth of a synth (``bench/synth.py``).
    """
    import jsii._type_checking as jsii_type_checking

    def no_check(argname: str, value: object, expected_type: object) -> None:
        return None

    saved = jsii_type_checking._resolved_check, jsii_type_checking._type_hints_cache
    jsii_type_checking._resolved_check = no_check
    # The checks' expected types are resolved (``cached_type_hints``, once per binding) before
    # each check is called: with no check to feed, no binding's hints are resolved either.
    jsii_type_checking._type_hints_cache = _Unresolved()
    try:
        yield
    finally:
        jsii_type_checking._resolved_check, jsii_type_checking._type_hints_cache = saved


class _Unresolved(dict[object, dict[str, object]]):
    """jsii's cache of resolved type hints, answering every binding with hints it never
    resolves (``jsii_debug_type_checks_off``): each names ``object``."""

    def get(self, key: object, default: object = None) -> dict[str, object]:
        return _ANY_HINTS


class _AnyHints(dict[str, object]):
    def __missing__(self, argument: str) -> object:
        return object


_ANY_HINTS = _AnyHints()


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="python -m infra.main", description=__doc__)
    add_env_argument(parser, action="append",
                     help="environment to synthesize (repeatable); default: all")
    parser.add_argument("--outdir", type=Path,
                        default=Path(os.environ.get("CDKTF_OUTDIR", DEFAULT_OUTDIR)))
    parser.add_argument("--quiet", action="store_true", help="no summary")
    try:
        args = parser.parse_args(argv)
    except UsageError as err:
        return fail("synth", str(err), EXIT_USAGE)
    with jsii_debug_type_checks_off():
        return _synthesize(args.env or tuple(ENVS), args.outdir, args.quiet)


def _synthesize(envs: tuple[str, ...], outdir: Path, quiet: bool) -> int:
    # Imported after the command line is checked: loading jsii takes seconds.
    # cdktn records a JavaScript stack trace for every token it creates, shown only when a
    # token cannot be resolved; the tests synthesize with it (infra.synth.app), this command
    # does not. Set before jsii starts Node; a value the caller set is kept.
    os.environ.setdefault("CDKTN_DISABLE_CREATION_STACK", "1")
    from infra.synth.app import synthesize
    from infra.synth.summary import summarize

    started = time.monotonic()
    try:
        manifest = load()
        if not quiet:
            enabled = sum(p.enabled for p in manifest.processors)
            print(f"synth: manifest valid ({len(manifest.phases)} phases, "
                  f"{len(manifest.processors)} processors of which {enabled} enabled, "
                  f"{len(manifest.topics)} topics, {len(manifest.transitions)} transitions, "
                  f"{len(manifest.jobs)} jobs); synthesizing "
                  f"{', '.join(f'pipeline-{e}' for e in envs)} into {outdir}", flush=True)
        stacks = synthesize(manifest, envs, outdir)
    except (ManifestError, FileNotFoundError, ValueError) as exc:
        print(f"synth failed: {exc}", file=sys.stderr)
        return 1
    if not quiet:
        print(summarize(stacks, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
