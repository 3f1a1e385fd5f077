"""Command-line plumbing for the functions' own commands (``python -m functions.<name>.<cmd>``).

Defined here, once: ``infra.cli`` re-exports these (``infra`` never ships in a bundle).
"""

from __future__ import annotations

import argparse
from typing import NoReturn


class UsageError(Exception):
    """Bad command line; ``str(err)`` is argparse's one-line message."""


class Parser(argparse.ArgumentParser):
    """``ArgumentParser`` raising ``UsageError`` on a bad command line (never exits 2)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)
