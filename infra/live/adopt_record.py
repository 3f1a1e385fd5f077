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
adoption.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from infra.paths import REPO_ROOT

ADOPTION_DIR = REPO_ROOT / "infra" / "adoption"
RECORD_VERSION = 2


class RecordError(ValueError):
    """An adoption record that cannot be used; the message names the file and the field."""


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


def load_imports(env: str, project: str, adoption_dir: Path = ADOPTION_DIR) -> Mapping[str, str]:
    """Address → import id from ``<adoption_dir>/<env>.json``; empty when there is no file.

    Raises ``RecordError`` naming the file and the field when it is unreadable, names another
    project or env, or lists an address twice.
    """
    return load_record(env, project, adoption_dir).imports


def load_record(env: str, project: str, adoption_dir: Path = ADOPTION_DIR) -> Record:
    """The whole record of ``env`` (imports, kept values, live services); an empty ``Record``
    when there is no file. ``RecordError`` names the file and the field when it is unusable;
    a record of version 1 (imports only) is read as such."""
    path = record_path(env, adoption_dir)
    if not path.is_file():
        return Record()
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RecordError(f"{path}: not readable JSON ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("imports"), list):
        raise RecordError(f"{path}: expected an object with an 'imports' list; re-run "
                          "`make adopt`")
    for key, want in (("env", env), ("project", project)):
        if data.get(key) != want:
            raise RecordError(f"{path}: {key} is {data.get(key)!r}, expected {want!r}")
    imports: dict[str, str] = {}
    for i, entry in enumerate(data["imports"]):
        address = entry.get("address") if isinstance(entry, dict) else None
        import_id = entry.get("import_id") if isinstance(entry, dict) else None
        if not isinstance(address, str) or not isinstance(import_id, str) or not import_id:
            raise RecordError(f"{path}: imports[{i}] needs a string address and import_id")
        if address in imports:
            raise RecordError(f"{path}: imports[{i}].address {address} is listed twice")
        imports[address] = import_id
    kept: dict[str, dict[str, object]] = {}
    for i, entry in enumerate(data.get("kept") or []):
        address = entry.get("address") if isinstance(entry, dict) else None
        attribute = entry.get("attribute") if isinstance(entry, dict) else None
        if not isinstance(address, str) or not isinstance(attribute, str) or "value" not in entry:
            raise RecordError(f"{path}: kept[{i}] needs a string address, a string attribute "
                              "and a value")
        if address not in imports:
            raise RecordError(f"{path}: kept[{i}].address {address} is not imported; re-run "
                              "`make adopt`")
        if attribute in kept.setdefault(address, {}):
            raise RecordError(f"{path}: kept[{i}] {address} {attribute} is listed twice")
        kept[address][attribute] = entry["value"]
    services = data.get("services") or {}
    if not isinstance(services, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in services.items()):
        raise RecordError(f"{path}: services must map function addresses to service names")
    return Record(imports, kept, dict(services))
