"""The first-plan review: the adoption record's announced changes and kept values, and, for
every imported resource a plan updates in place, the attributes it changes, each checked
against the announcements (rendered by ``infra.terraform.plan_summary``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.errors import InputError
from infra.model.adoption import ADOPTION_DIR, Steps, record_path
from infra.model.adoption_file import AttributeEntry, KeptEntry, read_record
from infra.paths import REPO_ROOT, stack_name
from infra.terraform.drift import code
from infra.terraform.plan_json import (
    AttrChange,
    AttrPath,
    Plan,
    ResourceChange,
    diff_values,
    marked,
    value_at,
)

NOT_ANNOUNCED = "not announced by the adoption report"

DERIVED_MAPS = {"terraform_labels": "labels", "effective_labels": "labels",
                "effective_annotations": "annotations"}
"""Top-level maps the google provider fills from another (``labels`` plus provider defaults;
every label on the object): a key changed there is announced when the same key of the map it
comes from is (an announced ``labels`` covers ``effective_labels.component``)."""

WRITE_ONLY_SUFFIX = "_wo"
"""Write-only arguments (Terraform 1.11+) end in `_wo`; never shown, whatever the plan says."""


@dataclass(frozen=True)
class Adoption:
    """What the adoption record announced; ``found`` False when there is no record.

    ``source``: the record as the summary names it ("" when none could be named);
    ``changes``: the first-apply changes the adoption report announced; ``kept``: attributes
    whose live value the stack keeps; ``note``: one sentence for the summary when there is no
    record or no ``changes`` list.
    """

    source: str
    found: bool
    changes: tuple[AttributeEntry, ...] = ()
    kept: tuple[KeptEntry, ...] = ()
    note: str = ""


NO_RECORD = Adoption(source="", found=False, note="No adoption record was given")


def plan_env(plan_path: str | Path) -> str | None:
    """The env of a plan JSON in a stack folder ``.../pipeline-<env>/``; None elsewhere."""
    folder = Path(plan_path).resolve().parent.name
    env = folder.removeprefix(stack_name(""))
    return env if env and stack_name(env) == folder else None


def shown(path: Path) -> str:
    """A path relative to the repository when it is inside it, as the summary names it."""
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(path)


def find_adoption(plan_path: str | Path, option: str | None,
                  adoption_dir: Path = ADOPTION_DIR) -> Adoption:
    """The record ``--adoption`` names (it must exist), else ``<adoption_dir>/<env>.json`` for
    a plan in ``pipeline-<env>``; an ``Adoption`` with ``found`` False when there is none.

    Raises ``InputError`` for a record that cannot be read or is malformed.
    """
    env = plan_env(plan_path)
    if option is not None:
        return load_adoption(Path(option), option, env)
    if env is None:
        return Adoption(source="", found=False, note=(
            f"No adoption record: {code(str(plan_path))} is not in a stack folder "
            f"{code(stack_name('<env>'))} and no `--adoption FILE` was given"))
    path = record_path(env, adoption_dir)
    if not path.is_file():
        return Adoption(source=shown(path), found=False,
                        note=f"No adoption record {code(shown(path))}")
    return load_adoption(path, shown(path), env)


def load_adoption(path: Path, source: str, env: str | None = None) -> Adoption:
    """Read and check an adoption record (``infra.model.adoption_file.RecordFile``); ``InputError``
    names the file, the field and the value.

    ``env``: the plan's env when known; a record for another env is refused.
    """
    record = read_record(path, source)
    if env is not None and record.env is not None and record.env != env:
        raise InputError(source, f"the plan is of {stack_name(env)}; pass the record of "
                                 f"{json.dumps(env)}, found {json.dumps(record.env)}",
                         field="env")
    note = "" if record.changes is not None else (
        f"Adoption record {code(source)} has no `changes` list (written before version 2)")
    return Adoption(source=source, found=True, changes=tuple(record.changes or ()),
                    kept=tuple(record.kept), note=note)


def covers(steps: Steps, path: AttrPath) -> bool:
    """Whether a record path names ``path`` or a block above it (a prefix at a dot boundary).

    A nested block Terraform writes as a one-item list (`push_config[0]`) may be named
    without its index: `push_config.oidc_token` covers `push_config.0.oidc_token.0.audience`.
    Only index 0 is skipped that way; any other item must be named.
    """
    position = 0
    for step in steps:
        while (position < len(path) and str(path[position]) != str(step)
               and isinstance(path[position], int) and path[position] == 0):
            position += 1
        if position >= len(path) or str(path[position]) != str(step):
            return False
        position += 1
    return True


# --- the first-plan review -------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewedChange:
    """One attribute an imported resource's first apply changes, and who announced it."""

    address: str
    """The imported resource's Terraform address."""
    change: AttrChange
    """The attribute that differs or is known only after apply; a write-only one (``_wo``) is
    marked sensitive (``attribute_changes``)."""
    announced_by: str
    """The record's attribute that announced it; "" when none did."""
    kept: KeptEntry | None = None
    """A `kept` entry of the record covering it: the report said the live value stays."""

    @property
    def attribute(self) -> str:
        return dotted(self.change.path)


@dataclass(frozen=True)
class FirstPlanReview:
    """The imported resources a plan updates in place, each changed attribute, the record."""

    adoption: Adoption
    """The record the changes were checked against (``found`` False when there was none)."""
    updated: tuple[str, ...]
    """Sorted addresses of the imported resources the plan updates in place (actions exactly
    ``update``; a replacement is not reviewed here)."""
    changes: tuple[ReviewedChange, ...]
    """Every changed attribute of those resources, by address, then in path order."""

    @property
    def unannounced(self) -> tuple[ReviewedChange, ...]:
        return tuple(c for c in self.changes if not c.announced_by)

    @property
    def silent(self) -> tuple[str, ...]:
        """Updated resources whose plan JSON shows no differing attribute."""
        changed = {c.address for c in self.changes}
        return tuple(a for a in self.updated if a not in changed)


def dotted(path: AttrPath) -> str:
    """A path as the adoption record writes it: dots, list indices as numbers."""
    return ".".join(str(step) for step in path)


def attribute_changes(rc: ResourceChange) -> list[AttrChange]:
    """Every attribute that differs between ``before`` and ``after``, plus every one Terraform
    marks unknown, in path order; sensitive and write-only values are marked ``sensitive``."""
    changes = diff_values(rc.before, rc.after, after_unknown=rc.after_unknown,
                          before_sensitive=rc.before_sensitive,
                          after_sensitive=rc.after_sensitive)
    seen = [c.path for c in changes]
    for path in _true_paths(rc.after_unknown):
        # `after` leaves unknown values out; one absent from `before` too is found here.
        if not any(path[: len(p)] == p for p in seen):
            sensitive = marked(rc.before_sensitive, path) or marked(rc.after_sensitive, path)
            changes.append(AttrChange(path, value_at(rc.before, path), None,
                                      sensitive=sensitive, unknown=True))
    masked = [
        AttrChange(c.path, c.before, c.after, sensitive=True, unknown=c.unknown)
        if not c.sensitive and _write_only(c.path) else c
        for c in changes
    ]
    return sorted(masked, key=lambda c: _path_key(c.path))


def _write_only(path: AttrPath) -> bool:
    return any(isinstance(step, str) and step.endswith(WRITE_ONLY_SUFFIX) for step in path)


def _true_paths(tree: Any, path: AttrPath = ()) -> Iterator[AttrPath]:
    """Paths marked ``true`` in an ``after_unknown`` tree (a whole subtree stops there)."""
    if tree is True:
        yield path
    elif isinstance(tree, dict):
        for key in sorted(tree):
            yield from _true_paths(tree[key], (*path, key))
    elif isinstance(tree, list):
        for index, item in enumerate(tree):
            yield from _true_paths(item, (*path, index))


def _path_key(path: AttrPath) -> tuple[tuple[int, int, str], ...]:
    """Sort key for paths mixing names and indices: indices in number order."""
    return tuple((1, step, "") if isinstance(step, int) else (0, 0, step) for step in path)


def review_first_plan(plan: Plan, imports: frozenset[str], adoption: Adoption) -> FirstPlanReview:
    """Check every changed attribute of every imported resource updated in place against the
    changes the adoption record announced for its address."""
    updated = sorted((rc for rc in plan.resource_changes
                      if rc.address in imports and rc.actions == ("update",)),
                     key=lambda rc: rc.address)
    reviewed = []
    for rc in updated:
        announced = [a for a in adoption.changes if a.address == rc.address]
        kept = [k for k in adoption.kept if k.address == rc.address]
        for change in attribute_changes(rc):
            paths = [change.path]
            if change.path and change.path[0] in DERIVED_MAPS:
                paths.append((DERIVED_MAPS[str(change.path[0])], *change.path[1:]))
            by = next((a.attribute for path in paths for a in announced
                       if covers(a.steps, path)), "")
            keeper = next((k for k in kept if covers(k.steps, change.path)), None)
            reviewed.append(ReviewedChange(rc.address, change, by, keeper))
    return FirstPlanReview(adoption, tuple(rc.address for rc in updated), tuple(reviewed))


# --- the summary -----------------------------------------------------------------------------
