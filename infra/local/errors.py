"""The one error type of the local pipeline: its message is one line naming the fix."""

from __future__ import annotations


class LocalError(RuntimeError):
    """``up``/``down``/``demo`` cannot proceed; ``str(error)`` is one line with the fix."""
