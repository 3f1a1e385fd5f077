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
review (``infra.terraform.first_plan``) read it, so it sits below all three. The file's typed
model and its reader are ``infra.model.adoption_file`` (pydantic), which a synthesis imports
only when a record exists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

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
