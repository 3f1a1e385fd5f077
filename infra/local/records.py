"""Append-only JSONL records written by the fronts and the simulators, and their readers."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

FRONTS_LOG = "fronts.jsonl"


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds and an explicit offset."""
    return dt.datetime.now(dt.UTC).isoformat()


def parse_time(value: object) -> dt.datetime | None:
    """An ISO 8601 / RFC 3339 timestamp (``Z`` allowed) as an aware datetime, else ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


class JsonlLog:
    """One JSONL file, appended to by many threads of one process (one line per write)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: Mapping[str, Any]) -> None:
        line = json.dumps(record, default=str, sort_keys=True)
        with self._lock, self.path.open("a") as fh:
            fh.write(line + "\n")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The complete records of ``path`` (a line still being written is skipped)."""
    try:
        text = path.read_text()
    except OSError:
        return
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            yield record
