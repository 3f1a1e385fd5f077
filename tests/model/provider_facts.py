"""Which provider fact covers an attribute a synthesized resource sets (test-only).

The stacks never look facts up by path; the test that every attribute the stack sets has a
row in ``infra/model/provider/attributes.yaml`` does, with these two functions.
"""

from __future__ import annotations

from collections.abc import Mapping

from infra.model.provider.attributes import FACTS, META_KEYS, AttributeFact, bare, normalize_path

_BARE: Mapping[str, Mapping[str, AttributeFact]] = {
    rtype: {bare(path): fact for path, fact in rows.items()} for rtype, rows in FACTS.items()}


def _row(rtype: str, path: str) -> AttributeFact | None:
    rows = FACTS.get(rtype)
    if rows is None:
        return None
    return rows.get(path) or _BARE[rtype].get(bare(path))


def fact_for(rtype: str, path: str) -> AttributeFact | None:
    """The fact of ``path`` (any index style) on ``rtype``, or of the map attribute holding it
    (``service_config.environment_variables.X`` -> the ``service_config.environment_variables`` row)."""
    segments = path.split(".")
    for end in range(len(segments), 0, -1):
        fact = _row(rtype, normalize_path(".".join(segments[:end])))
        if fact is not None and (end == len(segments) or fact.convert == "map"):
            return fact
    return None


def _map_paths(rtype: str | None) -> frozenset[str]:
    types = [rtype] if rtype is not None else list(FACTS)
    return frozenset(bare(f.path) for t in types for f in FACTS.get(t, {}).values() if f.convert == "map")


def set_paths(body: Mapping[str, object], rtype: str | None = None) -> set[str]:
    """The normalized leaf paths a synthesized resource body sets.

    Meta-arguments (``META_KEYS``) are skipped; nested blocks are descended, map attributes are not
    (a map row stops the descent: the maps of ``rtype``, or of every type when it is not given). An
    empty block (``ttl_config {}``) counts as set. With ``rtype``, a path matching a row is returned in
    that row's spelling (a single block written as a list of one).
    """
    maps = _map_paths(rtype)
    out: set[str] = set()

    def walk(value: object, path: str) -> None:
        if path and bare(path) in maps:
            out.add(path)
        elif isinstance(value, Mapping):
            if not value and path:
                out.add(path)
            for key, item in value.items():
                if not path and key in META_KEYS:
                    continue
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            for item in value:
                walk(item, path + "[]")
        elif path:
            out.add(path)

    walk(body, "")
    if rtype is None:
        return out
    spelled: set[str] = set()
    for path in out:
        fact = _row(rtype, path)
        spelled.add(path if fact is None else fact.path)
    return spelled
