"""What the canary reports: one ``Finding`` per problem, of one of four kinds.

``trigger_stalled``      every expected processor has a success record, the trigger claim is
                         not published, and the last completion is older than
                         ``stall_minutes``; names the completed and missing processors.
``configuration_drift``  records from processors that are not expected; expected processors
                         never seen on yesterday's date once that date has any completion;
                         a summary whose expected set differs from the declared one.
``stale_tracking``       a summary that disagrees with its own completion records or trigger
                         claim (count, missing, unexpected, triggered).
``dead_letters``         messages waiting in the dead-letter subscription of a push edge.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

TRIGGER_STALLED = "trigger_stalled"
CONFIGURATION_DRIFT = "configuration_drift"
STALE_TRACKING = "stale_tracking"
DEAD_LETTERS = "dead_letters"


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
