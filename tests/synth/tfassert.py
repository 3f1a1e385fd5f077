"""Assertions on synthesized Terraform JSON that name the failing path and both values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from cdktn import TerraformStack, Testing

from infra.paths import REPO_ROOT
from infra.stackjson.stack import StackJson


def at(doc: Any, path: str) -> Any:
    """Follow ``a.b[0].c`` through dicts and lists; a missing step fails with the path."""
    cur = doc
    walked = ""
    for raw in path.replace("[", ".[").split("."):
        if not raw:
            continue
        if raw.startswith("["):
            idx = int(raw[1:-1])
            if not isinstance(cur, list) or idx >= len(cur):
                raise AssertionError(f"{walked or '<root>'}: expected a list with index {idx}, "
                                     f"got {cur!r}")
            cur = cur[idx]
            walked += raw
        else:
            if not isinstance(cur, Mapping) or raw not in cur:
                keys = sorted(cur) if isinstance(cur, Mapping) else type(cur).__name__
                raise AssertionError(f"{walked or '<root>'}: no key {raw!r} (has {keys})")
            cur = cur[raw]
            walked += f".{raw}" if walked else raw
    return cur


def assert_at(doc: Any, path: str, expected: Any) -> None:
    actual = at(doc, path)
    assert actual == expected, f"{path}: expected {expected!r}, got {actual!r}"


def assert_subset(actual: Any, expected: Any, path: str = "") -> None:
    """Every key/value of ``expected`` is in ``actual`` (recursively); lists compared whole."""
    if isinstance(expected, Mapping):
        assert isinstance(actual, Mapping), f"{path or '<root>'}: expected an object, got {actual!r}"
        for key, value in expected.items():
            sub = f"{path}.{key}" if path else str(key)
            assert key in actual, f"{sub}: missing (expected {value!r})"
            assert_subset(actual[key], value, sub)
    else:
        assert actual == expected, f"{path or '<root>'}: expected {expected!r}, got {actual!r}"


def resource(stack: StackJson, address: str) -> Mapping[str, Any]:
    res = stack.resources.get(address)
    assert res is not None, f"{address}: not in the stack (has {len(stack.resources)} resources)"
    return res.body


def iam_members_on(stack: StackJson, target_address: str) -> list[tuple[str, Mapping[str, Any]]]:
    """``(address, body)`` of every ``*_iam_member`` whose target references ``target_address``."""
    found = []
    for res in stack.resources.values():
        if not res.type.endswith("_iam_member"):
            continue
        target_fields = {k: v for k, v in res.body.items()
                         if k in ("name", "topic", "subscription", "service_account_id",
                                  "dataset_id", "service")}
        if target_address in stack.refs(target_fields):
            found.append((res.address, res.body))
    return found


def synth(stack: TerraformStack) -> dict[str, Any]:
    """The Terraform JSON ``stack`` synthesizes to (``Testing.synth``), parsed."""
    return dict(json.loads(Testing.synth(stack)))


def resource_counts(doc: Mapping[str, Any]) -> dict[str, int]:
    """Resource type → how many the document declares (data sources as ``data.<type>``,
    ephemeral resources as ``ephemeral.<type>``)."""
    counts = {rtype: len(items) for rtype, items in doc.get("resource", {}).items()}
    for section in ("data", "ephemeral"):
        counts.update({f"{section}.{rtype}": len(items)
                       for rtype, items in doc.get(section, {}).items()})
    return counts


def body_at(doc: Mapping[str, Any], address: str) -> Mapping[str, Any]:
    """The body of ``type.name`` (or ``data.type.name``, ``ephemeral.type.name``); a missing one
    fails naming what exists."""
    section, dot, rest = address.partition(".")
    if section not in ("data", "ephemeral") or not dot:
        section, rest = "resource", address
    rtype, _, name = rest.partition(".")
    bodies = doc.get(section, {}).get(rtype, {})
    assert name in bodies, f"{address}: not synthesized (this type has {sorted(bodies)})"
    return dict(bodies[name])


def assert_inventory(doc: Mapping[str, Any], counts: Mapping[str, int],
                     values: Mapping[str, Mapping[str, Any]]) -> None:
    """Exact resource counts per type, then a subset of the attributes of each address.

    A failure names the types whose counts differ, or the first attribute path that differs
    with both values (``values`` maps an address to the attributes that matter).
    """
    actual = resource_counts(doc)
    wrong = {t: (counts.get(t, 0), actual.get(t, 0)) for t in set(counts) | set(actual)
             if counts.get(t, 0) != actual.get(t, 0)}
    assert not wrong, "resource counts differ: " + "; ".join(
        f"{t}: expected {want}, got {got}" for t, (want, got) in sorted(wrong.items()))
    for address, expected in values.items():
        assert_subset(body_at(doc, address), expected, address)


def merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in, objects recursively (``extra`` wins elsewhere)."""
    out = dict(base)
    for key, value in extra.items():
        both = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = merged(out[key], value) if both else value
    return out


def assert_inventory_file(doc: Mapping[str, Any], path: Path,
                          computed: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """``assert_inventory`` against the YAML file ``path`` (its ``counts`` and ``values``; other
    top-level keys are anchors those merge in). ``computed`` adds, per address, the attributes
    only code can produce. A failure names the file, the path and both values.
    """
    expected = yaml.safe_load(path.read_text())
    values = merged(expected["values"], computed or {})
    try:
        assert_inventory(doc, counts=expected["counts"], values=values)
    except AssertionError as err:
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        raise AssertionError(f"{shown}: {err}") from None
