"""Shared helpers for reading `terraform show -json PLANFILE` output.

The format is Terraform's "JSON Output Format" (format_version 1.x; Terraform 1.6+ writes
"1.2"). Per its compatibility rules we accept any 1.x minor version, ignore properties we
do not know, and reject other major versions.

Everything here is pure except `load_plan`, which reads one file. Errors are `InputError`,
whose message is one line naming the file and the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SUPPORTED_MAJOR = 1

# Terraform attribute paths: names for object attributes and map keys, ints for list items.
AttrPath = tuple[str | int, ...]

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_PATH_TOKEN = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')
_INSTANCE_KEY = re.compile(r'\[(?:\d+|"(?:[^"\\]|\\.)*")\]')

SENSITIVE = "(sensitive)"
UNKNOWN = "(known after apply)"
ABSENT = "(absent)"


KNOWN_ACTIONS: frozenset[tuple[str, ...]] = frozenset({
    ("no-op",), ("create",), ("read",), ("update",), ("delete",),
    ("delete", "create"), ("create", "delete"), ("forget",),
})
"""Every ``change.actions`` list Terraform's JSON output format documents
(https://developer.hashicorp.com/terraform/internals/json-format, "Change Representation";
``forget`` since Terraform 1.7's ``removed`` blocks). Anything else is unreadable input: a
change whose action nobody knows must never drop silently out of the counts."""


class InputError(Exception):
    """A file this tool needs cannot be used; the message names the file and the reason."""

    def __init__(self, source: str | Path, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = str(source)
        self.reason = reason


@dataclass(frozen=True)
class ResourceChange:
    """One entry of `resource_changes` or `resource_drift`."""

    address: str
    resource_type: str
    name: str
    mode: str
    actions: tuple[str, ...]
    before: Any
    after: Any
    after_unknown: Any
    before_sensitive: Any
    after_sensitive: Any
    action_reason: str | None
    replace_paths: tuple[AttrPath, ...]
    previous_address: str | None

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
    actions: tuple[str, ...]
    sensitive: bool

    @property
    def action(self) -> str:
        """The action as one word (see `action_word`)."""
        return action_word(self.actions)


@dataclass(frozen=True)
class Plan:
    """The parts of a plan JSON the lifecycle tools use."""

    source: str
    format_version: str
    terraform_version: str
    resource_drift: tuple[ResourceChange, ...]
    resource_changes: tuple[ResourceChange, ...]
    output_changes: tuple[OutputChange, ...]
    references: Mapping[str, frozenset[str]]
    errored: bool

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
    before: Any
    after: Any
    sensitive: bool = False
    unknown: bool = False


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
    """Read and validate a plan JSON file; raise `InputError` saying why it is unusable."""
    return parse_plan(read_json(path), str(path))


def read_json(path: str | Path) -> Any:
    """Read a JSON file; raise `InputError` for a missing, unreadable or non-JSON file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a directory, expected a JSON file") from None
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text, expected JSON") from None
    except OSError as err:
        raise InputError(path, f"cannot read ({err.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            path, f"not JSON (line {err.lineno} column {err.colno}: {err.msg})"
        ) from None


def parse_plan(data: Any, source: str) -> Plan:
    """Validate decoded plan JSON and keep the parts the lifecycle tools use."""
    if not isinstance(data, dict):
        raise InputError(source, f"not a plan JSON: top level is {_kind(data)}, expected object")
    version = data.get("format_version")
    if version is None:
        raise InputError(
            source, "not a plan JSON: no format_version (expected `terraform show -json PLANFILE`)"
        )
    _check_format_version(version, source)
    for key, kind in (("terraform_version", str), ("errored", bool)):
        if key in data and not isinstance(data[key], kind):
            raise InputError(source, _wrong_type(key, data[key], kind))
    plan_keys = ("planned_values", "resource_changes", "resource_drift", "output_changes")
    if not any(key in data for key in plan_keys):
        hint = " (this looks like state output)" if "values" in data else ""
        raise InputError(
            source,
            f"not a plan JSON: none of {', '.join(plan_keys)}{hint}; "
            "run `terraform show -json PLANFILE`",
        )
    outputs = data.get("output_changes")
    outputs = {} if outputs is None else outputs
    if not isinstance(outputs, dict):
        raise InputError(source, f"output_changes is {_kind(outputs)}, expected object")
    return Plan(
        source=source,
        format_version=version,
        terraform_version=str(data.get("terraform_version", "unknown")),
        resource_drift=_parse_changes(data, "resource_drift", source),
        resource_changes=_parse_changes(data, "resource_changes", source),
        output_changes=tuple(
            _parse_output(name, entry, source) for name, entry in sorted(outputs.items())
        ),
        references=_collect_references(data.get("configuration")),
        errored=data.get("errored") is True,
    )


def _kind(value: Any) -> str:
    """A JSON type name for error messages."""
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def _wrong_type(where: str, value: Any, kind: type) -> str:
    expected = {str: "a string", bool: "a boolean", list: "a list", dict: "an object"}[kind]
    return f"{where} is {_kind(value)} ({json.dumps(value)}), expected {expected}"


def _check_format_version(version: Any, source: str) -> None:
    """Accept the string "1.x"; anything else is a format this parser was not written for."""
    if not isinstance(version, str):
        # Terraform writes a string; a number such as 1.2 is not what `terraform show` wrote.
        raise InputError(source, _wrong_type("format_version", version, str)
                         + ' such as "1.2"')
    match = re.fullmatch(r"(\d+)\.(\d+)", version)
    if match is None:
        raise InputError(source, f"unsupported format_version {version!r} (expected 1.x)")
    if int(match.group(1)) != SUPPORTED_MAJOR:
        raise InputError(
            source, f"unsupported format_version {version} (this tool reads {SUPPORTED_MAJOR}.x)"
        )


def _parse_changes(data: dict[str, Any], key: str, source: str) -> tuple[ResourceChange, ...]:
    """Parse a list of resource-change objects, naming the bad entry when one is malformed."""
    entries = data.get(key)
    entries = [] if entries is None else entries
    if not isinstance(entries, list):
        raise InputError(source, f"{key} is {_kind(entries)}, expected a list")
    return tuple(
        _parse_change(entry, f"{key}[{index}]", source) for index, entry in enumerate(entries)
    )


def _parse_change(entry: Any, where: str, source: str) -> ResourceChange:
    """Parse one resource-change object."""
    if not isinstance(entry, dict):
        raise InputError(source, f"{where} is {_kind(entry)}, expected object")
    for field in ("address", "type", "name"):
        if not isinstance(entry.get(field), str) or not entry[field]:
            raise InputError(source, f"{where}: missing or empty {field!r}")
    change = entry.get("change")
    if not isinstance(change, dict):
        raise InputError(source, f"{where} ({entry['address']}): missing 'change' object")
    actions = _check_actions(change.get("actions"), f"{where} ({entry['address']}): change.actions",
                             source)
    for key in ("mode", "previous_address", "action_reason"):
        if entry.get(key) is not None and not isinstance(entry[key], str):
            raise InputError(source, _wrong_type(f"{where} ({entry['address']}).{key}",
                                                 entry[key], str))
    if entry.get("mode") not in (None, "managed", "data"):
        raise InputError(source, f"{where} ({entry['address']}).mode: unknown value "
                                 f"{json.dumps(entry['mode'])}; expected \"managed\" or \"data\"")
    replace_paths = change.get("replace_paths") or []
    if not isinstance(replace_paths, list):
        raise InputError(source, _wrong_type(f"{where} ({entry['address']}).change.replace_paths",
                                             replace_paths, list))
    return ResourceChange(
        address=entry["address"],
        resource_type=entry["type"],
        name=entry["name"],
        mode=str(entry.get("mode", "managed")),
        actions=actions,
        before=change.get("before"),
        after=change.get("after"),
        after_unknown=change.get("after_unknown"),
        before_sensitive=change.get("before_sensitive"),
        after_sensitive=change.get("after_sensitive"),
        action_reason=entry.get("action_reason"),
        replace_paths=tuple(tuple(p) for p in replace_paths if isinstance(p, list)),
        previous_address=entry.get("previous_address"),
    )


def _parse_output(name: str, entry: Any, source: str) -> OutputChange:
    """Parse one `output_changes` value."""
    if not isinstance(entry, dict):
        raise InputError(source, _wrong_type(f"output_changes.{name}", entry, dict))
    actions = _check_actions(entry.get("actions"), f"output_changes.{name}.actions", source)
    sensitive = bool(entry.get("before_sensitive")) or bool(entry.get("after_sensitive"))
    return OutputChange(name=name, actions=actions, sensitive=sensitive)


def _check_actions(actions: Any, where: str, source: str) -> tuple[str, ...]:
    """``actions`` as a tuple when it is one of ``KNOWN_ACTIONS``; ``InputError`` otherwise."""
    if actions is None:
        raise InputError(source, f"{where} is missing, expected a list such as [\"update\"]")
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise InputError(source, _wrong_type(where, actions, list) + " of action names")
    if tuple(actions) not in KNOWN_ACTIONS:
        known = ", ".join(json.dumps(list(a)) for a in sorted(KNOWN_ACTIONS))
        raise InputError(source, f"{where}: unknown actions {json.dumps(actions)}; Terraform "
                                 f"writes one of {known}")
    return tuple(actions)


def _collect_references(configuration: Any) -> dict[str, frozenset[str]]:
    """Map each configured resource address to every address its expressions reference."""
    found: dict[str, frozenset[str]] = {}
    if isinstance(configuration, dict):
        _walk_module(configuration.get("root_module"), "", found)
    return found


def _walk_module(module: Any, prefix: str, found: dict[str, frozenset[str]]) -> None:
    """Collect references of one configuration module and, recursively, its module calls."""
    if not isinstance(module, dict):
        return
    for resource in module.get("resources") or []:
        if isinstance(resource, dict) and isinstance(resource.get("address"), str):
            refs = {prefix + ref for ref in _references_in(resource.get("expressions"))}
            found[prefix + resource["address"]] = frozenset(refs)
    for call_name, call in (module.get("module_calls") or {}).items():
        if isinstance(call, dict):
            _walk_module(call.get("module"), f"{prefix}module.{call_name}.", found)


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
        if isinstance(node, dict) and isinstance(step, str):
            node = node.get(step)
        elif isinstance(node, list) and isinstance(step, int) and step < len(node):
            node = node[step]
        else:
            return False
    return node is True


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
    """Render a path the way Terraform writes it: `template[0].containers[0].env[2].value`."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        elif _IDENTIFIER.match(step):
            text += f".{step}" if text else step
        else:
            text += "[" + json.dumps(step) + "]"
    return text


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
