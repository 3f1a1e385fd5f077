"""Shared helpers for reading `terraform show -json PLANFILE` output.

`load_plan`/`parse_plan` validate the document against its typed model
(``infra.terraform.plan_model``) and keep what the lifecycle tools use as a frozen `Plan`;
the rest are the pure helpers they share on attribute paths, diffs and values.

Everything here is pure except `load_plan`, which reads one file. Errors are
``infra.errors.InputError``, one line naming the file, the field path and the value found.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.input_files import Location, field_path, read_json, validated
from infra.terraform.plan_model import (
    ConfigModule,
    Configuration,
    OutputChangeEntry,
    PlanDocument,
    ResourceChangeEntry,
)

# Terraform attribute paths: names for object attributes and map keys, ints for list items.
AttrPath = tuple[str | int, ...]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_PATH_TOKEN = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')
_INSTANCE_KEY = re.compile(r'\[(?:\d+|"(?:[^"\\]|\\.)*")\]')

SENSITIVE = "(sensitive)"
UNKNOWN = "(known after apply)"
ABSENT = "(absent)"


@dataclass(frozen=True)
class ResourceChange:
    """One entry of `resource_changes` or `resource_drift`."""

    address: str
    """The instance address, module path and instance key included
    (``google_pubsub_subscription.phase3_analytics_sub__subscription``)."""
    resource_type: str
    """Terraform type, ``google_pubsub_subscription``."""
    name: str
    """The configured name, ``<component>__<part>`` in these stacks (see ``component``)."""
    mode: str
    """``managed`` or ``data`` (``managed`` when the entry omits it)."""
    actions: tuple[str, ...]
    """Terraform's action list (``("delete", "create")``); ``action`` says it in one word."""
    before: Any
    """The object as the state had it; ``None`` when it did not exist (a create)."""
    after: Any
    """The object as planned (as found live, in a drift entry); ``None`` after a delete. Values
    known only after apply are missing here and marked in ``after_unknown``."""
    after_unknown: Any
    """A tree shaped like ``after`` with ``true`` at each value known only after apply
    (a leaf or a whole subtree, see ``marked``)."""
    before_sensitive: Any
    """A tree shaped like ``before`` with ``true`` at each sensitive value (likewise
    ``after_sensitive``); such values are never rendered."""
    after_sensitive: Any
    action_reason: str | None
    """Terraform's reason for the action (``replace_because_cannot_update``); ``None``: none given."""
    replace_paths: tuple[AttrPath, ...]
    """The attributes whose change forces the replacement; empty unless it is one."""
    previous_address: str | None
    """The address before a ``moved`` block renamed it; ``None`` when it did not move."""
    importing: bool = False
    """The change imports the object (``change.importing``, Terraform 1.5+)."""

    @property
    def action(self) -> str:
        """The action as one word: create, update, replace, delete, no-op, read, forget."""
        return action_word(self.actions)

    @property
    def component(self) -> str:
        """Pipeline component key (see `component_of`)."""
        return component_of(self.name)

    @property
    def config_address(self) -> str:
        """The address without instance keys, as used in the `configuration` block."""
        return config_address(self.address)

    def value(self, attribute: str) -> Any:
        """`attribute` from `before`, else from `after`; None when neither has it."""
        for side in (self.before, self.after):
            if isinstance(side, dict) and side.get(attribute) is not None:
                return side[attribute]
        return None


@dataclass(frozen=True)
class OutputChange:
    """One entry of `output_changes`."""

    name: str
    """The output's name; the drift review mutes a changed output as ``output.<name>``."""
    actions: tuple[str, ...]
    """Terraform's action list, as in ``ResourceChange.actions``."""
    sensitive: bool
    """Either side is marked sensitive (wholly or in part): its values are never shown."""
    after: Any = None
    """The planned value; ``None`` when unknown or deleted (see ``after_unknown``)."""
    after_unknown: Any = None
    """``true`` (or a tree with ``true``) where the value is known only after apply."""
    after_sensitive: Any = None
    """``true`` (or a tree with ``true``) where the planned value is sensitive."""

    @property
    def action(self) -> str:
        """The action as one word (see `action_word`)."""
        return action_word(self.actions)


@dataclass(frozen=True)
class Plan:
    """The parts of a plan JSON the lifecycle tools use."""

    source: str
    """Where the plan was read from (``load_plan``: the file's path); the reports' title names it."""
    format_version: str
    """The JSON output format's version, any ``1.x`` (Terraform 1.6+ writes ``"1.2"``)."""
    terraform_version: str
    """The Terraform that wrote the plan (``"1.9.8"``); ``"unknown"`` when the plan omits it."""
    resource_drift: tuple[ResourceChange, ...]
    """Changes made outside Terraform, found when it refreshed the state."""
    resource_changes: tuple[ResourceChange, ...]
    """Every planned resource change, no-ops included; none in a refresh-only plan."""
    output_changes: tuple[OutputChange, ...]
    """Sorted by output name."""
    references: Mapping[str, frozenset[str]]
    """Configuration address (no instance keys, module calls as ``module.<name>.``) → every
    address its expressions reference; how an IAM member is tied to its target."""
    errored: bool
    """Terraform's ``errored``: planning stopped on an error, so the changes may be incomplete."""

    @property
    def imports(self) -> frozenset[str]:
        """Addresses the plan imports (``change.importing``)."""
        return frozenset(rc.address for rc in self.resource_changes if rc.importing)

    @property
    def kind(self) -> str:
        """ "refresh-only" without resource_changes, else "normal" (with or without changes)."""
        if not self.resource_changes:
            return "refresh-only"
        if all(rc.action in ("no-op", "read") for rc in self.resource_changes):
            return "normal, nothing to change"
        return "normal"


@dataclass(frozen=True)
class AttrChange:
    """One leaf (or masked subtree) that differs between `before` and `after`."""

    path: AttrPath
    """Steps from the resource's root: ``("template", 0, "containers", 0, "image")``, written
    ``template[0].containers[0].image`` by ``format_path``."""
    before: Any
    """The value on each side (likewise ``after``), the whole subtree when it is masked;
    ``None`` where that side has nothing."""
    after: Any
    sensitive: bool = False
    """Marked sensitive on either side: a report shows ``(sensitive)``, never the value."""
    unknown: bool = False
    """``after`` is known only after apply (a report shows ``(known after apply)``)."""


def action_word(actions: tuple[str, ...]) -> str:
    """Collapse Terraform's action list into one word; delete+create in any order is replace."""
    if set(actions) == {"delete", "create"}:
        return "replace"
    if len(actions) == 1:
        return actions[0]
    return "+".join(actions) if actions else "no-op"


def component_of(name: str) -> str:
    """Component key of a resource name `<component>__<part>`; "shared" without `__`."""
    component, sep, _part = name.partition("__")
    return component if sep and component else "shared"


def config_address(address: str) -> str:
    """Strip instance keys (`[0]`, `["a"]`) so an instance address matches its config block."""
    return _INSTANCE_KEY.sub("", address)


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan JSON file; ``InputError`` saying why it is unusable."""
    return parse_plan(read_json(path), str(path))


def parse_plan(data: Any, source: str) -> Plan:
    """Validate decoded plan JSON (``PlanDocument``) and keep the parts the tools use."""
    document = validated(PlanDocument, data, source, context=lambda loc: _address_at(data, loc))
    return Plan(
        source=source,
        format_version=document.format_version,
        terraform_version=document.terraform_version,
        resource_drift=tuple(_resource_change(e) for e in document.resource_drift or ()),
        resource_changes=tuple(_resource_change(e) for e in document.resource_changes or ()),
        output_changes=tuple(_output_change(name, entry) for name, entry
                             in sorted((document.output_changes or {}).items())),
        references=_collect_references(document.configuration),
        errored=document.errored,
    )


def _address_at(data: Any, loc: Location) -> str:
    """The address of the resource change a problem is in ("" elsewhere), for the message."""
    if len(loc) < 2 or loc[0] not in ("resource_changes", "resource_drift"):
        return ""
    try:
        address = data[loc[0]][loc[1]]["address"]
    except (KeyError, IndexError, TypeError):
        return ""
    return address if isinstance(address, str) else ""


def _resource_change(entry: ResourceChangeEntry) -> ResourceChange:
    change = entry.change
    return ResourceChange(
        address=entry.address,
        resource_type=entry.type,
        name=entry.name,
        mode=entry.mode or "managed",
        actions=tuple(change.actions),
        before=change.before,
        after=change.after,
        after_unknown=change.after_unknown,
        before_sensitive=change.before_sensitive,
        after_sensitive=change.after_sensitive,
        action_reason=entry.action_reason,
        replace_paths=tuple(tuple(p) for p in change.replace_paths or ()),
        previous_address=entry.previous_address,
        importing=change.importing is not None,
    )


def _output_change(name: str, entry: OutputChangeEntry) -> OutputChange:
    return OutputChange(
        name=name,
        actions=tuple(entry.actions),
        sensitive=bool(entry.before_sensitive) or bool(entry.after_sensitive),
        after=entry.after,
        after_unknown=entry.after_unknown,
        after_sensitive=entry.after_sensitive,
    )


def _collect_references(configuration: Configuration | None) -> dict[str, frozenset[str]]:
    """Map each configured resource address to every address its expressions reference."""
    found: dict[str, frozenset[str]] = {}
    if configuration is not None and configuration.root_module is not None:
        _walk_module(configuration.root_module, "", found)
    return found


def _walk_module(module: ConfigModule, prefix: str, found: dict[str, frozenset[str]]) -> None:
    """Collect references of one configuration module and, recursively, its module calls."""
    for resource in module.resources:
        refs = {prefix + ref for ref in _references_in(resource.expressions)}
        found[prefix + resource.address] = frozenset(refs)
    for call_name, call in module.module_calls.items():
        if call.module is not None:
            _walk_module(call.module, f"{prefix}module.{call_name}.", found)


def _references_in(expressions: Any) -> Iterator[str]:
    """Every string under a `references` key, at any depth (nested blocks are lists)."""
    if isinstance(expressions, dict):
        for key, value in expressions.items():
            if key == "references" and isinstance(value, list):
                yield from (ref for ref in value if isinstance(ref, str))
            else:
                yield from _references_in(value)
    elif isinstance(expressions, list):
        for item in expressions:
            yield from _references_in(item)


def refers_to(references: frozenset[str], address: str) -> bool:
    """True when one of `references` names `address` or something inside it."""
    target = config_address(address)
    return any(ref == target or ref.startswith((target + ".", target + "[")) for ref in references)


def marked(tree: Any, path: AttrPath) -> bool:
    """Whether `path` is marked true in a before_sensitive/after_sensitive/after_unknown tree.

    Terraform marks either a leaf or a whole subtree with `true`, so any `true` on the way
    down counts.
    """
    node = tree
    for step in path:
        if node is True:
            return True
        node = _child(node, step)
    return node is True


def value_at(value: Any, path: AttrPath) -> Any:
    """The value at ``path`` in a resource value; None where the path leads nowhere."""
    for step in path:
        value = _child(value, step)
    return value


def _child(node: Any, step: str | int) -> Any:
    """The attribute, map value or list item ``step`` of ``node``; None where there is none."""
    if isinstance(node, dict) and isinstance(step, str):
        return node.get(step)
    if isinstance(node, list) and isinstance(step, int) and step < len(node):
        return node[step]
    return None


def diff_values(
    before: Any,
    after: Any,
    *,
    after_unknown: Any = None,
    before_sensitive: Any = None,
    after_sensitive: Any = None,
) -> list[AttrChange]:
    """Leaf-level differences between two resource values, in path order.

    A subtree marked sensitive on either side is compared as a whole and reported once,
    so not even the shape of a secret (map keys, list length) reaches the report.
    """
    changes: list[AttrChange] = []

    def walk(path: AttrPath, old: Any, new: Any) -> None:
        sensitive = marked(before_sensitive, path) or marked(after_sensitive, path)
        unknown = marked(after_unknown, path)
        if sensitive or unknown:
            if old != new or unknown:
                changes.append(AttrChange(path, old, new, sensitive=sensitive, unknown=unknown))
            return
        # A block that appears or disappears is compared against an empty one, so the
        # report names its leaves instead of dumping the whole block.
        if _both(old, new, dict):
            old_map, new_map = old or {}, new or {}
            for key in sorted(set(old_map) | set(new_map)):
                walk((*path, key), old_map.get(key), new_map.get(key))
        elif _both(old, new, list):
            old_list, new_list = old or [], new or []
            for index in range(max(len(old_list), len(new_list))):
                walk(
                    (*path, index),
                    old_list[index] if index < len(old_list) else None,
                    new_list[index] if index < len(new_list) else None,
                )
        elif old != new:
            changes.append(AttrChange(path, old, new))

    walk((), before, after)
    return changes


def _both(old: Any, new: Any, kind: type) -> bool:
    """Both values are `kind` or null, and at least one is `kind`."""
    return (isinstance(old, kind) or isinstance(new, kind)) and all(
        value is None or isinstance(value, kind) for value in (old, new)
    )


def format_path(path: AttrPath) -> str:
    """Render a path the way Terraform writes it: `template[0].containers[0].env[2].value`
    (a name may hold `-`)."""
    return field_path(path, _IDENTIFIER)


def parse_path(text: str) -> AttrPath:
    """Parse `a.b[0]["k.x"]` into a path; raise ValueError naming the bad part."""
    steps: list[str | int] = []
    position = 0
    while position < len(text):
        match = _PATH_TOKEN.match(text, position)
        if match is None or (position == 0 and text.startswith(".")):
            raise ValueError(f"cannot parse attribute path {text!r} at {text[position:]!r}")
        name, index, key = match.groups()
        if name is not None:
            steps.append(name)
        elif index is not None:
            steps.append(int(index))
        else:
            steps.append(json.loads(f'"{key}"'))
        position = match.end()
    if not steps:
        raise ValueError("empty attribute path")
    return tuple(steps)


def named_steps(path: AttrPath) -> tuple[str, ...]:
    """Only the names of a path: `push_config[0].push_endpoint` -> (push_config, push_endpoint)."""
    return tuple(step for step in path if isinstance(step, str))


def render_value(
    value: Any, *, sensitive: bool = False, unknown: bool = False, limit: int = 100
) -> str:
    """One-line rendering of a value for a report; secrets and unknowns are never printed.

    Long values lose their middle, not their end: URLs, image tags and revision names
    differ at the end.
    """
    if sensitive:
        return SENSITIVE
    if unknown:
        return UNKNOWN
    if value is None:
        return ABSENT
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[-(limit - 1 - head) :]
