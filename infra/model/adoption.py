"""The adoption record ``infra/adoption/<env>.json``: which declared resources already exist,
and what of their live configuration the stack keeps.

``python -m infra.adopt`` writes it (reviewed and committed like code); the synth reads it:

* ``imports``: each listed address gets a Terraform ``import`` block;
* ``kept``: live values of attributes nobody decided (``{"address", "attribute", "value"}``,
  attribute paths with dots and list indices ``template.containers.0.resources``); the synth
  sets each on the resource, so the first apply never resets a live setting;
* ``changes``: what the first apply changes on purpose (``{"address", "attribute", "live",
  "stack"}``), the announcement ``python -m infra.plan_summary`` checks a plan against;
* ``services``: an imported function's live Cloud Run service, which its trigger invoker
  names so the grant precedes the function's update.

No file, or no entries: no imports, and the stack is exactly what it would be without
adoption. It is model data: ``infra.live`` writes it and ``infra.synth`` reads it, so it sits
below both.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from infra.errors import InputError
from infra.input_files import STRICT, read_json, validated
from infra.paths import REPO_ROOT

ADOPTION_DIR = REPO_ROOT / "infra" / "adoption"
RECORD_VERSION = 2


@dataclass(frozen=True)
class Import:
    """One declared resource that exists live: Terraform takes it over instead of creating it."""

    address: str
    type: str
    import_id: str
    live_name: str


@dataclass(frozen=True)
class Kept:
    """A live value the stack keeps: nothing in the manifest decides ``attribute``."""

    address: str
    attribute: str
    value: object


@dataclass(frozen=True)
class Change:
    """An intended first-apply change: the manifest decides ``attribute``."""

    address: str
    attribute: str
    live: object
    stack: object


@dataclass(frozen=True)
class Record:
    """What the synth reads of a record (empty when there is none)."""

    imports: Mapping[str, str] = field(default_factory=dict)
    kept: Mapping[str, Mapping[str, object]] = field(default_factory=dict)
    """address → attribute path → live value."""
    services: Mapping[str, str] = field(default_factory=dict)
    """function address → its live Cloud Run service name."""


def record_path(env: str, adoption_dir: Path = ADOPTION_DIR) -> Path:
    return adoption_dir / f"{env}.json"


def inventory_path(env: str, adoption_dir: Path = ADOPTION_DIR) -> Path:
    return adoption_dir / f"{env}.inventory.json"


def triggers_path(env: str, adoption_dir: Path = ADOPTION_DIR) -> Path:
    return adoption_dir / f"{env}.triggers.json"


def render_record(env: str, project: str, imports: Sequence[Import],
                  kept: Sequence[Kept] = (), changes: Sequence[Change] = (),
                  services: Mapping[str, str] | None = None) -> str:
    """The record's JSON text: stable order, one entry per line group, trailing newline."""
    body = {
        "version": RECORD_VERSION,
        "env": env,
        "project": project,
        "imports": [asdict(i) for i in sorted(imports, key=lambda i: i.address)],
        "kept": [asdict(k) for k in sorted(kept, key=lambda k: (k.address, k.attribute))],
        "changes": [asdict(c) for c in sorted(changes, key=lambda c: (c.address, c.attribute))],
        "services": dict(sorted((services or {}).items())),
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


class _ImportEntry(BaseModel):
    model_config = STRICT
    address: str
    import_id: str = Field(min_length=1)


class _KeptEntry(BaseModel):
    model_config = STRICT
    address: str
    attribute: str
    value: Any


class _RecordFile(BaseModel):
    """What the synth reads of ``infra/adoption/<env>.json`` (``render_record`` writes it)."""

    model_config = STRICT
    env: str
    project: str
    imports: list[_ImportEntry]
    kept: list[_KeptEntry] = []
    services: dict[str, str] = {}


def load_record(env: str, project: str, adoption_dir: Path = ADOPTION_DIR) -> Record:
    """The whole record of ``env`` (imports, kept values, live services); an empty ``Record``
    when there is no file.

    ``InputError`` names the file, the field path and the value when it is unreadable, of
    another env or project, lists an address or a kept attribute twice, or keeps a value of a
    resource it does not import.
    """
    path = record_path(env, adoption_dir)
    if not path.is_file():
        return Record()
    data = validated(_RecordFile, read_json(path), path)
    for name, found, want in (("env", data.env, env), ("project", data.project, project)):
        if found != want:
            raise InputError(path, f"expected {want!r}, found {found!r}", field=name)
    imports: dict[str, str] = {}
    for i, entry in enumerate(data.imports):
        if entry.address in imports:
            raise InputError(path, f"{entry.address} is listed twice", field=f"imports[{i}].address")
        imports[entry.address] = entry.import_id
    kept: dict[str, dict[str, object]] = {}
    for i, kept_entry in enumerate(data.kept):
        if kept_entry.address not in imports:
            raise InputError(path, f"{kept_entry.address} is not imported; re-run `make adopt`",
                             field=f"kept[{i}].address")
        if kept_entry.attribute in kept.setdefault(kept_entry.address, {}):
            raise InputError(path, f"{kept_entry.address} {kept_entry.attribute} is listed twice",
                             field=f"kept[{i}]")
        kept[kept_entry.address][kept_entry.attribute] = kept_entry.value
    for address, service in data.services.items():
        if not service:
            raise InputError(path, "expected the function's live service name, found ''",
                             field=f"services.{address}")
    return Record(imports, kept, dict(data.services))
