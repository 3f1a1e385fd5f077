"""The adoption record ``infra/adoption/<env>.json``: which declared resources already exist.

``python -m infra.adopt`` writes it (reviewed and committed like code); the synth reads it and
gives each listed address a Terraform ``import`` block. No file, or no entries: no imports,
and the stack is exactly what it would be without adoption.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from infra.paths import REPO_ROOT

ADOPTION_DIR = REPO_ROOT / "infra" / "adoption"
RECORD_VERSION = 1


class RecordError(ValueError):
    """An adoption record that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Import:
    """One declared resource that exists live: Terraform takes it over instead of creating it."""

    address: str
    type: str
    import_id: str
    live_name: str


def record_path(env: str, adoption_dir: Path = ADOPTION_DIR) -> Path:
    return adoption_dir / f"{env}.json"


def inventory_path(env: str, adoption_dir: Path = ADOPTION_DIR) -> Path:
    return adoption_dir / f"{env}.inventory.json"


def triggers_path(env: str, adoption_dir: Path = ADOPTION_DIR) -> Path:
    return adoption_dir / f"{env}.triggers.json"


def render_record(env: str, project: str, imports: Sequence[Import]) -> str:
    """The record's JSON text: stable order, one import per entry, trailing newline."""
    body = {
        "version": RECORD_VERSION,
        "env": env,
        "project": project,
        "imports": [asdict(i) for i in sorted(imports, key=lambda i: i.address)],
    }
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def load_imports(env: str, project: str, adoption_dir: Path = ADOPTION_DIR) -> Mapping[str, str]:
    """Address → import id from ``<adoption_dir>/<env>.json``; empty when there is no file.

    Raises ``RecordError`` naming the file and the field when it is unreadable, names another
    project or env, or lists an address twice.
    """
    path = record_path(env, adoption_dir)
    if not path.is_file():
        return {}
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
    return imports
