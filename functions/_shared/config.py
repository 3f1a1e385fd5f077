"""Reading the environment the stack generates from the manifest: errors that name the variable."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, TypeGuard

PUBSUB_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9._~+%-]{2,254}$")
"""A Pub/Sub topic or subscription id (the code adds ``projects/<project>/...``)."""


class ConfigError(RuntimeError):
    """A required environment variable is missing or invalid; the message names it."""


def require_env(environ: Mapping[str, str], name: str, what: str) -> str:
    """The stripped value of ``name``; raise ``ConfigError`` saying ``what`` was expected."""
    value = environ.get(name)
    if value is None or not value.strip():
        raise ConfigError(
            f"environment variable {name} is not set: expected {what}; the stack sets it "
            "from the manifest (set it yourself when running locally)"
        )
    return value.strip()


def require_positive_int(environ: Mapping[str, str], name: str, what: str) -> int:
    """The value of ``name`` as a whole number of at least 1 (``require_env`` when unset)."""
    raw = require_env(environ, name, what)
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{name} must be a positive integer, got {raw!r}")
    return int(raw)


def require_project(environ: Mapping[str, str]) -> str:
    """``GCP_PROJECT``: the project every function runs in and addresses its topics in."""
    return require_env(environ, "GCP_PROJECT", "the GCP project id")


def require_ttl_days(environ: Mapping[str, str]) -> int:
    """``COMPLETION_TTL_DAYS``: how many days the records a function writes live before
    Firestore's TTL policy deletes them."""
    return require_positive_int(environ, "COMPLETION_TTL_DAYS", "a positive number of days")


def parse_json(raw: str, label: str) -> Any:
    """``raw`` decoded; raise ``ConfigError`` starting with ``label`` when it is not JSON."""
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{label} is not valid JSON ({exc}): {raw!r}") from exc


def is_name_list(value: Any, pattern: re.Pattern[str]) -> TypeGuard[list[str]]:
    """Whether ``value`` is a non-empty list of strings that all match ``pattern``."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(v, str) and pattern.match(v) for v in value)
    )
