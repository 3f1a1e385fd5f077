"""Read synthesized Terraform JSON: resources by address and reference resolution.

Used by the synth summary, the docs generator, the local pipeline and the policy gate, so
they all read the stack the same way Terraform will.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REF_RE = re.compile(r"\$\{((?:data\.|ephemeral\.)?[a-z0-9_]+\.[A-Za-z0-9_-]+)"
                    r"((?:\.[A-Za-z0-9_]+|\[\d+\])*)\}")


@dataclass(frozen=True)
class Resource:
    type: str
    name: str
    body: Mapping[str, Any]

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}"


class StackJson:
    """One ``cdk.tf.json``. ``path`` is kept for error messages."""

    def __init__(self, data: Mapping[str, Any], path: Path | None = None) -> None:
        self.data = data
        self.path = path
        self.resources: dict[str, Resource] = {}
        # Ephemeral resources (Terraform 1.10) are read at plan/apply and never stored in state.
        for kind in ("resource", "data", "ephemeral"):
            for rtype, by_name in (data.get(kind) or {}).items():
                for name, body in (by_name or {}).items():
                    prefix = "" if kind == "resource" else f"{kind}."
                    res = Resource(f"{prefix}{rtype}", name, body or {})
                    self.resources[res.address] = res

    @classmethod
    def load(cls, path: Path) -> StackJson:
        return cls(json.loads(path.read_text()), path)

    def of_type(self, rtype: str) -> Iterator[Resource]:
        for res in self.resources.values():
            if res.type == rtype:
                yield res

    def ref_address(self, value: object) -> str | None:
        """The address a whole-string reference points at (``${t.n.attr}`` → ``t.n``)."""
        if not isinstance(value, str):
            return None
        m = REF_RE.fullmatch(value.strip())
        return m.group(1) if m else None

    def refs(self, value: object) -> list[str]:
        """Every address referenced anywhere inside ``value``."""
        if isinstance(value, str):
            return [m.group(1) for m in REF_RE.finditer(value)]
        if isinstance(value, Mapping):
            return [a for v in value.values() for a in self.refs(v)]
        if isinstance(value, list):
            return [a for v in value for a in self.refs(v)]
        return []

    def resolve_attr(self, value: object) -> object:
        """Resolve a whole-string reference to the literal attribute when the stack sets it.

        ``${google_service_account.x.email}`` → the account's email if computable from
        ``account_id``/``project``; ``${google_pubsub_topic.t.name}`` → its ``name``.
        Returns ``value`` unchanged when it is not a resolvable reference.
        """
        if not isinstance(value, str):
            return value
        m = REF_RE.fullmatch(value.strip())
        if not m:
            return value
        res = self.resources.get(m.group(1))
        attr = m.group(2).lstrip(".")
        if res is None or not attr:
            return value
        if res.type == "google_service_account" and attr in ("email", "member"):
            email = f"{res.body.get('account_id')}@{res.body.get('project')}.iam.gserviceaccount.com"
            return email if attr == "email" else f"serviceAccount:{email}"
        if attr in res.body and isinstance(res.body[attr], str | int):
            return res.body[attr]
        return value

    def interpolate(self, value: object) -> object:
        """Resolve every reference inside a string that ``resolve_attr`` can resolve.

        ``serviceAccount:${google_service_account.x.email}`` → ``serviceAccount:x@p.iam…``;
        references it cannot resolve stay as written. Non-strings are returned unchanged.
        """
        if not isinstance(value, str):
            return value

        def one(match: re.Match[str]) -> str:
            resolved = self.resolve_attr(match.group(0))
            return match.group(0) if resolved == match.group(0) else str(resolved)

        return REF_RE.sub(one, value)


def first(block: object) -> Mapping[str, Any]:
    """Terraform JSON blocks may be an object or a one-element list; return the object."""
    if isinstance(block, list):
        return block[0] if block and isinstance(block[0], Mapping) else {}
    return block if isinstance(block, Mapping) else {}
