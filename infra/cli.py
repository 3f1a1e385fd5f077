"""Command-line plumbing shared by every ``python -m`` entry point of the repo.

Every command prints errors as one line, ``<tool>: <message>``, and returns its own
documented exit code; this module holds what they all need for that, once:

* ``Parser``: an ``argparse`` parser whose mistakes raise ``UsageError`` instead of printing
  usage and exiting 2 (2 means "drift" or "cannot verify" for some commands); ``--help``
  still prints the usage and exits 0;
* ``fail``: print the one line and return the code;
* ``one_line``: the first line of an exception's message (client libraries write essays).
"""

from __future__ import annotations

import sys
from typing import TextIO

# Defined once, where the functions' own commands (which ship without ``infra``) can use them.
from functions._shared.cli import Parser, UsageError

__all__ = ["EXIT_OK", "Parser", "UsageError", "fail", "one_line"]

EXIT_OK = 0


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
