"""What the canary reports: one ``Finding`` per problem, of one of five kinds.

``orchestrator_silent``  an expected processor announced ``success`` (not a backfill) on the
                         gate's source topic more than ``silent_minutes`` ago, read from the
                         canary's own subscription, and the orchestrator holds no record of
                         it: the orchestrator does not run (trigger invoker, Eventarc, start);
                         names the processors announced and not recorded and the minutes.
                         Also when the canary cannot collect the announcements (a blind
                         canary is not healthy).
``trigger_stalled``      every expected processor has a success record, the trigger claim is
                         not published, and the last completion is older than
                         ``stall_minutes``; names the completed and missing processors.
``configuration_drift``  records from processors that are not expected; expected processors
                         never seen on yesterday's date once that date has any completion,
                         or on today's once every other one reported more than
                         ``silent_minutes`` (plus the processor's usual lag) ago; a summary
                         whose expected set differs from the declared one.
``stale_tracking``       a summary that disagrees with its own completion records or trigger
                         claim (count, missing, unexpected, triggered).
``dead_letters``         messages waiting in the dead-letter subscription of a push edge.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

ORCHESTRATOR_SILENT = "orchestrator_silent"
TRIGGER_STALLED = "trigger_stalled"
CONFIGURATION_DRIFT = "configuration_drift"
STALE_TRACKING = "stale_tracking"
DEAD_LETTERS = "dead_letters"
KINDS = (ORCHESTRATOR_SILENT, TRIGGER_STALLED, CONFIGURATION_DRIFT, STALE_TRACKING, DEAD_LETTERS)


@dataclass(frozen=True)
class Finding:
    """One problem the canary found; logged at ERROR and returned in the report."""

    finding: str
    transition: str
    game_date: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "finding": self.finding,
            "transition": self.transition,
            "game_date": self.game_date,
            "message": self.message,
            **self.details,
        }


def iso(value: Any) -> Any:
    """``value`` as ISO 8601 text when it is a datetime, else unchanged."""
    return value.isoformat() if isinstance(value, dt.datetime) else value
