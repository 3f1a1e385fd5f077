"""Assertions on synthesized Terraform JSON that name the failing path and both values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
