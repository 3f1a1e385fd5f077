"""Helpers for the function tests: saved CloudEvents, environments, emulator state.

The processor, phase and topic names below are test data standing in for what the stack
generates from the manifest; the function code reads them from the environment only.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudevents.http import CloudEvent

from functions.phase3_to_phase4.config import Config
from functions.phase3_to_phase4.handler import handle_event
from functions.pipeline_canary.config import CanaryConfig
from functions.pipeline_canary.health import Report, check_health
from infra.local.emulators import Emulators

EVENTS_DIR = Path(__file__).parent / "events"
PROJECT = "test-project"
PHASES = [
    "phase_1_scrapers",
    "phase_2_raw",
    "phase_3_analytics",
    "phase_4_precompute",
    "phase_5_predictions",
]
PHASE3 = [
    "player_game_summary",
    "team_defense_game_summary",
    "team_offense_game_summary",
    "upcoming_player_game_context",
    "upcoming_team_game_context",
]
# The canary tests' clock: 11:00 in New York, where "today" is 2026-02-05.
NOW = dt.datetime(2026, 2, 5, 16, 0, tzinfo=dt.UTC)
TODAY, YESTERDAY = "2026-02-05", "2026-02-04"
CONFIG_VARS = (
    "GCP_PROJECT",
    "SOURCE_PHASE",
    "KNOWN_PHASES",
    "EXPECTED_PROCESSORS",
    "TRIGGER_TOPIC",
    "COMPLETION_COLLECTION",
    "COMPLETION_TTL_DAYS",
    "BQ_COMPLETIONS_TABLE",
    "TRANSITION",
    "CANARY_TIMEZONE",
    "GATED_TRANSITIONS",
    "DEAD_LETTER_SUBSCRIPTIONS",
    "FIRESTORE_EMULATOR_HOST",
    "PUBSUB_EMULATOR_HOST",
    "LOG_LEVEL",
)


def orchestrator_environ(
    collection: str = "phase3_completion",
    topic: str = "nba-phase4-trigger",
    expected: list[str] | None = None,
    bq_table: str = "",
) -> dict[str, str]:
    return {
        "GCP_PROJECT": PROJECT,
        "SOURCE_PHASE": "phase_3_analytics",
        "KNOWN_PHASES": json.dumps(PHASES),
        "EXPECTED_PROCESSORS": json.dumps(PHASE3 if expected is None else expected),
        "TRIGGER_TOPIC": topic,
        "COMPLETION_COLLECTION": collection,
        "COMPLETION_TTL_DAYS": "7",
        "BQ_COMPLETIONS_TABLE": bq_table,
        "TRANSITION": "phase3_to_phase4",
    }


def gated_transition(
    collection: str,
    topic: str = "nba-phase4-trigger",
    expected: list[str] | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """One entry of the canary's ``GATED_TRANSITIONS``, with ``changes`` applied."""
    return {
        "name": "phase3_to_phase4",
        "source_phase": "phase_3_analytics",
        "collection": collection,
        "expected": PHASE3 if expected is None else expected,
        "stall_minutes": 30,
        "trigger_topic": topic,
        "announcements": "nba-phase3-to-phase4-canary-sub",
        "silent_minutes": 15,
        **changes,
    }


def canary_environ(collection: str, *args: Any, **kwargs: Any) -> dict[str, str]:
    """The canary's environment watching one gated transition: ``gated_transition`` of the
    same arguments."""
    return {
        "GCP_PROJECT": PROJECT,
        "CANARY_TIMEZONE": "America/New_York",
        "COMPLETION_TTL_DAYS": "7",
        "GATED_TRANSITIONS": json.dumps([gated_transition(collection, *args, **kwargs)]),
    }


def load_event(name: str) -> CloudEvent:
    """A saved CloudEvent JSON from tests/functions/events/ as the handler receives it."""
    raw = json.loads((EVENTS_DIR / f"{name}.json").read_text())
    data = raw.pop("data")
    return CloudEvent(raw, data)


def completion_payload(processor: str, game_date: str, **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "processor_name": processor,
        "phase": "phase_3_analytics",
        "execution_id": f"exec-{processor}",
        "correlation_id": f"corr-{game_date}",
        "game_date": game_date,
        "output_table": processor,
        "output_dataset": "nba_analytics",
        "status": "success",
        "record_count": 10,
        "timestamp": f"{game_date}T12:00:00+00:00",
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def pubsub_data(payload: Any, message_id: str = "1") -> dict[str, Any]:
    """CloudEvent ``data`` of a messagePublished event carrying ``payload`` as JSON."""
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    return {
        "message": {"data": encoded, "attributes": {}, "messageId": message_id},
        "subscription": f"projects/{PROJECT}/subscriptions/test",
    }


def make_event(payload: Any, event_id: str) -> CloudEvent:
    return CloudEvent(
        {
            "id": event_id,
            "source": f"//pubsub.googleapis.com/projects/{PROJECT}/topics/completions",
            "type": "google.cloud.pubsub.topic.v1.messagePublished",
        },
        pubsub_data(payload, event_id),
    )


def log_lines(text: str) -> list[dict[str, Any]]:
    """The structured JSON log lines in captured stdout."""
    entries = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            entries.append(json.loads(line))
    return entries


@dataclass
class AdminClients:
    """Clients the tests use to seed and inspect the emulators."""

    db: Any
    publisher: Any
    subscriber: Any


@dataclass
class EmulatorWorld:
    """One test's slice of the emulators: unique collection and topic, a pull subscription."""

    emulators: Emulators
    admin: AdminClients
    collection: str
    topic: str
    subscription: str
    pulled: list[Any] = field(default_factory=list)

    @property
    def topic_path(self) -> str:
        return f"projects/{PROJECT}/topics/{self.topic}"

    def environ(self, expected: list[str] | None = None, bq_table: str = "") -> dict[str, str]:
        return orchestrator_environ(self.collection, self.topic, expected, bq_table)

    def use_orchestrator_env(self, expected: list[str] | None = None, bq_table: str = "") -> None:
        os.environ.update(self.environ(expected, bq_table))

    def record_completions(self, game_date: str, processors: list[str], at: dt.datetime, *,
                           expected: list[str] | None = None, clients: Any = None,
                           **overrides: Any) -> None:
        """The orchestrator records one completion per processor (and, once the expected set
        is complete, publishes the trigger) at time ``at``, through its own handler."""
        config = Config.from_env({**os.environ, **self.environ(expected)})
        for proc in processors:
            data = pubsub_data(completion_payload(proc, game_date, **overrides))
            handle_event(clients, config, f"{game_date}-{proc}", data, at)

    def check_canary(self, now: dt.datetime = NOW, feed: Any = None, **environ: Any) -> Report:
        """One canary run at ``now`` over this world (``canary_environ`` with ``environ``)."""
        config = CanaryConfig.from_env(canary_environ(self.collection, self.topic, **environ))
        return check_health(self.admin.db, config, now, feed=feed)

    def pull_triggers(self) -> list[Any]:
        """Every message on the trigger topic's pull subscription so far (acknowledged)."""
        empty = 0
        while empty < 2:
            response = self.admin.subscriber.pull(
                request={
                    "subscription": self.subscription,
                    "max_messages": 100,
                    "return_immediately": True,
                }
            )
            received = list(response.received_messages)
            if not received:
                empty += 1
                continue
            self.admin.subscriber.acknowledge(
                request={
                    "subscription": self.subscription,
                    "ack_ids": [r.ack_id for r in received],
                }
            )
            self.pulled.extend(r.message for r in received)
        return list(self.pulled)

    def summary(self, game_date: str) -> dict[str, Any]:
        snap = self.admin.db.collection(self.collection).document(game_date).get()
        assert snap.exists, f"no summary {self.collection}/{game_date}"
        return snap.to_dict()

    def doc(self, path: str) -> dict[str, Any] | None:
        snap = self.admin.db.document(f"{self.collection}/{path}").get()
        return snap.to_dict() if snap.exists else None

    def records(self, game_date: str) -> dict[str, dict[str, Any]]:
        coll = self.admin.db.collection(self.collection).document(game_date)
        return {s.id: s.to_dict() for s in coll.collection("completions").stream()}


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)
