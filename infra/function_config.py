"""``python -m infra.function_config``: a function's generated environment, printed or handed to a command.

The environment itself is derived in ``infra.model.function_config``; this is its command.
"""

from __future__ import annotations

import argparse
import os
import sys

from infra.cli import EXIT_USAGE, Parser, add_env_argument
from infra.model.components import ManifestError
from infra.model.envs import get_env
from infra.model.function_config import function_env
from infra.model.pipeline import load


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.function_config --env ENV --function KEY [-- CMD ...]``.

    Without a command, prints the function's generated environment as ``KEY=VALUE`` lines;
    with one, runs it with that environment added (used by ``make reconcile``).
    """
    parser = Parser(prog="python -m infra.function_config", description=main.__doc__,
                    tool="function_config", code=EXIT_USAGE)
    add_env_argument(parser, default="dev")
    parser.add_argument("--function", required=True, help="function key from infra/model/pipeline.py")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    manifest = load()
    try:
        fn = manifest.function(args.function)
        env = get_env(args.env)
    except KeyError:
        print(f"function_config: unknown function {args.function!r}; declared: "
              f"{', '.join(f.key for f in manifest.functions)}", file=sys.stderr)
        return 2
    except ManifestError as exc:
        print(f"function_config: {exc}", file=sys.stderr)
        return 2
    generated = function_env(manifest, env, fn)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        for key, value in sorted(generated.items()):
            print(f"{key}={value}")
        return 0
    os.execvpe(command[0], command, os.environ | generated)
    return 0  # pragma: no cover - execvpe does not return


if __name__ == "__main__":
    raise SystemExit(main())
