"""The drift review's ignore file (infra/terraform/drift-ignore.json): tolerated noise.

Each entry mutes one attribute (a path prefix) on the addresses matching a glob, and needs a
reason and an `expires` day; past that day it stops muting and the review reports it as drift.
The file is checked against its typed model (`IgnoreFile`); a broken entry is an
``infra.errors.InputError`` naming the entry, the field and the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, StringConstraints

from infra.input_files import STRICT, read_json, validated
from infra.terraform.plan_json import AttrPath, parse_path

DEFAULT_IGNORE_FILE = Path(__file__).with_name("drift-ignore.json")


@dataclass(frozen=True)
class IgnoreEntry:
    """One entry of the ignore file: mute `attribute` (prefix) on addresses matching a glob."""

    address: str
    """Glob over resource addresses, ``*`` and ``?`` only (``google_cloud_run_v2_service.*``);
    brackets such as ``[0]`` match literally."""
    attribute: AttrPath
    """Attribute path prefix (``template.containers.env``); indices it leaves out match any."""
    reason: str
    """Why the drift is tolerated; shown with each muted change and in the expiry report."""
    expires: date
    """Last day the entry mutes; from the next day its drift is reported again."""

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


def _iso_date(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError("expected a date YYYY-MM-DD")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("expected a date YYYY-MM-DD") from None


def _attribute_path(value: object) -> AttrPath:
    if not isinstance(value, str):
        raise ValueError("expected an attribute path such as template[0].labels")
    try:
        return parse_path(value)
    except ValueError as err:
        raise ValueError(f"expected an attribute path such as template[0].labels ({err})"
                         ) from None


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class IgnoreFileEntry(BaseModel):
    """One entry as written: every mute needs an address glob, an attribute path, a reason
    and an expiry day."""

    model_config = STRICT

    address: Text
    attribute: Annotated[AttrPath, BeforeValidator(_attribute_path)]
    reason: Text
    expires: Annotated[date, BeforeValidator(_iso_date)]


class IgnoreFile(BaseModel):
    """The ignore file: ``{"ignore": [entry, ...]}``."""

    model_config = STRICT

    ignore: list[IgnoreFileEntry]


def load_ignore_file(path: str | Path) -> tuple[IgnoreEntry, ...]:
    """Read the ignore file; ``InputError`` naming the entry and field that is unusable."""
    document = validated(IgnoreFile, read_json(path), path)
    return tuple(IgnoreEntry(e.address, e.attribute, e.reason, e.expires)
                 for e in document.ignore)
