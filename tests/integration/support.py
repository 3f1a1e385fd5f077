"""Helpers for the local-pipeline integration tests (no fixtures here; see conftest.py)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.local.demo import firestore_document
from infra.local.pubsub import PubSub, Received
from infra.local.records import read_jsonl
from infra.model.manifest import Manifest

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Running:
    """One topology brought up by the session: its state.json and what it was built from."""

    name: str
    workdir: Path
    state: dict[str, Any]
    manifest: Manifest
    stack: Path

    @property
    def pubsub(self) -> PubSub:
        return PubSub(self.state["pubsub_emulator_host"])

    def topic(self, short: str) -> str:
        return self.state["topics"][short]

    def own_subscription(self, topic_short: str, label: str) -> str:
        """A fresh pull subscription of this test on ``topic_short``."""
        path = (f"projects/{self.state['project']}/subscriptions/"
                f"test-{label}-{uuid.uuid4().hex[:8]}")
        self.pubsub.create_subscription({"name": path, "topic": self.topic(topic_short),
                                         "ack_deadline_seconds": 60})
        return path

    def document(self, path: str) -> dict[str, Any] | None:
        return firestore_document(self.state, path)

    def front_records(self) -> list[dict[str, Any]]:
        return list(read_jsonl(Path(self.state["fronts_log"])))

    def service_records(self, key: str) -> list[dict[str, Any]]:
        return list(read_jsonl(Path(self.state["records"]) / f"{key}.jsonl"))


def by_date(messages: Iterable[Received]) -> Counter[str]:
    """How many pulled messages carry each ``game_date`` (body or attribute)."""
    counts: Counter[str] = Counter()
    for m in messages:
        date = m.data.get("game_date") if isinstance(m.data, dict) else None
        counts[str(date or m.attributes.get("game_date"))] += 1
    return counts


def completion(processor: str, game_date: str, *, phase: str = "phase_3_analytics",
               status: str = "success", minutes_ago: float = 0.0,
               **extra: Any) -> dict[str, Any]:
    """A completion message with the DOMAIN.md fields."""
    stamp = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    return {
        "processor_name": processor, "phase": phase, "execution_id": str(uuid.uuid4()),
        "correlation_id": f"test-{uuid.uuid4().hex[:8]}", "game_date": game_date,
        "output_table": processor, "output_dataset": "nba_analytics", "status": status,
        "record_count": 42, "timestamp": stamp.isoformat(), **extra,
    }


def phase1_completion(running: Running, game_date: str) -> dict[str, Any]:
    entry = running.state["entry"]
    return {
        "processor_name": entry["processor"], "phase": entry["phase"],
        "execution_id": str(uuid.uuid4()), "correlation_id": f"test-{uuid.uuid4().hex[:8]}",
        "game_date": game_date, "output_table": None, "output_dataset": None,
        "status": "success", "record_count": 1,
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
    }


def stack_json(path: Path) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))
