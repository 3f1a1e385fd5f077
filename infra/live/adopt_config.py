"""Compare an imported resource's declared configuration with its live one.

For each resource adoption imports, every attribute the stack sets and every optional,
non-computed attribute the provider resets when it is omitted (the provider facts,
``infra.model.provider.attributes``) is compared with the live value, read from the resource's
REST representation that ``make inventory`` records (``versionedResources``). A difference is:

* **blocked** when the attribute forces replacement (the plan would destroy the live
  resource): the stack must declare the live value;
* an **intended change** when the manifest owns the attribute (``MANIFEST_OWNED``:
  identities, push endpoints and OIDC, schedules and targets, generated configuration,
  security settings): listed with both values, and announced to the first-plan review;
* otherwise **kept**: nobody decided it, so the adoption record carries the live value and
  the next synth declares it (``infra.synth.constructs.base.keep_live``): the first apply
  never resets a live setting.

Maps (labels, a function's environment) and a service's environment list merge: the
declared entries are the manifest's, live entries nobody declares are kept. A BigQuery
table's schema is taken from live, and a declared column missing there is added as NULLABLE
(the provider replaces a table for a new REQUIRED column, a NULLABLE column made REQUIRED or a
dropped column: ``resourceBigQueryTableSchemaCustomizeDiff``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from infra.live.adopt_inputs import Live
from infra.live.adopt_match import Blocked, Declared
from infra.live.rest_config import MASK
from infra.model.adoption import Change, Kept
from infra.model.provider.attributes import API_VERSION, FACTS, AttributeFact, normalize_path
from infra.stackjson.stack import StackJson

# Attribute paths (normalized, ``[]`` for list items) the manifest decides, per type: a
# difference from live is the first apply's purpose, never kept from live. A path owns every
# path under it.
MANIFEST_OWNED: Mapping[str, tuple[str, ...]] = {
    # The runtime identity, who can reach it, and the environment the stack derives.
    "google_cloud_run_v2_service": ("template.service_account", "ingress",
                                    "template.containers[].env"),
    # Code, identities, trigger wiring and generated configuration (the expected set).
    "google_cloudfunctions2_function": (
        "build_config.service_account", "build_config.source", "build_config.entry_point",
        "build_config.runtime", "service_config.service_account_email",
        "service_config.environment_variables", "service_config.ingress_settings",
        "event_trigger", "description"),
    # The edge: source topic, endpoint, OIDC identity and audience, dead letters, retries.
    "google_pubsub_subscription": ("topic", "push_config", "dead_letter_policy",
                                   "ack_deadline_seconds", "retry_policy"),
    # What runs when, against which target, as whom; the deadline derives from the target.
    "google_cloud_scheduler_job": ("schedule", "time_zone", "http_target", "attempt_deadline"),
    "google_monitoring_alert_policy": ("conditions", "notification_channels", "documentation",
                                       "alert_strategy", "combiner"),
    "google_monitoring_notification_channel": ("type", "labels", "sensitive_labels"),
    # Security settings of every bucket.
    "google_storage_bucket": ("uniform_bucket_level_access", "public_access_prevention"),
    "google_firestore_database": ("delete_protection_state",),
    # Descriptions the manifest writes (infra/model/pipeline.py).
    "google_bigquery_dataset": ("description",),
    "google_bigquery_table": ("description",),
}
# Sizes, scaling, timeouts, retention, lifecycle and the rest are not in this table: the
# stack's values for them are defaults, so the live value is kept.

# Top-level rows that name the resource: the match paired declared and live by them
# (adopt_match: same path; a different location blocks there).
IDENTITY_ROWS = frozenset({"name", "project", "location", "location_id", "region", "dataset_id",
                           "table_id", "account_id", "database", "collection", "field",
                           "service", "display_name"})


def _retention(value: Any) -> Any:
    if not isinstance(value, Mapping):
        return value
    out: dict[str, Any] = {"retention_period": int(str(value.get("retentionPeriod", "0")))}
    if "isLocked" in value:
        out["is_locked"] = bool(value["isLocked"])
    return out


# ``convert: custom`` rows whose REST form needs more than snake_case keys; any other custom
# row is read like ``same``.
CUSTOM: Mapping[tuple[str, str], Any] = {
    ("google_storage_bucket", "retention_policy"): _retention,
    ("google_storage_bucket", "enable_object_retention"): lambda v: v == "Enabled",
}

REF_RE = re.compile(r"\$\{[^}]+\}")
SYSTEM_LABEL = re.compile(r"^(goog-|cloud\.googleapis\.com/|run\.googleapis\.com/)")


def owned(rtype: str, path: str) -> bool:
    """Whether the manifest decides ``path`` (normalized) of a ``rtype`` resource."""
    return any(path == p or path.startswith(f"{p}.") or path.startswith(f"{p}[")
               for p in MANIFEST_OWNED.get(rtype, ()))


@dataclass
class ConfigDiff:
    """What comparing one imported resource found."""

    blocked: list[Blocked] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)


def snake(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def to_terraform(value: Any, convert: str) -> Any:
    """A REST value in Terraform's form: keys snake_case (not a map's own keys), and
    ``convert`` applied (``int``: BigQuery's int64 strings; ``seconds``: ``"540s"`` ↔ 540)."""
    if value is None:
        return None
    if convert == "int":
        return int(value) if isinstance(value, str) and value.lstrip("-").isdigit() else value
    if convert == "bool":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if convert == "seconds":
        if isinstance(value, str) and value.endswith("s"):
            return int(float(value[:-1]))
        return value
    if convert == "map":
        return dict(value) if isinstance(value, Mapping) else value
    return _snake_keys(value)


def _snake_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {snake(str(k)): _snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_keys(v) for v in value]
    return value


def _zero(value: Any) -> bool:
    """REST omits zero values (proto3): absent, "", 0, false, [] and {} are one value."""
    return value is None or value == "" or value == 0 or value is False or value == [] \
        or value == {}


def _same(a: Any, b: Any) -> bool:
    if _zero(a) and _zero(b):
        return True
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        keys = set(a) | set(b)
        return all(_same(a.get(k), b.get(k)) for k in keys)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, int | float) and isinstance(b, str):
        return str(a) == b
    if isinstance(b, int | float) and isinstance(a, str):
        return a == str(b)
    return bool(a == b)


def _has_ref(value: Any) -> bool:
    if isinstance(value, str):
        return bool(REF_RE.search(value))
    if isinstance(value, Mapping):
        return any(_has_ref(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_ref(v) for v in value)
    return False


def resolve_deep(stack: StackJson, value: Any) -> Any:
    """``value`` with every whole-string reference the stack can resolve made literal."""
    if isinstance(value, Mapping):
        return {k: resolve_deep(stack, v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_deep(stack, v) for v in value]
    if isinstance(value, str):
        m = re.fullmatch(r"\$\{(google_pubsub_topic\.[A-Za-z0-9_-]+)\.id\}", value.strip())
        res = stack.resources.get(m.group(1)) if m else None
        if res is not None:
            return f"projects/{res.body.get('project')}/topics/{res.body.get('name')}"
        return stack.resolve_attr(value)
    return value


def _bare(path: str) -> str:
    """A path without list markers: ``template[0].containers[].image`` → ``template.containers.image``."""
    return re.sub(r"\[\d*\]", "", path)


def _split(path: str) -> list[str]:
    return [p for p in re.split(r"\.|(?=\[)", path) if p]


def get_path(doc: Any, path: str) -> Any:
    """The value at a concrete dotted path (``a.b.0.c`` or ``a.b[0].c``); None when absent.
    A block Terraform writes as one object is also read at index 0."""
    cur = doc
    for part in _split(path):
        idx = part.strip("[]")
        if isinstance(cur, list):
            if not idx.isdigit() or int(idx) >= len(cur):
                return None
            cur = cur[int(idx)]
        elif isinstance(cur, Mapping):
            if idx.isdigit() and idx not in cur:
                if int(idx) != 0:
                    return None
                continue  # a single block written as an object
            cur = cur.get(idx)
        else:
            return None
        if cur is None:
            return None
    return cur


def _length(doc: Any, prefix: str) -> int:
    value = get_path(doc, prefix) if prefix else doc
    if isinstance(value, list):
        return len(value)
    return 1 if value is not None else 0


def expand(tf_path: str, api_path: str, declared: Any, live: Any) -> Iterator[tuple[str, str]]:
    """Concrete (Terraform path, API path) pairs of a row whose paths have ``[]`` items, one
    per index either side has; indices are written ``.N`` on both sides."""
    api_path = api_path.replace("[0]", "[]")
    if "[]" not in tf_path:
        yield tf_path, api_path.replace("[]", ".0")
        return
    tf_head, tf_tail = tf_path.split("[]", 1)
    api_head, sep, api_tail = api_path.partition("[]")
    count = max(_length(declared, tf_head), _length(live, api_head) if sep else 1)
    for i in range(count):
        yield from expand(f"{tf_head}.{i}{tf_tail}", f"{api_head}.{i}{api_tail}" if sep
                          else api_head, declared, live)


def _planned(fact: AttributeFact, declared: Any) -> tuple[bool, Any]:
    """(compare at all, the value the plan would send)."""
    if declared is not None:
        return True, declared
    if fact.omitted in ("reset", "default"):
        return True, fact.default
    return False, None


def configured(rtype: str, live: Live) -> bool:
    """Whether the inventory holds ``live`` as the API its Terraform resource mirrors returns
    it (``make inventory``): Asset Inventory's own representation of a Cloud Run service is
    the v1 (Knative) one, whose fields are not the v2 ones the provider reads."""
    return bool(live.resource) and live.resource_version == API_VERSION.get(rtype)


def compare(d: Declared, live: Live, stack: StackJson, env: str) -> ConfigDiff:
    """Compare one imported resource with its live configuration (see the module)."""
    out = ConfigDiff()
    facts = FACTS.get(d.type)
    if not configured(d.type, live) or facts is None:
        return out
    body = resolve_deep(stack, dict(stack.resources[d.address].body)) \
        if d.address in stack.resources else dict(d.attrs)
    handled: set[str] = set()
    # What the stack leaves to another release path (``lifecycle.ignore_changes``) is never
    # planned, so never compared.
    lifecycle = body.get("lifecycle")
    ignored = lifecycle.get("ignore_changes") if isinstance(lifecycle, Mapping) else None
    skipped = {_bare(str(p)) for p in (ignored if isinstance(ignored, list) else ())}
    if d.type == "google_bigquery_table":
        _table_schema(d, live, body, out)
        handled.add("schema")
    if d.type == "google_cloud_run_v2_service":
        _service_env(d, live, body, out)
        handled.update({"template.containers[].env", "template.containers[].env[].name",
                        "template.containers[].env[].value"})
    skipped |= {_bare(h) for h in handled}
    for path, fact in sorted(facts.items()):
        bare = _bare(path)
        if (fact.api is None or path in IDENTITY_ROWS or bare in skipped
                or bare.startswith(tuple(f"{h}." for h in skipped))):
            continue
        for tf_path, api_path in expand(path, fact.api, body, live.resource):
            _compare_one(d, live, fact, tf_path, api_path, body, out, env)
    return out


def _compare_one(d: Declared, live: Live, fact: AttributeFact, tf_path: str, api_path: str,
                 body: Mapping[str, Any], out: ConfigDiff, env: str) -> None:
    declared = get_path(body, tf_path)
    compare_it, planned = _planned(fact, declared)
    if not compare_it:
        return
    raw = get_path(live.resource, api_path)
    custom = CUSTOM.get((d.type, fact.path))
    live_value = custom(raw) if custom is not None and raw is not None else to_terraform(
        raw, "same" if fact.convert == "custom" else fact.convert)
    norm = normalize_path(tf_path)
    if fact.convert == "map" or (isinstance(planned, Mapping) and isinstance(live_value, Mapping)):
        _compare_map(d, fact, tf_path, norm, planned, live_value, out)
        return
    if _has_ref(planned):
        if owned(d.type, norm):
            out.changes.append(Change(d.address, tf_path, live_value, planned))
        return
    if _same(planned, live_value):
        return
    if fact.force_new is True:
        out.blocked.append(Blocked(
            d, live, tf_path, json.dumps(planned), json.dumps(live_value),
            f"declare the live value: set {tf_path} = {json.dumps(live_value)} on {d.address} "
            f"(env {env}); the provider replaces the resource when it changes", fact.source))
    elif owned(d.type, norm):
        out.changes.append(Change(d.address, tf_path, live_value, planned))
    elif not _zero(live_value):
        out.kept.append(Kept(d.address, tf_path, live_value))
    elif fact.computed:
        # Live runs on the server's default (the API omits it) and nothing decided otherwise:
        # declare nothing (null), so the computed attribute keeps what runs.
        out.kept.append(Kept(d.address, tf_path, None))
    else:
        # Live has nothing where the stack sets a value nobody owns: the stack's value is new.
        out.changes.append(Change(d.address, tf_path, live_value, planned))


def _compare_map(d: Declared, fact: AttributeFact, tf_path: str, norm: str, planned: Any,
                 live_value: Any, out: ConfigDiff) -> None:
    mine = dict(planned) if isinstance(planned, Mapping) else {}
    theirs = {k: v for k, v in (live_value or {}).items() if not SYSTEM_LABEL.match(str(k))} \
        if isinstance(live_value, Mapping) else {}
    is_owned = owned(d.type, norm)
    theirs = {k: v for k, v in theirs.items() if v != MASK}
    merged = dict(mine)
    for key, value in theirs.items():
        if key not in mine or (not _same(mine[key], value) and not is_owned and not _has_ref(mine[key])):
            merged[key] = value
    differs = {k for k in mine if not _same(mine[k], theirs.get(k))}
    if is_owned and differs:
        out.changes.append(Change(d.address, tf_path, {k: theirs.get(k) for k in sorted(differs)},
                                  {k: mine[k] for k in sorted(differs)}))
    if merged != mine:
        out.kept.append(Kept(d.address, tf_path, merged))


def _service_env(d: Declared, live: Live, body: Mapping[str, Any], out: ConfigDiff) -> None:
    """A container's env list: declared variables are the manifest's (changes), live ones
    nobody declares are kept."""
    declared = get_path(body, "template.containers.0.env") or []
    live_env = get_path(live.resource, "template.containers[0].env") or []
    mine = {e.get("name"): e for e in declared if isinstance(e, Mapping)}
    theirs = {e.get("name"): to_terraform(e, "same") for e in live_env if isinstance(e, Mapping)}
    masked = sorted(str(k) for k, e in theirs.items() if k not in mine and e.get("value") == MASK)
    if masked:
        # Never write the mask back as a value: the first apply removes these (the stack owns
        # the whole list); the manifest must declare them, as secret references.
        out.changes.append(Change(
            d.address, "template.containers.0.env", dict.fromkeys(masked, MASK),
            "removed: secret-like plain variables; declare each as a Secret Manager reference"))
        theirs = {k: e for k, e in theirs.items() if k not in masked}
    changed = sorted(str(k) for k in mine if not _same(mine[k], theirs.get(k)))
    if changed:
        out.changes.append(Change(d.address, "template.containers.0.env",
                                  {k: (theirs.get(k) or {}).get("value") for k in changed},
                                  {k: mine[k].get("value") for k in changed}))
    extra = [theirs[k] for k in sorted(str(k) for k in theirs) if k not in mine]
    if extra:
        out.kept.append(Kept(d.address, "template.containers.0.env", [*declared, *extra]))


LEGACY_TYPES = {"INTEGER": "INT64", "FLOAT": "FLOAT64", "BOOLEAN": "BOOL", "STRUCT": "RECORD"}


def _field(f: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: f[k] for k in ("name", "type", "mode", "description") if f.get(k)}
    if isinstance(f.get("fields"), list):
        out["fields"] = [_field(x) for x in f["fields"] if isinstance(x, Mapping)]
    return out


def merged_schema(declared: Sequence[Mapping[str, Any]],
                  live: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """(live fields as they are + declared columns live lacks, as NULLABLE; added names)."""
    live = [f for f in live if isinstance(f, Mapping)]
    have = {str(f.get("name", "")).lower() for f in live}
    out = [_field(f) for f in live]
    added = []
    for f in declared:
        if not isinstance(f, Mapping):
            continue
        if str(f.get("name", "")).lower() in have:
            continue
        col = _field(f)
        col["mode"] = "NULLABLE" if col.get("mode", "NULLABLE") != "REPEATED" else "REPEATED"
        out.append(col)
        added.append(str(f.get("name")))
    return out, added


def _table_schema(d: Declared, live: Live, body: Mapping[str, Any], out: ConfigDiff) -> None:
    schema = live.resource.get("schema")
    fields = schema.get("fields") if isinstance(schema, Mapping) else None
    if not isinstance(fields, list):
        return
    try:
        declared = json.loads(str(body.get("schema") or "[]"))
    except json.JSONDecodeError:
        return
    merged, added = merged_schema(declared, fields)
    if [_field(f) for f in declared if isinstance(f, Mapping)] == merged:
        return
    out.kept.append(Kept(d.address, "schema", json.dumps(merged)))
    if added:
        out.changes.append(Change(d.address, "schema", [f.get("name") for f in fields],
                                  f"adds NULLABLE columns {', '.join(added)}"))
