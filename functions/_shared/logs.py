"""Structured JSON log lines on stdout, which Cloud Logging parses (it reads ``severity``)."""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40}
_LOCK = threading.Lock()


def emit(severity: str, message: str, **fields: Any) -> None:
    """Write one structured JSON log line to stdout, whatever ``LOG_LEVEL`` says."""
    line = json.dumps({"severity": severity, "message": message, **fields}, default=str)
    # One lock: concurrent deliveries in one instance must not interleave half lines.
    with _LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def log(severity: str, message: str, **fields: Any) -> None:
    """``emit``, unless ``severity`` is below ``LOG_LEVEL`` (default ``INFO``)."""
    threshold = LEVELS.get(os.environ.get("LOG_LEVEL", "INFO").upper(), 20)
    if LEVELS.get(severity, 20) < threshold:
        return
    emit(severity, message, **fields)
