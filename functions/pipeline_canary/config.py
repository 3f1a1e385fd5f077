"""The canary's configuration, read from the environment the stack generates.

``GATED_TRANSITIONS`` lists each gated transition (its completion collection, expected
processors, stall limit, and the canary's own subscription of its source topic with how
long an announcement may stay unrecorded); ``DEAD_LETTER_SUBSCRIPTIONS`` the dead-letter
subscription of each push edge; ``CANARY_TIMEZONE`` decides what "today" is;
``COMPLETION_TTL_DAYS`` how long the canary's announcement records live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from functions._shared import config as shared
from functions._shared.completion import PROCESSOR_RE
from functions._shared.config import ConfigError

__all__ = [
    "CanaryConfig",
    "ConfigError",
    "DeadLetterQueue",
    "Transition",
    "load_dead_letter_queues",
    "load_transitions",
]


def _json_array(raw: str, name: str) -> list[Any]:
    items = shared.parse_json(raw, name)
    if not isinstance(items, list):
        raise ConfigError(f"{name} must be a JSON array, got {raw!r}")
    return items


def _object(item: Any, where: str, keys: tuple[str, ...]) -> dict[str, Any]:
    """``item`` when it is an object whose ``keys`` are non-empty strings; else ``ConfigError``."""
    if not isinstance(item, dict):
        raise ConfigError(f"{where} must be an object, got {item!r}")
    for key in keys:
        if not isinstance(item.get(key), str) or not item[key]:
            raise ConfigError(f"{where}.{key} must be a non-empty string, got {item.get(key)!r}")
    return item


@dataclass(frozen=True)
class Transition:
    """One gated transition, as the stack declares it in ``GATED_TRANSITIONS``."""

    name: str
    """The transition key (``phase3-to-phase4``): its findings' ``transition`` and the prefix of
    its announcement documents' ids."""
    source_phase: str
    """The phase id it gates on (``phase_3_analytics``); announcements naming another are ignored."""
    collection: str
    """The Firestore collection of the orchestrator's date summaries (``phase3_completion``)."""
    expected: tuple[str, ...]
    """The expected processors, sorted (the orchestrator's ``EXPECTED_PROCESSORS``)."""
    stall_minutes: int
    """How long a complete set may go without a published trigger before a stall finding (30
    when the entry omits it)."""
    trigger_topic: str
    """The id of the topic the orchestrator publishes the trigger to (``nba-phase4-trigger``)."""
    announcements: str = ""
    """The id of the canary's own pull subscription on the transition's source topic."""
    silent_minutes: int = 30
    """How long a ``success`` announcement may stay unrecorded by the orchestrator before
    the canary reports it silent (the stall limit less one canary interval)."""

    def announcements_path(self, project: str) -> str:
        return f"projects/{project}/subscriptions/{self.announcements}"

    @classmethod
    def from_json(cls, item: Any, where: str) -> Transition:
        """One entry of the array; ``ConfigError`` naming ``where`` and the bad field."""
        item = _object(item, where, ("name", "source_phase", "collection", "trigger_topic",
                                     "announcements"))
        expected = item.get("expected")
        if not shared.is_name_list(expected, PROCESSOR_RE):
            raise ConfigError(
                f"{where}.expected must be a non-empty list of snake_case processor names, "
                f"got {expected!r}"
            )
        stall = item.get("stall_minutes", 30)
        if not isinstance(stall, int) or isinstance(stall, bool) or stall < 1:
            raise ConfigError(f"{where}.stall_minutes must be a positive integer, got {stall!r}")
        if not shared.PUBSUB_ID_RE.match(item["announcements"]):
            raise ConfigError(f"{where}.announcements must be a subscription id (not its path), "
                              f"got {item['announcements']!r}")
        silent = item.get("silent_minutes", stall)
        if (not isinstance(silent, int) or isinstance(silent, bool)
                or not 1 <= silent <= stall):
            raise ConfigError(f"{where}.silent_minutes must be an integer from 1 to "
                              f"stall_minutes ({stall}), got {silent!r}")
        return cls(
            name=item["name"],
            source_phase=item["source_phase"],
            collection=item["collection"],
            expected=tuple(sorted(expected)),
            stall_minutes=stall,
            trigger_topic=item["trigger_topic"],
            announcements=item["announcements"],
            silent_minutes=silent,
        )


@dataclass(frozen=True)
class DeadLetterQueue:
    """The dead-letter subscription of one push edge (``DEAD_LETTER_SUBSCRIPTIONS``)."""

    edge: str
    """The push edge's transition key (``phase2-to-phase3``): its findings' ``transition``."""
    subscription: str
    """The id, not the path, of the edge's dead-letter pull subscription
    (``nba-phase3-analytics-sub-dlq-sub``)."""
    target: str
    """The cloud name of the service the edge pushes to, named in the finding."""

    @classmethod
    def from_json(cls, item: Any, where: str) -> DeadLetterQueue:
        """One entry of the array; ``ConfigError`` naming ``where`` and the bad field."""
        item = _object(item, where, ("edge", "subscription", "target"))
        return cls(item["edge"], item["subscription"], item["target"])


def load_transitions(environ: Mapping[str, str]) -> tuple[Transition, ...]:
    """Parse ``GATED_TRANSITIONS``; raise ``ConfigError`` naming the bad entry."""
    raw = shared.require_env(environ, "GATED_TRANSITIONS", "a JSON array of gated transitions")
    items = _json_array(raw, "GATED_TRANSITIONS")
    transitions = tuple(Transition.from_json(item, f"GATED_TRANSITIONS[{i}]")
                        for i, item in enumerate(items))
    names = [t.name for t in transitions]
    if len(set(names)) != len(names):
        raise ConfigError(f"GATED_TRANSITIONS names a transition twice: {names}")
    return transitions


def load_dead_letter_queues(environ: Mapping[str, str]) -> tuple[DeadLetterQueue, ...]:
    """Parse ``DEAD_LETTER_SUBSCRIPTIONS`` (optional: unset means no push edges to watch)."""
    raw = environ.get("DEAD_LETTER_SUBSCRIPTIONS", "").strip()
    if not raw:
        return ()
    items = _json_array(raw, "DEAD_LETTER_SUBSCRIPTIONS")
    return tuple(DeadLetterQueue.from_json(item, f"DEAD_LETTER_SUBSCRIPTIONS[{i}]")
                 for i, item in enumerate(items))


@dataclass(frozen=True)
class CanaryConfig:
    """The canary's configuration, read from the environment on first use."""

    project: str
    """``GCP_PROJECT``: the project whose Firestore and subscriptions it reads."""
    timezone: str
    """``CANARY_TIMEZONE``, an IANA zone: which game dates are today and yesterday."""
    transitions: tuple[Transition, ...]
    """``GATED_TRANSITIONS``, names unique."""
    dead_letters: tuple[DeadLetterQueue, ...] = ()
    """``DEAD_LETTER_SUBSCRIPTIONS``; empty when unset (no push edge to watch)."""
    ttl_days: int = 7
    """``COMPLETION_TTL_DAYS``: the canary's announcement records expire after this."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> CanaryConfig:
        project = shared.require_project(environ)
        tz = shared.require_env(environ, "CANARY_TIMEZONE", "an IANA time zone, e.g. America/New_York")
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"CANARY_TIMEZONE {tz!r} is not an IANA time zone") from exc
        ttl_days = shared.require_ttl_days(environ)
        return cls(project=project, timezone=tz, transitions=load_transitions(environ),
                   dead_letters=load_dead_letter_queues(environ), ttl_days=ttl_days)
