"""Terraform's machine-readable UI: what `terraform init|plan|apply -json` print, typed.

With ``-json`` Terraform prints one JSON object per line
(https://developer.hashicorp.com/terraform/internals/machine-readable-ui): ``@level``
(``info``, ``warn``, ``error``), ``@message`` (the text a person would read) and ``type``.
The wrapper reads two types:

* ``diagnostic``: ``diagnostic.severity`` (``error``, ``warning``), ``summary``, ``detail`` and,
  for a problem in the configuration, ``range`` (``filename``, ``start.line``);
* ``change_summary``: ``changes`` (``add``, ``change``, ``import``, ``remove``, ``operation``),
  whose ``@message`` is Terraform's own "Plan: …" or "Apply complete! Resources: …" line.

Every other message is kept as its ``@message``. A line that is not such a message (a crash,
a flag Terraform could not parse before it knew about ``-json``, stderr) is kept as text, so
nothing Terraform said is lost. ``terraform show`` has no JSON UI for its errors; its
``-no-color`` text is read by ``plain_reason``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

_LENIENT = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)
"""Terraform's own output: fields it adds later are ignored, nothing is coerced by hand."""


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines included) as one space."""
    return " ".join(text.split())


class Position(BaseModel):
    """A place in a configuration file."""

    model_config = _LENIENT

    line: int
    column: int = 0


class Range(BaseModel):
    """Where in the configuration a diagnostic points."""

    model_config = _LENIENT

    filename: str
    start: Position


class Diagnostic(BaseModel):
    """An error or warning, as Terraform reports it."""

    model_config = _LENIENT

    severity: Literal["error", "warning"]
    summary: str
    detail: str = ""
    range: Range | None = None

    @property
    def location(self) -> str:
        """``file:line`` of the configuration it points at; "" when it points nowhere."""
        return f"{self.range.filename}:{self.range.start.line}" if self.range else ""

    def reason(self, *, whole_detail: bool = False) -> str:
        """``summary: detail (file:line)`` on one line; only the detail's first paragraph
        unless ``whole_detail`` (the rest is usually advice on Terraform commands)."""
        detail = self.detail if whole_detail else self.detail.split("\n\n", 1)[0]
        text = one_line(self.summary) + (f": {one_line(detail)}" if detail.strip() else "")
        return text + (f" ({self.location})" if self.location else "")

    def line(self) -> str:
        """One readable line: ``error: summary: detail (file:line)``."""
        return f"{self.severity}: {self.reason(whole_detail=True)}"


class ChangeCounts(BaseModel):
    """The ``changes`` of a ``change_summary`` message."""

    model_config = _LENIENT

    add: int
    change: int
    remove: int
    imported: int = Field(default=0, alias="import")
    operation: str = ""


class UiMessage(BaseModel):
    """One line of Terraform's JSON UI."""

    model_config = _LENIENT

    level: str = Field(alias="@level")
    message: str = Field(alias="@message")
    type: str = ""
    diagnostic: Diagnostic | None = None
    changes: ChangeCounts | None = None

    def line(self) -> str:
        """One readable line: a diagnostic as ``Diagnostic.line``, anything else its text."""
        if self.diagnostic is not None:
            return self.diagnostic.line()
        text = one_line(self.message)
        return text if self.level == "info" else f"{self.level}: {text}"


@dataclass(frozen=True)
class UiOutput:
    """What one Terraform command printed: its JSON UI messages and any other text."""

    messages: tuple[UiMessage, ...]
    text: tuple[str, ...]
    """Non-empty lines that are not JSON UI messages, in order (stdout, then stderr)."""

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        """Error diagnostics, each once (``terraform init`` reports some twice)."""
        seen: dict[str, Diagnostic] = {}
        for m in self.messages:
            if m.diagnostic is not None and m.diagnostic.severity == "error":
                seen.setdefault(m.diagnostic.line(), m.diagnostic)
        return tuple(seen.values())

    @property
    def summary(self) -> str:
        """Terraform's last change summary ("Apply complete! Resources: …"); "" when none."""
        found = [m.message for m in self.messages if m.changes is not None]
        return one_line(found[-1]) if found else ""

    def reason(self) -> str:
        """Why the command failed, on one line: the first error, ``(+N more errors)`` when
        there are more; without any, the last line of other text."""
        errors = self.errors
        if not errors:
            return self.text[-1].strip() if self.text else "no error output"
        more = len(errors) - 1
        return errors[0].reason() + (f" (+{more} more error{'s' if more > 1 else ''})"
                                     if more else "")

    def log_lines(self) -> list[str]:
        """Everything Terraform said, one readable line per message, then the other text."""
        return [m.line() for m in self.messages] + list(self.text)


def parse_ui(stdout: str, stderr: str = "") -> UiOutput:
    """Split a command's output into JSON UI messages and other text."""
    messages: list[UiMessage] = []
    text: list[str] = []
    for raw in stdout.splitlines():
        message = _message(raw)
        if message is not None:
            messages.append(message)
        elif raw.strip():
            text.append(raw)
    text += [line for line in stderr.splitlines() if line.strip()]
    return UiOutput(tuple(messages), tuple(text))


def _message(raw: str) -> UiMessage | None:
    """One stdout line as a UI message; None for a line that is not one."""
    if not raw.startswith("{"):
        return None
    try:
        return UiMessage.model_validate(json.loads(raw))
    except (json.JSONDecodeError, ValidationError):
        return None


def plain_reason(text: str) -> str:
    """Terraform's first error in ``-no-color`` output (``terraform show``, which has no JSON
    UI for its errors) as ``summary: first paragraph of the detail``; else the last line;
    "no error output" when there is none."""
    paragraphs = [one_line(p) for p in text.strip().split("\n\n") if p.strip()]
    for index, paragraph in enumerate(paragraphs):
        if paragraph.startswith("Error: "):
            detail = paragraphs[index + 1] if index + 1 < len(paragraphs) else ""
            summary = paragraph.removeprefix("Error: ")
            return summary + (f": {detail}" if detail and not detail.startswith("Error: ")
                              else "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"
