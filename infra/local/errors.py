"""The one error type of the local pipeline: its message is one line naming the fix (paths
in it shown relative to the working directory, ``shown_path``)."""

from __future__ import annotations

from pathlib import Path


class LocalError(RuntimeError):
    """``up``/``down``/``demo`` cannot proceed; ``str(error)`` is one line with the fix."""


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it, else as it is."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
