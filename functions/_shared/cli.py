"""Command-line plumbing for every ``python -m`` command of the repo: the one parser.

Defined here, in the layer every other one may use: the functions' own commands ship in
bundles without ``infra``, and ``infra.cli`` re-exports ``Parser`` and ``UsageError``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn


class UsageError(Exception):
    """Bad command line; ``str(err)`` is argparse's one-line message."""


class Parser(argparse.ArgumentParser):
    """``ArgumentParser`` whose mistakes are one line, never a usage essay and exit 2.

    Without ``code`` a bad command line raises ``UsageError`` (the caller decides the exit
    code: 2 means "drift" or "cannot verify" for some commands). With ``code`` it prints
    ``<tool>: <message>`` on stderr and exits ``code`` (``tool`` defaults to ``prog``), for
    commands whose exit 2 already means "bad input". ``--help`` prints the usage and exits 0.
    """

    def __init__(self, *args: Any, tool: str | None = None, code: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tool = tool or self.prog
        self.code = code

    def error(self, message: str) -> NoReturn:
        if self.code is None:
            raise UsageError(message)
        print(f"{self.tool}: {message}", file=sys.stderr)
        raise SystemExit(self.code)
