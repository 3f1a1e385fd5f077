"""Configuration each function receives, generated from the manifest at synth time.

The functions never restate the pipeline: the orchestrator's expected set is the enabled
processors of its transition's source phase, the canary's transitions are the manifest's
gated transitions. The stack puts these into the function's environment; the local pipeline
and ``make check-functions`` use the very same values.
"""

from __future__ import annotations

import json

from infra.model.components import Function, Transition
from infra.model.envs import EnvConfig
from infra.model.limits import longest_gap_minutes
from infra.model.manifest import Manifest
from infra.model.naming import Names

MIN_SILENT_MINUTES = 5
"""The shortest silence the canary calls a silent orchestrator: it records a delivery within
seconds, and Eventarc's first retries of a failed one (10 s, 20 s, 40 s, ...) fit in it."""


def orchestrated_transition(manifest: Manifest, fn: Function) -> Transition:
    """The gated transition ``fn`` gates (validated to exist for orchestrators)."""
    for t in manifest.gated():
        if t.function == fn.key:
            return t
    raise KeyError(f"function {fn.key!r} gates no transition; set transitions[].function")


def completion_table(manifest: Manifest, env: EnvConfig) -> str:
    names = Names(env)
    for t in manifest.tables:
        if t.name == "phase_completions":
            return f"{names.dataset(t.dataset)}.{t.name}"
    return ""


def check_interval_minutes(manifest: Manifest, fn: Function) -> int:
    """The longest gap, in minutes, between two runs of the scheduler jobs calling ``fn``
    (0 when no job calls it), over a year of their cron schedules in their time zones
    (``infra.model.limits.longest_gap_minutes``, the rule the manifest checks the canary by)."""
    schedules = tuple((job.schedule, job.time_zone) for job in manifest.jobs if job.target == fn.key)
    return longest_gap_minutes(schedules) if schedules else 0


def silent_minutes(stall_minutes: int, interval_minutes: int) -> int:
    """How long an announcement may stay unrecorded before the canary reports a silent
    orchestrator: the stall limit less one canary interval, so the run that sees it comes
    within the stall limit of the announcement (at least ``MIN_SILENT_MINUTES``, at most
    the stall limit)."""
    return min(stall_minutes, max(MIN_SILENT_MINUTES, stall_minutes - interval_minutes))


def function_env(manifest: Manifest, env: EnvConfig, fn: Function) -> dict[str, str]:
    """Environment variables for ``fn`` in ``env`` (plain configuration, never secrets)."""
    names = Names(env)
    base = {"GCP_PROJECT": env.project_id, "PIPELINE_ENV": env.name}
    if fn.role == "orchestrator":
        t = orchestrated_transition(manifest, fn)
        assert t.trigger_topic is not None and t.completion_collection is not None
        return base | {
            "TRANSITION": t.key,
            "SOURCE_PHASE": manifest.phase(t.source).id,
            "KNOWN_PHASES": json.dumps([p.id for p in manifest.phases]),
            "EXPECTED_PROCESSORS": json.dumps(list(manifest.enabled_processors(t.source))),
            "TRIGGER_TOPIC": names.topic(t.trigger_topic),
            "COMPLETION_COLLECTION": t.completion_collection,
            "COMPLETION_TTL_DAYS": str(manifest.completion_ttl_days),
            "BQ_COMPLETIONS_TABLE": completion_table(manifest, env),
        }
    interval = check_interval_minutes(manifest, fn)
    return base | {
        "CANARY_TIMEZONE": env.time_zone,
        "COMPLETION_TTL_DAYS": str(manifest.completion_ttl_days),
        "GATED_TRANSITIONS": json.dumps([
            {
                "name": t.key,
                "source_phase": manifest.phase(t.source).id,
                "collection": t.completion_collection,
                "expected": list(manifest.enabled_processors(t.source)),
                "stall_minutes": t.stall_minutes,
                "trigger_topic": names.topic(t.trigger_topic or ""),
                "announcements": names.canary_subscription(t.key),
                "silent_minutes": silent_minutes(t.stall_minutes, interval),
            }
            for t in manifest.gated()
        ]),
        "DEAD_LETTER_SUBSCRIPTIONS": json.dumps([
            {
                "edge": t.key,
                "subscription": names.dead_letter_subscription(t.subscription),
                "target": names.service(manifest.service(t.target_service)),
            }
            for t in manifest.transitions
        ]),
    }
