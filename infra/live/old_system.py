"""What of the old system still runs on the live project: verify's cut-over checks.

Reads the project's resources (Cloud Asset ``search_all_resources``) and its Cloud Build
triggers (``list_build_triggers``, global and the env's region) through
``infra.live.inventory.InventoryReader``, the reader ``make inventory`` records with, and
applies adoption's findings to them: ``removed_but_live`` and ``deploy_paths`` in
``infra.live.adopt_findings`` decide, word for word, what the adoption report lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from infra.errors import InputError
from infra.live.adopt_findings import Finding, deploy_paths, removed_but_live
from infra.live.adopt_inputs import parse_inventory, parse_triggers
from infra.live.adopt_match import owned
from infra.live.inventory import CannotRead, InventoryReader
from infra.model.envs import EnvConfig
from infra.model.manifest import Manifest
from infra.model.naming import Names, cloud_names


@dataclass(frozen=True)
class OldSystem:
    """The live project's leftovers of the old system (see the module docstring)."""

    resources: int
    """How many live resources were read."""
    triggers: int
    """How many build triggers were read."""
    removed: tuple[Finding, ...]
    """Removed but live, in deletion order."""
    second_deploy: tuple[Finding, ...]
    """Build triggers deploying a function this repo owns."""
    release_paths: tuple[Finding, ...]
    """Build triggers releasing a service image (information)."""


def read_old_system(manifest: Manifest, env: EnvConfig, reader: InventoryReader) -> OldSystem:
    """Read ``env``'s project through ``reader``; ``CannotRead`` (one line) when it cannot."""
    resources, found = reader.read(env)
    source = Path(f"<Cloud Asset inventory of {env.project_id}>")
    try:
        lives = parse_inventory(resources, source, env.project_id)
        triggers = parse_triggers(found, Path(f"<Cloud Build triggers of {env.project_id}>"))
    except InputError as err:
        raise CannotRead(str(err)) from err
    lives = [x for x in lives if not x.foreign]
    names = Names(env)
    # A live resource under a declared cloud name is the declared one, never a leftover.
    declared = {n for entries in cloud_names(manifest, env).values() for _, n in entries}
    declared_live = {x.name for x in lives if x.short in declared}
    removed = removed_but_live(manifest, names, lives, owned(lives, ()), triggers, declared_live)
    second, release = deploy_paths(manifest, names, triggers)
    return OldSystem(len(lives), len(triggers), tuple(removed), tuple(second), tuple(release))
