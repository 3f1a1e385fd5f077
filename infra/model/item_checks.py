"""Pass 1 of ``Manifest.validate`` (``infra.model.manifest``): each declared item's own fields.

One function per kind of item (``check_service``, ``check_transition``, ...), each taking the
field path of the item (``services[2]``) and raising ``ManifestError`` on the first field
that breaks a rule: every name and value against what Google accepts (``infra.model.limits``,
each rule citing its documentation) and the manifest's own conventions (snake_case tables,
routes starting with ``/``). Nothing here looks at another item; duplicates and references
are the later passes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Sequence
from typing import TypeVar

from infra.model import components, limits
from infra.model.components import KEY_RE, PHASE_ID_RE, PROCESSOR_RE, ROUTE_RE, SHORT_RE, invalid_value

T = TypeVar("T")


def check_each(field: str, items: Sequence[T], check: Callable[[str, T], None]) -> None:
    """``check`` every item of the manifest field ``field``, in order, at ``field[i]``."""
    for i, item in enumerate(items):
        check(f"{field}[{i}]", item)


def check_phase(where: str, p: components.Phase) -> None:
    if not PHASE_ID_RE.match(p.id):
        raise invalid_value(f"{where}.id", p.id, "expected phase_<n>_<name>, e.g. phase_2_raw")


def check_processor(where: str, proc: components.Processor) -> None:
    if not PROCESSOR_RE.match(proc.name):
        raise invalid_value(f"{where}.name", proc.name, "use snake_case")
    for table in proc.output_tables:
        if not PROCESSOR_RE.match(table):
            raise invalid_value(f"{where}.output_tables", table, "a snake_case table name")
        check_name(f"{where}.output_tables", table, limits.BIGQUERY_TABLE)


def check_topic(where: str, t: components.Topic, removed: Collection[str]) -> None:
    check_key(f"{where}.key", t.key, limits.PUBSUB)
    if t.key in removed:
        raise invalid_value(f"{where}.key", t.key, "it is listed in removed; do not re-declare it")


def check_service(where: str, s: components.Service, removed: Collection[str]) -> None:
    _check_component(where, s.key, s.cloud_name, s.short, removed, limits.CLOUD_RUN_SERVICE)
    for r in s.routes:
        if not ROUTE_RE.match(r):
            raise invalid_value(f"{where}.routes", r, "routes start with / (e.g. /process)")
    if not 1 <= s.timeout_seconds <= limits.CLOUD_RUN_TIMEOUT_MAX:
        raise invalid_value(f"{where}.timeout_seconds", s.timeout_seconds,
                            f"1..{limits.CLOUD_RUN_TIMEOUT_MAX} (Cloud Run's request timeout)")


def check_function(where: str, f: components.Function, removed: Collection[str]) -> None:
    _check_component(where, f.key, f.cloud_name, f.short, removed, limits.FUNCTION)
    _check_function_code(where, f)
    _check_function_resources(where, f)


def _check_component(where: str, key: str, cloud_name: str | None, short: str,
                     removed: Collection[str], rule: limits.NameRule) -> None:
    """The names of a service or function: its key, cloud name and identity short."""
    check_key(f"{where}.key", key, rule)
    if cloud_name is not None:
        check_name(f"{where}.cloud_name", cloud_name, rule)
    check_short(f"{where}.short", short)
    if key in removed:
        raise invalid_value(f"{where}.key", key, "it is listed in removed; do not re-declare it")


def _check_function_code(where: str, f: components.Function) -> None:
    """Where the code is and how it is called: source folder, entry point, signature, runtime."""
    if not re.match(r"^[a-z][a-z0-9_]*$", f.source):
        raise invalid_value(f"{where}.source", f.source, "a folder name under functions/")
    if not f.entry_point.isidentifier():
        raise invalid_value(f"{where}.entry_point", f.entry_point, "a Python function name")
    if f.signature not in limits.FUNCTION_TIMEOUT_MAX:
        raise invalid_value(f"{where}.signature", f.signature, "'cloudevent' or 'http'")
    if (f.signature == "cloudevent") != (f.trigger_topic is not None):
        raise invalid_value(f"{where}.trigger_topic", f.trigger_topic,
                            "cloudevent functions need a trigger topic; http functions have none")
    if f.runtime not in limits.FUNCTION_RUNTIMES:
        raise invalid_value(f"{where}.runtime", f.runtime, "a Python runtime Cloud Functions deploys: "
                            f"{', '.join(sorted(limits.FUNCTION_RUNTIMES))}")


def _check_function_resources(where: str, f: components.Function) -> None:
    """What a function may use: timeout, memory and instances."""
    most = limits.FUNCTION_TIMEOUT_MAX[f.signature]
    if not 1 <= f.timeout_seconds <= most:
        raise invalid_value(f"{where}.timeout_seconds", f.timeout_seconds,
                            f"1..{most} for {limits.FUNCTION_KIND[f.signature]}")
    if f.memory_mb not in limits.FUNCTION_MEMORY_MB:
        raise invalid_value(f"{where}.memory_mb", f.memory_mb, "one of 128, 256, ... 8192")
    bad = limits.scaling_problem(0, f.max_instances)
    if bad:
        raise invalid_value(f"{where}.{bad[0]}", bad[1], bad[2])


def check_transition(where: str, t: components.Transition) -> None:
    check_key(f"{where}.key", t.key, limits.SERVICE_ACCOUNT)
    check_key(f"{where}.subscription", t.subscription, limits.PUBSUB)
    if t.kind not in ("direct", "gated"):
        raise invalid_value(f"{where}.kind", t.kind, "'direct' (push edge) or 'gated' (function)")
    if not ROUTE_RE.match(t.path):
        raise invalid_value(f"{where}.path", t.path, "a path starting with / (e.g. /process)")
    _check_delivery(where, t)
    if t.kind == "direct":
        if t.function is not None or t.trigger_topic is not None:
            raise invalid_value(f"{where}.function", t.function,
                                "a direct transition has no function or trigger_topic; use kind='gated'")
        return
    _check_gate(where, t)


def _check_delivery(where: str, t: components.Transition) -> None:
    """The push subscription's acknowledgement deadline and dead-letter attempts."""
    lo, hi = limits.ACK_DEADLINE_SECONDS
    if not lo <= t.ack_deadline_seconds <= hi:
        raise invalid_value(f"{where}.ack_deadline_seconds", t.ack_deadline_seconds, f"{lo}..{hi}")
    lo, hi = limits.DELIVERY_ATTEMPTS
    if not lo <= t.max_delivery_attempts <= hi:
        raise invalid_value(f"{where}.max_delivery_attempts", t.max_delivery_attempts,
                            f"{lo}..{hi} (Pub/Sub dead-letter limits)")


def _check_gate(where: str, t: components.Transition) -> None:
    """A gated transition's own fields: where it tracks completions, when it stalls."""
    if t.completion_collection is None or not PROCESSOR_RE.match(t.completion_collection):
        raise invalid_value(f"{where}.completion_collection", t.completion_collection,
                            "a snake_case Firestore collection name, e.g. phase3_completion")
    if not 5 <= t.stall_minutes <= 24 * 60:
        raise invalid_value(f"{where}.stall_minutes", t.stall_minutes, "5..1440")


def check_job(where: str, j: components.ScheduledJob) -> None:
    check_key(f"{where}.key", j.key, limits.SCHEDULER_JOB)
    if j.cloud_name is not None:
        check_name(f"{where}.cloud_name", j.cloud_name, limits.SCHEDULER_JOB)
    check_short(f"{where}.short", j.short)
    _check_problem(f"{where}.schedule", j.schedule, limits.cron_problem(j.schedule))
    _check_problem(f"{where}.time_zone", j.time_zone, limits.time_zone_problem(j.time_zone))
    never = limits.never_runs(j.schedule)
    if never:
        raise invalid_value(f"{where}.schedule", j.schedule, never)
    if not ROUTE_RE.match(j.path):
        raise invalid_value(f"{where}.path", j.path, "a path starting with / (e.g. /process)")


def check_dataset(where: str, d: components.Dataset) -> None:
    if not PROCESSOR_RE.match(d.key):
        raise invalid_value(f"{where}.key", d.key, "snake_case (BigQuery dataset ids)")
    check_name(f"{where}.key", d.key, limits.BIGQUERY_DATASET)


def check_table(where: str, t: components.Table) -> None:
    if not PROCESSOR_RE.match(t.name):
        raise invalid_value(f"{where}.name", t.name, "snake_case")
    check_name(f"{where}.name", t.name, limits.BIGQUERY_TABLE)


def check_bucket(where: str, b: components.Bucket) -> None:
    check_key(f"{where}.key", b.key, limits.BUCKET)


def check_alert(where: str, a: components.AlertPolicy) -> None:
    if a.display_name is not None and not a.display_name.strip():
        raise invalid_value(f"{where}.display_name", a.display_name,
                            "a non-empty name, or None for the default")


# ----- one field against one rule -----


def check_key(field_path: str, key: str, rule: limits.NameRule) -> None:
    """A manifest key: lowercase words joined by '-', no longer than the cloud name it is
    part of may be (the derived name itself is checked per environment,
    ``infra.model.naming``)."""
    if not isinstance(key, str) or not KEY_RE.match(key):
        raise invalid_value(field_path, key, "lowercase letters, digits and '-', starting with a "
                            f"letter, not ending with '-', e.g. phase2-raw-complete (it is part of "
                            f"{rule.kind}: {rule.accepts})")
    if len(key) > rule.max_len:
        raise invalid_value(field_path, key, f"{rule.kind} is at most {rule.max_len} characters "
                            f"(this key has {len(key)})")


def check_name(field_path: str, name: str, rule: limits.NameRule) -> None:
    """A full cloud name (``cloud_name``, table and dataset ids) against Google's rule."""
    _check_problem(field_path, name, rule.problem(name))


def check_short(field_path: str, short: str) -> None:
    # Service account ids are 6-30 chars; '<sport>-<kind>-<short>' must fit.
    if not isinstance(short, str) or not SHORT_RE.match(short):
        raise invalid_value(field_path, short, "2-15 chars of [a-z0-9-] starting with a letter "
                            "(it ends a service account id: '<sport>-<kind>-<short>', 6-30 characters)")


def _check_problem(field_path: str, value: str, problem: str | None) -> None:
    """Raise the problem a ``limits`` rule found with ``value``, if it found one."""
    if problem:
        raise invalid_value(field_path, value, problem)
