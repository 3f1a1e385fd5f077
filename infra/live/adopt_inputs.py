"""Read the recorded inventory and Cloud Build trigger list adoption works from.

The inventory is what ``gcloud asset search-all-resources --scope=projects/P --format=json``
(or ``make inventory``) returns: a JSON list of ResourceSearchResult objects. Only the
documented stable fields are read: ``name``, ``assetType``, ``project``, ``location``,
``displayName``, ``description``, ``state`` and, when present, ``versionedResources`` (each
resource as its API version returns it). ``additionalAttributes`` is documented as unstable
and never read. The trigger list is ``gcloud builds triggers list --format=json``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.live.rest_config import MIRRORED_VERSION

NAME_RE = re.compile(r"^//(?P<host>[a-z0-9.-]+\.googleapis\.com)/(?P<path>.+)$")
LOCATION_RE = re.compile(r"/locations/(?P<location>[^/]+)(?=/)")
PROJECT_NUMBER_RE = re.compile(r"^projects/(?P<number>\d+)$")


class InputError(ValueError):
    """An input file that cannot be read; the message names the file and why."""


@dataclass(frozen=True)
class Live:
    """One live resource from the inventory."""

    name: str
    """Full resource name, ``//pubsub.googleapis.com/projects/P/topics/T``."""
    asset_type: str
    path: str
    """The name without ``//<host>/``, its ``locations/<l>/`` segment removed and the project
    number replaced by the project id, so it compares with a declared resource's path."""
    short: str
    """The last segment: the resource's own name."""
    location: str
    display_name: str = ""
    description: str = ""
    state: str = ""
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
        m = NAME_RE.match(self.name)
        return m.group("path") if m else self.name


@dataclass(frozen=True)
class BuildTrigger:
    """One Cloud Build trigger (``gcloud builds triggers list`` JSON, camelCase)."""

    name: str
    location: str
    body: Mapping[str, Any]

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


def _read_json(path: Path, what: str) -> Any:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"{path}: no such {what} file; run `make inventory ENV=<env>` or "
                         "pass the recorded file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: the {what} is not valid JSON (line {exc.lineno}: "
                         f"{exc.msg})") from exc


def _newest_resource(entry: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """(version, resource) of the representation adoption reads: the one in the API version
    the type's Terraform resource mirrors (``MIRRORED_VERSION``, recorded by ``make
    inventory``), else the newest version; ``("", {})`` when there is none."""
    versioned = entry.get("versionedResources")
    if not isinstance(versioned, list):
        return "", {}
    resources = [v for v in versioned if isinstance(v, Mapping)
                 and isinstance(v.get("resource"), Mapping)]
    if not resources:
        return "", {}
    mirrored = MIRRORED_VERSION.get(str(entry.get("assetType")))
    preferred = [v for v in resources if mirrored is not None and v.get("version") == mirrored]
    picked = preferred[-1] if preferred else sorted(
        resources, key=lambda v: str(v.get("version", "")))[-1]
    return str(picked.get("version", "")), picked["resource"]


def parse_inventory(data: Any, path: Path, project: str) -> list[Live]:
    """The inventory's resources; ``InputError`` naming the file and entry when malformed."""
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of ResourceSearchResult objects "
                         f"(gcloud asset search-all-resources --format=json), got "
                         f"{type(data).__name__}")
    for i, entry in enumerate(data):
        if not isinstance(entry, Mapping):
            raise InputError(f"{path}: entry [{i}] is not an object")
        for key in ("name", "assetType"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise InputError(f"{path}: entry [{i}] has no string {key!r}")
    numbers = _project_numbers(data, project)
    out: list[Live] = []
    for i, entry in enumerate(data):
        m = NAME_RE.match(entry["name"])
        if not m:
            raise InputError(f"{path}: entry [{i}] name {entry['name']!r} is not a full "
                             "resource name (//<service>.googleapis.com/...)")
        raw = m.group("path")
        loc = LOCATION_RE.search(raw)
        norm = LOCATION_RE.sub("", raw)
        for number in numbers:
            norm = re.sub(rf"^projects/{number}(?=/|$)", f"projects/{project}", norm)
        location = str(entry.get("location") or (loc.group("location") if loc else "global"))
        version, resource = _newest_resource(entry)
        owner = re.match(r"^projects/([^/]+)", norm)
        number = PROJECT_NUMBER_RE.match(str(entry.get("project", "")))
        foreign = (owner is not None and owner.group(1) != project) or (
            owner is None and number is not None and number.group("number") not in numbers)
        out.append(Live(
            name=entry["name"], asset_type=entry["assetType"], path=norm, foreign=foreign,
            short=raw.rsplit("/", 1)[-1], location=location,
            display_name=str(entry.get("displayName") or ""),
            description=str(entry.get("description") or ""),
            state=str(entry.get("state") or ""), resource=resource, resource_version=version,
        ))
    return out


def _project_numbers(data: Sequence[Mapping[str, Any]], project: str) -> set[str]:
    """The numbers of ``project``: the ``project`` of entries named under its id, or, when
    none is, the one number every entry has (an inventory of one project named by number)."""
    ours: set[str] = set()
    seen: set[str] = set()
    for entry in data:
        m = PROJECT_NUMBER_RE.match(str(entry.get("project", "")))
        if not m:
            continue
        seen.add(m.group("number"))
        if f"/projects/{project}/" in f"{entry['name']}/":
            ours.add(m.group("number"))
    return ours or (seen if len(seen) == 1 else set())


def load_inventory(path: Path, project: str) -> list[Live]:
    return parse_inventory(_read_json(path, "inventory"), path, project)


def parse_triggers(data: Any, path: Path) -> list[BuildTrigger]:
    """The trigger list; ``InputError`` naming the file and entry when malformed."""
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON list of build triggers (gcloud builds "
                         f"triggers list --format=json), got {type(data).__name__}")
    out = []
    for i, entry in enumerate(data):
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            raise InputError(f"{path}: trigger [{i}] is not an object with a string 'name'")
        m = re.search(r"/locations/([^/]+)/", str(entry.get("resourceName") or ""))
        out.append(BuildTrigger(entry["name"], m.group(1) if m else "global", entry))
    return out


def load_triggers(path: Path | None) -> list[BuildTrigger]:
    return [] if path is None else parse_triggers(_read_json(path, "trigger list"), path)


def mentions(text: str, tokens: Sequence[str]) -> list[str]:
    """The tokens ``text`` names as whole words (``phase3_to_phase4`` in ``a/phase3_to_phase4/**``
    yes, ``canary`` in ``canaryx`` no); case-insensitive."""
    low = text.lower()
    return [t for t in tokens
            if re.search(rf"(?<![a-z0-9]){re.escape(t.lower())}(?![a-z0-9])", low)]
