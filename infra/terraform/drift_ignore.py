"""The drift review's ignore file (infra/terraform/drift-ignore.json): tolerated noise.

Each entry mutes one attribute (a path prefix) on the addresses matching a glob, and needs a
reason and an `expires` day; past that day it stops muting and the review reports it as drift.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from infra.terraform.plan_json import AttrPath, InputError, parse_path, read_json

DEFAULT_IGNORE_FILE = Path(__file__).with_name("drift-ignore.json")


@dataclass(frozen=True)
class IgnoreEntry:
    """One entry of the ignore file: mute `attribute` (prefix) on addresses matching a glob."""

    address: str
    attribute: AttrPath
    reason: str
    expires: date

    def matches(self, address: str, path: AttrPath) -> bool:
        """Glob match on the address, segment-prefix match on the attribute path."""
        return fnmatchcase(address, _escape_brackets(self.address)) and path_has_prefix(
            path, self.attribute
        )

    def expired(self, today: date) -> bool:
        """An entry is valid through its `expires` day."""
        return today > self.expires



def _escape_brackets(glob: str) -> str:
    """Only `*` and `?` are wildcards: addresses contain `[0]` and `["key"]` literally."""
    return re.sub(r"([\[\]])", r"[\1]", glob)


def path_has_prefix(path: AttrPath, prefix: AttrPath) -> bool:
    """Whether `prefix` leads to `path`; indices the prefix leaves out match any index.

    So `template.containers.env` covers `template[0].containers[1].env[2].value`, while
    `template[0].containers[0].env[2]` covers only that one variable.
    """
    position = 0
    for step in prefix:
        while (
            position < len(path) and isinstance(path[position], int) and not isinstance(step, int)
        ):
            position += 1
        if position >= len(path) or path[position] != step:
            return False
        position += 1
    return True


def load_ignore_file(path: str | Path) -> tuple[IgnoreEntry, ...]:
    """Read the ignore file; raise `InputError` on any entry without reason or expiry."""
    data = read_json(path)
    entries = data.get("ignore") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise InputError(path, 'expected an object with an "ignore" list')
    return tuple(_parse_ignore_entry(entry, index, path) for index, entry in enumerate(entries))


def _parse_ignore_entry(entry: Any, index: int, path: str | Path) -> IgnoreEntry:
    """Validate one ignore entry; every mute needs a reason and an expiry date."""
    where = f"ignore[{index}]"
    if not isinstance(entry, dict):
        raise InputError(path, f"{where} is not an object")
    for field in ("address", "attribute", "reason", "expires"):
        value = entry.get(field)
        if not isinstance(value, str) or not value.strip():
            raise InputError(
                path,
                f"{where}: missing {field!r} (every entry needs address, attribute, "
                "reason and expires YYYY-MM-DD)",
            )
    try:
        expires = date.fromisoformat(entry["expires"])
    except ValueError:
        raise InputError(
            path, f"{where}: expires {entry['expires']!r} is not a YYYY-MM-DD date"
        ) from None
    try:
        attribute = parse_path(entry["attribute"])
    except ValueError as err:
        raise InputError(path, f"{where}: {err}") from None
    return IgnoreEntry(entry["address"], attribute, entry["reason"].strip(), expires)
