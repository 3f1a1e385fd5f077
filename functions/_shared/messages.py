"""Completion messages (DOMAIN.md fields), validated and normalised, for every reader.

The orchestrator reads them from its trigger's CloudEvents, the canary from its own pull
subscription of the same topic; both parse them here, so what one counts as a completion the
other does too. Malformed messages raise ``MalformedMessage`` saying what is wrong; readers
log them at WARNING with their content (``content_for_log``) and acknowledge them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from functions._shared.completion import PROCESSOR_RE, SUCCESS

LOGGED_CONTENT_CHARS = 2000

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLASS_RE = re.compile(r"^[A-Z][A-Za-z0-9]*$")


class MalformedMessage(ValueError):
    """The delivery cannot be a completion message; ``reason`` says why."""

    def __init__(self, reason: str, content: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.content = content


@dataclass(frozen=True)
class Completion:
    """One processor's completion message, validated and normalised."""

    processor: str
    """``processor_name`` in snake_case (``PlayerGameSummaryProcessor`` → ``player_game_summary``):
    the completion record's id, matched against the expected set."""
    processor_name: str
    """As the message sent it (stripped)."""
    game_date: str
    """``YYYY-MM-DD``, a real calendar date: the id of the date's summary document."""
    phase: str | None
    """The phase id the message names (one of ``known_phases`` when given); ``None``: not sent,
    and the orchestrator takes its source phase."""
    status: str
    """Lower-cased; ``success`` when absent or blank. Only ``success`` counts toward the set."""
    execution_id: str | None
    """The processor run's ids as sent (likewise ``correlation_id``), copied into the record and
    the BigQuery rows; ``None`` when absent."""
    correlation_id: str | None
    output_table: str | None
    """What the run wrote as sent (likewise ``output_dataset``); recorded, never checked."""
    output_dataset: str | None
    record_count: int | None
    """Rows the run wrote as sent, never negative; ``None`` when absent."""
    timestamp: str | None
    """When the run finished, as sent; the record's ``completed_at`` when it parses as ISO 8601,
    else the time of recording."""
    skip_downstream_trigger: bool
    """A backfill's ask: count the completion but publish no trigger; absent or null is ``False``."""

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCESS


def normalise_processor(name: str) -> str:
    """``PlayerGameSummaryProcessor`` → ``player_game_summary``; snake_case passes through."""
    if PROCESSOR_RE.match(name):
        return name
    if not _CLASS_RE.match(name):
        raise ValueError(f"processor_name {name!r} is neither snake_case nor a class name")
    base = name.removesuffix("Processor") or name
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", base).lower()
    if not PROCESSOR_RE.match(snake):
        raise ValueError(f"processor_name {name!r} does not normalise to snake_case")
    return snake


def _optional(payload: Mapping[str, Any], key: str, kind: type) -> Any:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise MalformedMessage(
            f"field {key!r} must be {kind.__name__}, got {type(value).__name__}", payload
        )
    return value


def parse_completion(payload: Any, known_phases: Sequence[str] | None) -> Completion:
    """Validate a decoded completion message; raise ``MalformedMessage`` saying what is wrong.

    ``known_phases``: the phase ids a message may name; ``None`` accepts any string.
    """
    if not isinstance(payload, dict):
        raise MalformedMessage(
            f"message is a JSON {type(payload).__name__}, not an object", payload
        )
    raw_name = payload.get("processor_name")
    if not isinstance(raw_name, str) or not raw_name.strip():
        raise MalformedMessage("processor_name is missing or not a non-empty string", payload)
    try:
        processor = normalise_processor(raw_name.strip())
    except ValueError as exc:
        raise MalformedMessage(str(exc), payload) from exc
    game_date = payload.get("game_date")
    if not isinstance(game_date, str) or not DATE_RE.match(game_date):
        raise MalformedMessage("game_date is missing or not YYYY-MM-DD", payload)
    try:
        dt.date.fromisoformat(game_date)
    except ValueError as exc:
        raise MalformedMessage(f"game_date {game_date!r} is not a calendar date", payload) from exc
    phase = _optional(payload, "phase", str)
    if phase is not None and known_phases is not None and phase not in known_phases:
        raise MalformedMessage(f"phase {phase!r} is not one of {list(known_phases)}", payload)
    status = _optional(payload, "status", str)
    record_count = _optional(payload, "record_count", int)
    if record_count is not None and record_count < 0:
        raise MalformedMessage(f"record_count {record_count} is negative", payload)
    skip = payload.get("skip_downstream_trigger", False)
    if skip is None:
        skip = False
    if not isinstance(skip, bool):
        raise MalformedMessage("skip_downstream_trigger must be a boolean", payload)
    return Completion(
        processor=processor,
        processor_name=raw_name.strip(),
        game_date=game_date,
        phase=phase,
        status=(status or SUCCESS).strip().lower() or SUCCESS,
        execution_id=_optional(payload, "execution_id", str),
        correlation_id=_optional(payload, "correlation_id", str),
        output_table=_optional(payload, "output_table", str),
        output_dataset=_optional(payload, "output_dataset", str),
        record_count=record_count,
        timestamp=_optional(payload, "timestamp", str),
        skip_downstream_trigger=skip,
    )


def decode_json(raw: bytes) -> Any:
    """A Pub/Sub message's data as JSON; ``MalformedMessage`` when it is not UTF-8 JSON."""
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedMessage("Pub/Sub message data is not UTF-8 JSON", raw) from exc


def content_for_log(content: Any) -> str:
    """``content`` as text for a log line, cut to ``LOGGED_CONTENT_CHARS``."""
    if isinstance(content, bytes):
        text = content.decode("utf-8", errors="replace")
    elif isinstance(content, str):
        text = content
    else:
        text = json.dumps(content, default=str)
    return text[:LOGGED_CONTENT_CHARS]
