"""Read the recorded inventory and Cloud Build trigger list adoption works from.

The inventory is what ``gcloud asset search-all-resources --scope=projects/P --format=json``
(or ``make inventory``) returns: a JSON list of ResourceSearchResult objects. Only the
documented stable fields are read: ``name``, ``assetType``, ``project``, ``location``,
``displayName``, ``description``, ``state`` and, when present, ``versionedResources`` (each
resource as its API version returns it). ``additionalAttributes`` is documented as unstable
and never read. The trigger list is ``gcloud builds triggers list --format=json``.

Both files are checked against their typed models (``Inventory``, ``Triggers``); a malformed
one is an ``infra.errors.InputError`` naming the file, the entry, the field and the value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, RootModel, StringConstraints

from infra.input_files import STRICT, STRICT_ROOT, document_error, read_json, validated
from infra.live.rest_config import MIRRORED_VERSION

NAME_RE = re.compile(r"^//(?P<host>[a-z0-9.-]+\.googleapis\.com)/(?P<path>.+)$")
LOCATION_RE = re.compile(r"/locations/(?P<location>[^/]+)(?=/)")
PROJECT_NUMBER_RE = re.compile(r"^projects/(?P<number>\d+)$")


INVENTORY_HINT = "run `make inventory ENV=<env>` or pass the recorded file"


def _relative(name: str) -> str:
    """A full resource name without ``//<host>/``; the name itself when it is not one."""
    m = NAME_RE.match(name)
    return m.group("path") if m else name


def _full_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise ValueError("expected a full resource name //<service>.googleapis.com/...")
    return name


@dataclass(frozen=True)
class Live:
    """One live resource from the inventory."""

    name: str
    """Full resource name, ``//pubsub.googleapis.com/projects/P/topics/T``."""
    asset_type: str
    """Cloud Asset's type, ``pubsub.googleapis.com/Topic``."""
    path: str
    """The name without ``//<host>/``, its ``locations/<l>/`` segment removed and the project
    number replaced by the project id, so it compares with a declared resource's path."""
    short: str
    """The last segment: the resource's own name."""
    location: str
    """The inventory's ``location``, else the name's ``locations/<l>`` segment, else ``global``."""
    display_name: str = ""
    """What matches resources whose id Google assigns (alert policies, notification channels)."""
    description: str = ""
    state: str = ""
    """The inventory's ``state`` (``ENABLED``/``DISABLED`` for an API); empty when it has none."""
    resource: Mapping[str, Any] = field(default_factory=dict)
    """The ``versionedResources[].resource`` in the version the type's Terraform resource
    mirrors (``MIRRORED_VERSION``), else the newest (``{}`` when the inventory has none)."""
    foreign: bool = False
    """It belongs to another project than the env's (an inventory searched wider): never
    adopted, never reported, never deleted from the env's project."""
    resource_version: str = ""
    """The version of ``resource`` (``""`` when there is none)."""

    @property
    def relative_name(self) -> str:
        """The API's own resource name: the full name without ``//<host>/``."""
        return _relative(self.name)


@dataclass(frozen=True)
class BuildTrigger:
    """One Cloud Build trigger (``gcloud builds triggers list`` JSON, camelCase)."""

    name: str
    location: str
    """The ``locations/<l>`` of its ``resourceName``; ``global`` when it names none."""
    body: Mapping[str, Any]
    """The trigger's whole JSON object as listed, read leniently by ``texts``."""

    def texts(self) -> list[tuple[str, str]]:
        """(where, text) for every place a trigger can name what it deploys; a field of an
        unexpected type (a hand-edited file) is skipped, never split into characters."""
        b = self.body
        out: list[tuple[str, str]] = [("name", self.name)]
        for key in ("description", "filename"):
            out += [(key, v) for v in _strings(b.get(key))]
        out += [("includedFiles", v) for v in _strings(b.get("includedFiles"))]
        subs = b.get("substitutions")
        if isinstance(subs, Mapping):
            out += [(f"substitutions.{k}", str(v)) for k, v in sorted(subs.items())]
        git_source = b.get("gitFileSource")
        if isinstance(git_source, Mapping):
            out += [("gitFileSource.path", v) for v in _strings(git_source.get("path"))]
        build = b.get("build")
        steps = build.get("steps") if isinstance(build, Mapping) else None
        for i, step in enumerate(steps if isinstance(steps, list) else []):
            if not isinstance(step, Mapping):
                continue
            # ``env`` too: an inline step may name the function only there
            # (``FUNCTION=phase3-to-phase4-orchestrator`` read by ``gcloud ... $$FUNCTION``).
            parts = [*_strings(step.get("entrypoint")), *_strings(step.get("args")),
                     *_strings(step.get("script")), *_strings(step.get("env"))]
            out.append((f"build.steps[{i}]", " ".join(p for p in parts if p)))
        return out


def _strings(value: Any) -> list[str]:
    """A string field as ``[value]``, a list field as its strings, anything else ``[]``."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []


class VersionedResource(BaseModel):
    """One ``versionedResources`` item: a representation of the resource in one API version."""

    model_config = STRICT

    version: str = ""
    resource: dict[str, Any] | None = None


class InventoryEntry(BaseModel):
    """One ResourceSearchResult as ``gcloud asset search-all-resources --format=json`` prints
    it (camelCase); the documented stable fields adoption reads."""

    model_config = STRICT

    name: Annotated[str, AfterValidator(_full_name)]
    asset_type: Annotated[str, StringConstraints(min_length=1)] = Field(alias="assetType")
    project: str = ""
    location: str = ""
    display_name: str = Field(default="", alias="displayName")
    description: str = ""
    state: str = ""
    versioned_resources: list[VersionedResource] | None = Field(
        default=None, alias="versionedResources")


def _json_list(of: str) -> BeforeValidator:
    """The check that a file is a JSON list (``of`` says of what and how it is made) before
    its entries are read: anything else is said so in one line, not field by field."""

    def check(data: Any) -> Any:
        if not isinstance(data, list):
            raise document_error(f"expected a JSON list of {of}, got {type(data).__name__}")
        return data

    return BeforeValidator(check)


class Inventory(RootModel[Annotated[list[InventoryEntry], _json_list(
        "ResourceSearchResult objects (gcloud asset search-all-resources --format=json)")]]):
    """The inventory file: a JSON list of ResourceSearchResult objects."""

    model_config = STRICT_ROOT


class TriggerEntry(BaseModel):
    """One build trigger as ``gcloud builds triggers list --format=json`` prints it; only the
    name and where it lives are checked, the rest is read leniently (``BuildTrigger.texts``)."""

    model_config = STRICT

    name: str
    resource_name: str | None = Field(default=None, alias="resourceName")


class Triggers(RootModel[Annotated[list[TriggerEntry], _json_list(
        "build triggers (gcloud builds triggers list --format=json)")]]):
    """The trigger list file: a JSON list of build triggers."""

    model_config = STRICT_ROOT


def _mirrored_resource(entry: InventoryEntry) -> tuple[str, Mapping[str, Any]]:
    """(version, resource) of the representation adoption reads: the one in the API version
    the type's Terraform resource mirrors (``MIRRORED_VERSION``, recorded by ``make
    inventory``), else the newest version; ``("", {})`` when there is none."""
    resources = [v for v in entry.versioned_resources or () if v.resource is not None]
    if not resources:
        return "", {}
    mirrored = MIRRORED_VERSION.get(entry.asset_type)
    preferred = [v for v in resources if mirrored is not None and v.version == mirrored]
    picked = preferred[-1] if preferred else sorted(resources, key=lambda v: v.version)[-1]
    return picked.version, picked.resource or {}


def parse_inventory(data: Any, path: Path, project: str) -> list[Live]:
    """The inventory's resources (``Inventory``); ``InputError`` naming the file, the entry,
    the field and the value when malformed."""
    entries = validated(Inventory, data, path).root
    numbers = _project_numbers(entries, project)
    out: list[Live] = []
    for entry in entries:
        raw = _relative(entry.name)
        loc = LOCATION_RE.search(raw)
        norm = LOCATION_RE.sub("", raw)
        for number in numbers:
            norm = re.sub(rf"^projects/{number}(?=/|$)", f"projects/{project}", norm)
        location = entry.location or (loc.group("location") if loc else "global")
        version, resource = _mirrored_resource(entry)
        owner = re.match(r"^projects/([^/]+)", norm)
        named_by_number = PROJECT_NUMBER_RE.match(entry.project)
        foreign = (owner is not None and owner.group(1) != project) or (
            owner is None and named_by_number is not None
            and named_by_number.group("number") not in numbers)
        out.append(Live(
            name=entry.name, asset_type=entry.asset_type, path=norm, foreign=foreign,
            short=raw.rsplit("/", 1)[-1], location=location, display_name=entry.display_name,
            description=entry.description, state=entry.state, resource=resource,
            resource_version=version,
        ))
    return out


def _project_numbers(entries: Sequence[InventoryEntry], project: str) -> set[str]:
    """The numbers of ``project``: the ``project`` of entries named under its id, or, when
    none is, the one number every entry has (an inventory of one project named by number)."""
    ours: set[str] = set()
    seen: set[str] = set()
    for entry in entries:
        m = PROJECT_NUMBER_RE.match(entry.project)
        if not m:
            continue
        seen.add(m.group("number"))
        if f"/projects/{project}/" in f"{entry.name}/":
            ours.add(m.group("number"))
    return ours or (seen if len(seen) == 1 else set())


def load_inventory(path: Path, project: str) -> list[Live]:
    """The recorded inventory ``path`` (``make inventory`` writes it); ``InputError``."""
    return parse_inventory(read_json(path, INVENTORY_HINT), path, project)


def parse_triggers(data: Any, path: Path) -> list[BuildTrigger]:
    """The trigger list (``Triggers``); ``InputError`` naming the file, the entry and the
    field when malformed. Each trigger keeps its whole JSON object as ``body``."""
    entries = validated(Triggers, data, path).root
    out = []
    for entry, body in zip(entries, data, strict=True):
        m = re.search(r"/locations/([^/]+)/", entry.resource_name or "")
        out.append(BuildTrigger(entry.name, m.group(1) if m else "global", body))
    return out


def load_triggers(path: Path | None) -> list[BuildTrigger]:
    """The recorded trigger list ``path``; none without a file."""
    return [] if path is None else parse_triggers(read_json(path, INVENTORY_HINT), path)


def mentions(text: str, tokens: Sequence[str]) -> list[str]:
    """The tokens ``text`` names as whole words (``phase3_to_phase4`` in ``a/phase3_to_phase4/**``
    yes, ``canary`` in ``canaryx`` no); case-insensitive."""
    low = text.lower()
    return [t for t in tokens
            if re.search(rf"(?<![a-z0-9]){re.escape(t.lower())}(?![a-z0-9])", low)]
