"""What checking one stack found: ``StackResult``, read by the command (``iam.policy``), the
full report (``iam.report``) and the Markdown they share (``iam.render``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from iam.rules import Violation


@dataclass(frozen=True)
class StackResult:
    name: str
    path: Path
    env: str | None
    violations: tuple[Violation, ...]
    rules_run: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.violations
