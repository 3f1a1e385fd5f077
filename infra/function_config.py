"""Configuration each function receives, generated from the manifest at synth time.

The functions never restate the pipeline: the orchestrator's expected set is the enabled
processors of its transition's source phase, the canary's transitions are the manifest's
gated transitions. The stack puts these into the function's environment; the local pipeline
and ``make check-functions`` use the very same values.
"""

from __future__ import annotations

import json

from infra.envs import EnvConfig
from infra.manifest import Function, Manifest, Transition
from infra.naming import Names


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
    return base | {
        "CANARY_TIMEZONE": env.time_zone,
        "GATED_TRANSITIONS": json.dumps([
            {
                "name": t.key,
                "source_phase": manifest.phase(t.source).id,
                "collection": t.completion_collection,
                "expected": list(manifest.enabled_processors(t.source)),
                "stall_minutes": t.stall_minutes,
                "trigger_topic": names.topic(t.trigger_topic or ""),
            }
            for t in manifest.gated()
        ]),
    }
