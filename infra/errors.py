"""The one error for an input file a command cannot use (standard library only).

Raised by every reader of a file someone hands a command: a Terraform plan JSON, the
drift-ignore file, a recorded inventory, a synthesized stack. The message is one line that
names the file, where in it the problem is (a field path like ``resource_changes[3].change``)
and the value found, so the person at the terminal can fix the file without reading code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_MAX_VALUE = 80


def shown(value: Any) -> str:
    """``value`` as ``repr`` cut to one readable line."""
    text = repr(value).replace("\n", " ")
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 1] + "…"


class InputError(ValueError):
    """A file a command needs cannot be used: ``<file>: [<field path>: ]<reason>``."""

    def __init__(self, source: str | Path, reason: str, *, field: str = "") -> None:
        self.source = str(source)
        self.field = field
        self.reason = reason
        super().__init__(f"{self.source}: {field + ': ' if field else ''}{reason}")
