"""The drills by name, as ``python -m infra.local drill [NAME...]`` takes them.

Kept apart from the drills themselves (``infra.local.drills``), which load the emulator
clients: the command line lists and checks the names without that start-up cost.
"""

from __future__ import annotations

from collections.abc import Sequence

from infra.local.errors import LocalError

CLEAN = "clean"
"""The topology the drills that break nothing share (each on its own game date)."""
CANARY_DRILLS = ("push-invoker", "trigger-invoker", "orchestrator-crash", "config-drift",
                 "processor-never-reports", "duplicates", "baseline", "gameless", "backfill")
"""The outage classes the canary must report (or, where nothing broke, must not)."""
MONITORING_DRILLS = ("canary-silenced", "scheduler-failures", "backlog-age")
"""The classes only Cloud Monitoring sees: covered by an alert policy of the stack."""
ALL_DRILLS = CANARY_DRILLS + MONITORING_DRILLS


def select(names: Sequence[str]) -> tuple[str, ...]:
    """The drills ``names`` asks for (all when empty), in table order; ``LocalError`` naming
    the known ones for an unknown name."""
    unknown = sorted(set(names) - set(ALL_DRILLS))
    if unknown:
        raise LocalError(f"no drill {', '.join(unknown)}; drills: {', '.join(ALL_DRILLS)}")
    return tuple(n for n in ALL_DRILLS if not names or n in names)
