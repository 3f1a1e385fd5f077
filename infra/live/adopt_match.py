"""Match the live inventory to what the synthesized stack declares.

A declared resource of a type in ``KINDS`` exists live when a resource of one of its asset
types has the same path (project, kind, name; location compared apart), or, for types whose
id Google assigns, the same display name. A match whose live location differs from the
declared one is *blocked*: importing it would make Terraform replace it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from infra.live.adopt_inputs import Live
from infra.model.adoption import Import
from infra.model.provider.resources import (
    EVENTARC_SUBSCRIPTION,
    FORCE_NEW,
    FORCE_NEW_UNSET,
    KINDS,
    PARTS,
    Kind,
    managed_reason,
)
from infra.stackjson.stack import StackJson

FUNCTION_TYPES = ("cloudfunctions.googleapis.com/Function",
                  "cloudfunctions.googleapis.com/CloudFunction")


@dataclass(frozen=True)
class Declared:
    """A declared resource of a covered type, its attributes resolved where the stack can."""

    address: str
    type: str
    """Its Terraform type, a key of ``KINDS``."""
    attrs: Mapping[str, Any]
    """Its synthesized attributes with references resolved where the stack can (``${...}``
    left where it cannot); a table also gets its dataset's ``location``."""
    kind: Kind
    """How its type is found live and imported (``KINDS[type]``)."""

    @property
    def path(self) -> str:
        return self.kind.path(self.attrs)

    @property
    def location(self) -> str | None:
        attr = self.kind.location_attr
        value = self.attrs.get(attr) if attr else None
        return str(value) if isinstance(value, str) and "${" not in value else None


@dataclass(frozen=True)
class Blocked:
    """Importing ``declared`` would replace ``live``: ``attribute`` differs."""

    declared: Declared
    live: Live
    attribute: str
    """The attribute whose change replaces the resource (``location``, a record path)."""
    declared_value: str
    """What the stack declares (likewise ``live_value``, what runs), shown as written: JSON or
    ``repr`` text, a location as it is."""
    live_value: str
    fix: str
    """One sentence for the report: declare the live value, and where."""
    source: str
    """The provider source that makes the attribute ForceNew: a link (``FORCE_NEW``), or an
    ``attributes.yaml`` row's ``source``."""


@dataclass(frozen=True)
class Matches:
    imports: tuple[Import, ...]
    """One per declared resource found live and not blocked (firestore fields last)."""
    blocked: tuple[Blocked, ...]
    """Found live, but importing them would replace them: never imported."""
    matched: Mapping[str, Declared]
    """Live full name → the declared resource it is."""
    extra_by_display_name: tuple[tuple[Declared, Live], ...]
    """Live resources beside the one imported: the same display name, or the same name in
    another location."""
    created: tuple[Declared, ...]
    """Declared resources not live: created by the next apply, as before."""


def declared_resources(stack: StackJson) -> list[Declared]:
    """Every resource of a type in ``KINDS``, its references resolved to literals."""
    out = []
    for res in sorted(stack.resources.values(), key=lambda r: r.address):
        kind = KINDS.get(res.type)
        if kind is None:
            continue
        attrs = {k: stack.resolve_attr(v) for k, v in res.body.items()}
        if res.type == "google_bigquery_table":
            dataset = stack.ref_address(res.body.get("dataset_id"))
            if dataset in stack.resources:
                attrs["location"] = stack.resources[dataset].body.get("location")
        out.append(Declared(res.address, res.type, attrs, kind))
    return out


def _same_location(declared: str, live: str) -> bool:
    return declared.strip().lower() == live.strip().lower()


def _is_account(live: Live, email: str) -> bool:
    return live.short == email or live.resource.get("email") == email


def match(declared: Sequence[Declared], lives: Sequence[Live], env: str) -> Matches:
    """Pair declared and live resources; see the module docstring for the rules."""
    by_path: dict[tuple[str, str], list[Live]] = {}
    by_display: dict[tuple[str, str], list[Live]] = {}
    accounts = [x for x in lives if x.asset_type == "iam.googleapis.com/ServiceAccount"]
    for live in lives:
        if live.asset_type == "serviceusage.googleapis.com/Service" and live.state == "DISABLED":
            # Recorded so preflight can name it; not live: the apply enables it (a create).
            continue
        by_path.setdefault((live.asset_type, live.path), []).append(live)
        if live.display_name:
            by_display.setdefault((live.asset_type, live.display_name), []).append(live)
    imports: list[Import] = []
    blocked: list[Blocked] = []
    matched: dict[str, Declared] = {}
    extra: list[tuple[Declared, Live]] = []
    created: list[Declared] = []
    live_databases: dict[str, Live] = {}
    for d in declared:
        if d.type == "google_firestore_field":
            continue
        found = _find(d, by_path, by_display, accounts)
        if found is None:
            created.append(d)
            continue
        live, others = found
        extra += [(d, o) for o in others]
        matched[live.name] = d
        if d.type == "google_firestore_database":
            live_databases[str(d.attrs.get("name"))] = live
        problem = _blocked(d, live, env)
        if problem is not None:
            blocked.append(problem)
            continue
        import_id = d.kind.import_id(d.attrs) if d.kind.import_id else live.relative_name
        imports.append(Import(d.address, d.type, import_id, live.name))
    for d in declared:
        if d.type != "google_firestore_field":
            continue
        database = live_databases.get(str(d.attrs.get("database")))
        if database is None or any(b.live is database for b in blocked):
            created.append(d)
            continue
        assert d.kind.import_id is not None
        import_id = d.kind.import_id(d.attrs)
        imports.append(Import(d.address, d.type, import_id, f"{database.name}/collectionGroups/"
                                                           f"{d.attrs['collection']}/fields/"
                                                           f"{d.attrs['field']}"))
    return Matches(tuple(imports), tuple(blocked), matched, tuple(extra), tuple(created))


def _find(d: Declared, by_path: Mapping[tuple[str, str], list[Live]],
          by_display: Mapping[tuple[str, str], list[Live]],
          accounts: Sequence[Live]) -> tuple[Live, list[Live]] | None:
    if d.kind.match == "display_name":
        for atype in d.kind.asset_types:
            same = sorted(by_display.get((atype, d.path), []), key=lambda x: x.name)
            if same:
                return same[0], same[1:]
        return None
    if d.type == "google_service_account":
        email = d.path.rsplit("/", 1)[-1]
        for live in accounts:
            if _is_account(live, email):
                return live, []
        return None
    for atype in d.kind.asset_types:
        located = by_path.get((atype, d.path))
        if located:
            # One name in several locations (a job in two regions): the one where it is
            # declared is adopted, the others run beside it.
            here = sorted(located, key=lambda x: (not _same_location(d.location or "",
                                                                 x.location), x.name))
            return here[0], here[1:]
    return None


def _blocked(d: Declared, live: Live, env: str) -> Blocked | None:
    return _location_blocked(d, live, env) or _unset_blocked(d, live)


def _unset_blocked(d: Declared, live: Live) -> Blocked | None:
    """A ForceNew attribute the stack leaves unset but the live resource has (its versioned
    representation says so; without one nothing can be compared)."""
    for attribute, api_field, empty, source in FORCE_NEW_UNSET.get(d.type, ()):
        declared_value = d.attrs.get(attribute, empty)
        live_value = live.resource.get(api_field, empty)
        if live_value not in (empty, None) and live_value != declared_value:
            fix = (f"declare the live value: the stack must set {attribute} = {live_value!r} on "
                   f"{d.address} before it adopts it (the provider replaces a subscription "
                   "whose value changes)")
            return Blocked(d, live, attribute, repr(declared_value), repr(live_value), fix,
                           source)
    return None


def _location_blocked(d: Declared, live: Live, env: str) -> Blocked | None:
    fact = FORCE_NEW.get(d.type)
    declared_value = d.location
    if fact is None or declared_value is None or not live.location:
        return None
    if live.location == "global" or _same_location(declared_value, live.location):
        return None
    attribute, where, source = fact
    fix = f"declare the live value: set {where.format(env=env)} to {live.location!r}"
    return Blocked(d, live, attribute, declared_value, live.location, fix, source)


@dataclass(frozen=True)
class Owned:
    """A live resource that is part of something else (never adopted or reported alone)."""

    live: Live
    owner: str | None
    """The function (or service) it belongs to, when known."""
    reason: str
    """Why, one phrase (``the Eventarc trigger of function phase3-to-phase4-orchestrator``)."""


def owned(lives: Sequence[Live], declared: Iterable[Declared]) -> dict[str, Owned]:
    """Live full name → why it belongs to something else (patterns: infra.model.provider)."""
    declared_list = list(declared)
    functions = {x.short for x in lives if x.asset_type in FUNCTION_TYPES}
    functions |= {str(d.attrs.get("name")) for d in declared_list
                  if d.type == "google_cloudfunctions2_function"}
    datasets = {str(d.attrs.get("dataset_id")) for d in declared_list
                if d.type == "google_bigquery_dataset"}
    trigger_of: dict[str, str] = {}
    for x in lives:
        if x.asset_type in FUNCTION_TYPES:
            event = x.resource.get("eventTrigger")
            if isinstance(event, Mapping) and isinstance(event.get("trigger"), str):
                trigger_of[event["trigger"].rsplit("/", 1)[-1]] = x.short
    for x in lives:
        if x.asset_type == "eventarc.googleapis.com/Trigger" and x.short not in trigger_of:
            fn = _function_prefix(x.short, functions)
            if fn:
                trigger_of[x.short] = fn
    out: dict[str, Owned] = {}
    for x in lives:
        why = _owned_reason(x, functions, datasets, trigger_of)
        if why is not None:
            out[x.name] = Owned(x, *why)
    return out


def _function_prefix(name: str, functions: Iterable[str]) -> str | None:
    for fn in sorted(functions, key=len, reverse=True):
        if name == fn or re.match(rf"^{re.escape(fn)}-[a-z0-9]+$", name):
            return fn
    return None


def _owned_reason(x: Live, functions: set[str], datasets: set[str],
                  trigger_of: Mapping[str, str]) -> tuple[str | None, str] | None:
    if x.asset_type in PARTS:
        return None, f"part of its parent ({x.asset_type})"
    if x.asset_type == "run.googleapis.com/Service" and x.short in functions:
        return x.short, f"the Cloud Run service of gen2 function {x.short}"
    if x.asset_type == "eventarc.googleapis.com/Trigger" and x.short in trigger_of:
        return trigger_of[x.short], f"the Eventarc trigger of function {trigger_of[x.short]}"
    if x.asset_type == "pubsub.googleapis.com/Subscription":
        m = EVENTARC_SUBSCRIPTION.match(x.short)
        if m:
            trigger = m.group("trigger")
            fn = trigger_of.get(trigger) or _function_prefix(trigger, functions)
            what = f"function {fn}" if fn else f"Eventarc trigger {trigger}"
            return fn, f"the Eventarc subscription of {what}"
    if x.asset_type == "bigquery.googleapis.com/Table":
        dataset = x.path.split("/datasets/", 1)[-1].split("/", 1)[0]
        if dataset in datasets:
            return None, f"a table the processors write in declared dataset {dataset}"
    reason = managed_reason(x.asset_type, x.short, x.display_name)
    return (None, reason) if reason else None
