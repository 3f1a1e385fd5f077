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
adoption. It is model data: ``infra.live`` writes it, ``infra.synth`` and the first-plan
review (``infra.terraform.first_plan``) read it through ``RecordFile``, so it sits below all
three.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from infra.errors import InputError
from infra.input_files import STRICT, read_json, validated
from infra.paths import REPO_ROOT

ADOPTION_DIR = REPO_ROOT / "infra" / "adoption"
RECORD_VERSION = 2
RECORD_VERSIONS = (1, 2)
"""Record versions the readers accept: 1 has only ``imports``, 2 adds ``changes`` and ``kept``."""

Steps = tuple[str | int, ...]
"""A record attribute path split at its dots; all-digit parts are list indices."""


@dataclass(frozen=True)
class Import:
    """One declared resource that exists live: Terraform takes it over instead of creating it."""

    address: str
    """The declared resource's Terraform address
    (``google_pubsub_subscription.phase3_analytics_sub__subscription``)."""
    type: str
    """Its Terraform resource type, the address's first part."""
    import_id: str
    """The id its ``import`` block passes the provider: the type's own import id format, else the
    live relative name (``projects/P/topics/T``)."""
    live_name: str
    """The inventory's full name of the live resource (``//pubsub.googleapis.com/projects/P/topics/T``),
    by which the adoption report finds it again."""


@dataclass(frozen=True)
class Kept:
    """A live value the stack keeps: nothing in the manifest decides ``attribute``."""

    address: str
    """Terraform address of an imported resource (``load_record`` refuses any other)."""
    attribute: str
    """Record path: dots and list indices (``template.containers.0.env``, see ``attribute_steps``)."""
    value: object
    """The live value in Terraform's form, set on the resource by the synth; ``None``: declare
    null, so a computed attribute keeps the server's default."""


@dataclass(frozen=True)
class Change:
    """An intended first-apply change: the manifest decides ``attribute``."""

    address: str
    """Terraform address of the imported resource that changes."""
    attribute: str
    """Record path, as in ``Kept.attribute``."""
    live: object
    """What runs now, in Terraform's form; of a map or an env list only the entries that differ,
    of a table schema its column names."""
    stack: object
    """What the stack sets instead (same shape as ``live``), or a sentence when a value cannot say
    it (``"adds NULLABLE columns x, y"``); for the record's reviewer: readers use only the address
    and the attribute."""


@dataclass(frozen=True)
class Record:
    """What the synth reads of a record (empty when there is none)."""

    imports: Mapping[str, str] = field(default_factory=dict)
    """address → import id (``Import.import_id``): one ``import`` block each."""
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


def attribute_steps(attribute: str) -> Steps:
    """Split a record path ``template.containers.0.env`` at its dots; digits are indices."""
    parts = attribute.split(".")
    if any(not part for part in parts):
        raise ValueError("expected dotted names without an empty part, such as "
                         "\"template.containers.0.env\"")
    return tuple(int(part) if part.isdigit() else part for part in parts)


def _dotted(attribute: str) -> str:
    """A record path that ``attribute_steps`` can split."""
    attribute_steps(attribute)
    return attribute


def _record_version(version: int) -> int:
    if version not in RECORD_VERSIONS:
        raise ValueError(f"expected one of {', '.join(map(str, RECORD_VERSIONS))}")
    return version


class ImportEntry(BaseModel):
    """An ``imports`` entry as read: the address and its import id (``Import`` as written)."""

    model_config = STRICT

    address: str
    import_id: str = Field(min_length=1)


class AttributeEntry(BaseModel):
    """A ``changes`` entry as read: an address and an attribute path (``Change`` as written)."""

    model_config = STRICT

    address: Annotated[str, StringConstraints(min_length=1)]
    attribute: Annotated[str, AfterValidator(_dotted)]

    @property
    def steps(self) -> Steps:
        return attribute_steps(self.attribute)


class KeptEntry(AttributeEntry):
    """A ``kept`` entry as read (``Kept`` as written): also the live value, which may be null;
    ``has_value`` says whether the entry has one at all."""

    value: Any = None

    @property
    def has_value(self) -> bool:
        return "value" in self.model_fields_set


class RecordFile(BaseModel):
    """The record file (``render_record`` writes it), for every reader.

    Every field may be absent, as in a version 1 record or a hand-written ``--adoption`` file
    of the first-plan review (``infra.terraform.first_plan``); each reader checks what it
    needs (``load_record``: the env, the project and every kept value).
    """

    model_config = STRICT

    version: Annotated[int, AfterValidator(_record_version)] | None = None
    env: str | None = None
    project: str | None = None
    imports: list[ImportEntry] = []
    kept: list[KeptEntry] = []
    changes: list[AttributeEntry] | None = None
    """None in a record written before version 2, which announced nothing."""
    services: dict[str, str] = {}


def read_record(path: Path, source: str | Path | None = None) -> RecordFile:
    """The record file at ``path``; ``InputError`` naming ``source`` (default ``path``), the
    field path and the value when it is unreadable or malformed."""
    return validated(RecordFile, read_json(path), path if source is None else source)


def load_record(env: str, project: str, adoption_dir: Path = ADOPTION_DIR) -> Record:
    """The whole record of ``env`` (imports, kept values, live services); an empty ``Record``
    when there is no file.

    ``InputError`` names the file, the field path and the value when it is unreadable, of
    another env or project, lists an address or a kept attribute twice, or keeps a value of a
    resource it does not import (or no value).
    """
    path = record_path(env, adoption_dir)
    if not path.is_file():
        return Record()
    data = read_record(path)
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
        if not kept_entry.has_value:
            raise InputError(path, "missing, required", field=f"kept[{i}].value")
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
