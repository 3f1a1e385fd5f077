"""Command-line plumbing shared by every ``python -m`` entry point of the repo.

Every command prints errors as one line, ``<tool>: <message>``, and returns its own
documented exit code; this module holds what they all need for that, once:

* ``Parser`` (from ``functions._shared.cli``, the one parser): its mistakes raise
  ``UsageError``, or with ``code=`` print one line and exit that code; ``--help`` still
  prints the usage and exits 0;
* ``fail``: print the one line and return the code;
* ``one_line``: the first line of an exception's message (client libraries write essays);
* ``add_env_argument``: ``--env``, checked by ``infra.model.envs.unknown_env`` while the
  command line is parsed, so an unknown environment is one line before anything runs;
* ``quiet_jsii``: silence jsii's Node end-of-life banner before jsii is imported.

``python -m infra.cli check-env NAME`` is the same environment check for the Makefile: exit 0
for a known environment, else the one line on stderr and exit 2. ``python -m infra.cli envs``
prints the environments of ``infra/model/envs.py`` (``ENVS``, in order) on one line, for the
Makefile's ``ENVS``; ``--json`` prints the CI matrix instead (``ci_matrix``), which the
workflows read at run time. A model that cannot load is one line on stderr and exit 1. Both
need the standard library only, so make can run them before ``.venv`` exists.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

# Defined once, where the functions' own commands (which ship without ``infra``) can use them.
from functions._shared.cli import Parser, UsageError

__all__ = ["EXIT_OK", "EXIT_USAGE", "Parser", "UsageError", "add_env_argument",
           "env_name", "fail", "one_line", "quiet_jsii"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
"""A bad command line (an unknown environment included), for commands whose 2 means that."""

JSII_NODE_VARIABLE = "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION"


def fail(tool: str, message: str, code: int, stream: TextIO | None = None) -> int:
    """Print ``<tool>: <message>`` on stderr (or ``stream``) and return ``code``."""
    print(f"{tool}: {message}", file=stream or sys.stderr)
    return code


def one_line(err: BaseException) -> str:
    """The first non-empty line of ``err``'s message, or its type when it has none."""
    for line in str(err).splitlines():
        if line.strip():
            return line.strip()
    return type(err).__name__


def env_name(value: str) -> str:
    """``argparse`` ``type=`` for ``--env``: the name when known, else a one-line error."""
    from infra.model.envs import unknown_env  # imported when used: see ``main``

    message = unknown_env(value)
    if message is not None:
        raise argparse.ArgumentTypeError(message)
    return value


def add_env_argument(parser: argparse.ArgumentParser, **kwargs: Any) -> None:
    """Add ``--env`` checked by ``env_name``; ``kwargs`` go to ``add_argument`` (default,
    required, action, help)."""
    kwargs.setdefault("help", "environment (infra/model/envs.py)")
    parser.add_argument("--env", type=env_name, metavar="ENV", **kwargs)


def quiet_jsii() -> None:
    """Silence jsii's end-of-life banner for the running Node major version.

    jsii reads the variable when it starts its Node runtime, i.e. at the first ``import``
    of a jsii package; an entry point calls this before importing any. A non-empty value the
    caller set already is kept.
    """
    if not os.environ.get(JSII_NODE_VARIABLE):
        os.environ[JSII_NODE_VARIABLE] = "20"


def ci_matrix(envs: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """The CI matrix of ``envs`` (name → ``EnvConfig``): one entry per environment, in order,
    with the repository variable naming its planner (``EnvConfig.ci_planner_variable``)."""
    return {"include": [{"env": name, "planner_variable": env.ci_planner_variable}
                        for name, env in envs.items()]}


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m infra.cli check-env NAME``: exit 0 when known, else one line and exit 2.
    ``python -m infra.cli envs [--json]``: the environments on one line (or the CI matrix)."""
    parser = Parser(prog="python -m infra.cli", description=main.__doc__)
    parser.add_argument("command", choices=["check-env", "envs"])
    parser.add_argument("name", nargs="?")
    parser.add_argument("--json", action="store_true", help="envs: the CI matrix, as JSON")
    try:
        args = parser.parse_args(argv)
        if (args.name is None) == (args.command == "check-env"):
            raise UsageError("check-env takes one NAME, envs none")
    except UsageError as err:
        return fail("cli", str(err), EXIT_USAGE)
    # Imported here, so a model that cannot load is one line (make stops on it), not a traceback.
    try:
        from infra.model import envs
    except Exception as err:  # any failure of the model: reported in one line
        return fail("env", f"infra/model/envs.py cannot load: {one_line(err)}", EXIT_ERROR)
    if args.command == "envs":
        print(json.dumps(ci_matrix(envs.ENVS)) if args.json else " ".join(envs.ENVS))
        return EXIT_OK
    message = envs.unknown_env(args.name)
    return EXIT_OK if message is None else fail("env", message, EXIT_USAGE)


if __name__ == "__main__":
    sys.exit(main())
