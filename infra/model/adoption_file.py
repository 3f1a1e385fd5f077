"""Reading ``infra/adoption/<env>.json`` into a typed model (``RecordFile``) and a ``Record``.

Apart from ``infra.model.adoption`` (what the record holds, its paths, how it is written)
because pydantic takes a noticeable part of a synthesis to import, and most synthesized
environments have no record: ``infra.synth`` imports this module only when the file exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from infra.errors import InputError
from infra.input_files import STRICT, read_json, validated
from infra.model.adoption import ADOPTION_DIR, RECORD_VERSIONS, Record, Steps, attribute_steps, record_path


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
