"""(a) One game day on the synthesized dev stack: Phase 1 → 5, exactly one Phase 4 trigger."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

import pytest

from infra.local.demo import run_demo
from tests.integration.support import Running, by_date

pytestmark = pytest.mark.integration

GAME_DATE = "2031-01-15"


@dataclass(frozen=True)
class Day:
    exit_code: int
    output: str
    triggers: Counter[str]


@pytest.fixture(scope="module")
def day(base: Running) -> Day:
    """The demo drives the day; our own pull subscription counts the Phase 4 triggers."""
    triggers = base.own_subscription("phase4-trigger", "day")
    lines: list[str] = []
    code = run_demo(base.workdir, GAME_DATE, timeout=30, say=lines.append)
    time.sleep(1.0)  # a late duplicate trigger, if any, would arrive by now
    return Day(code, "\n".join(lines), by_date(base.pubsub.drain(triggers)))


def test_the_day_reaches_the_prediction_stage_with_exactly_one_phase4_trigger(
        base: Running, day: Day) -> None:
    assert day.exit_code == 0, day.output
    assert day.triggers == {GAME_DATE: 1}
    summary = base.document(f"phase3_completion/{GAME_DATE}")
    assert summary is not None
    expected = len(base.manifest.enabled_processors(3))
    assert summary["_completed_count"] == expected == summary["_expected_count"]
    assert summary["_triggered"] is True
    coordinator = [r for r in base.service_records("prediction-coordinator")
                   if r.get("game_date") == GAME_DATE]
    worker = [r for r in base.service_records("prediction-worker")
              if r.get("game_date") == GAME_DATE]
    assert [r["status"] for r in coordinator] == [200]
    assert [r["status"] for r in worker] == [200]
    assert coordinator[0]["invoked"] == [
        {"target": "prediction-worker", "path": "/predict", "status": 200}]


def test_every_hop_passed_its_front_under_the_declared_identity(base: Running, day: Day) -> None:
    records = [r for r in base.front_records() if r.get("game_date") == GAME_DATE]
    seen = {(r["target"], r["identity"].split("@")[0], r["status"]) for r in records}
    assert seen == {
        ("nba-phase2-raw-processors", "nba-push-phase1-to-phase2", 200),
        ("nba-phase3-analytics-processors", "nba-push-phase2-to-phase3", 200),
        ("phase3-to-phase4-orchestrator", "nba-trg-orch-p3p4", 200),
        ("nba-phase4-precompute-processors", "nba-push-phase3-to-phase4", 200),
        ("prediction-coordinator", "nba-push-phase4-to-phase5", 200),
        ("prediction-worker", "nba-run-p5-coordinator", 200),
    }


def test_phase2_and_phase3_publish_what_the_manifest_enables(base: Running, day: Day) -> None:
    phase2 = [r for r in base.service_records("phase2-raw-processors")
              if r.get("game_date") == GAME_DATE]
    published = sorted(p["processor_name"] for r in phase2 for p in r["published"])
    assert published == list(base.manifest.enabled_processors(2))
    phase3 = [r for r in base.service_records("phase3-analytics-processors")
              if r.get("game_date") == GAME_DATE]
    names = {p["processor_name"] for r in phase3 for p in r["published"]}
    assert names == set(base.manifest.enabled_processors(3))


def test_the_demo_prints_a_markdown_timeline(base: Running, day: Day) -> None:
    assert "| t (s) | hop | caller | deliveries | status | publish→delivery |" in day.output
    assert "phase4-trigger → nba-phase4-precompute-processors /process" in day.output
    expected = len(base.manifest.enabled_processors(3))
    assert f"_completed_count {expected}/{expected}, _triggered True" in day.output
    assert "prediction stage reached" in day.output
