"""(b) The production failure: an invoker binding missing from the stack.

The broken topology lacks the Phase 3 service's ``roles/run.invoker`` for the phase2→3
push identity (and its subscription retries after 1-2 s instead of 10-600 s). Its day was
published at session start (``broken_day``); by now every Phase 2 completion has been
refused with 403 on each declared attempt and dead-lettered. The canary then reports the
day as stalled.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import sys
from collections import Counter
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from infra.local.runner import load_plan
from infra.local.supervisor import JobCall, fire_job
from infra.local.topology import read_topology
from infra.wait import wait_until
from tests.integration.conftest import BROKEN_SUBSCRIPTION, BROKEN_TARGET, BrokenDay
from tests.integration.support import Running, by_date, stack_json

pytestmark = pytest.mark.integration

PUSH_IDENTITY = "nba-push-phase2-to-phase3@nba-props-platform-dev.iam.gserviceaccount.com"


def _job(running: Running, name: str) -> JobCall:
    jobs = [JobCall(**j) for j in load_plan(running.workdir)["jobs"]]
    return next(j for j in jobs if j.name == name)


def _canary_module(running: Running) -> ModuleType:
    """The canary exactly as served: main.py of the unzipped bundle."""
    folder = next((running.workdir / "functions").glob("pipeline_canary-*"))
    spec = importlib.util.spec_from_file_location("served_pipeline_canary", folder / "main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def canary_report_while_dead_lettered(broken_day: BrokenDay) -> dict[str, Any]:
    """The canary over HTTP, through its front, as its scheduler job calls it, once every
    Phase 2 completion of the day sits in the edge's dead-letter subscription (same day:
    no completion has to be missing yet for the stall to be reported)."""
    running = broken_day.running
    enabled = len(running.manifest.enabled_processors(2))
    reports: list[dict[str, Any]] = []

    def reported() -> bool:
        code, body = fire_job(_job(running, "pipeline-canary-queries"))[-1]
        assert code == 200, body
        reports.append(json.loads(body))
        return any(f["finding"] == "dead_letters" and f.get("count", 0) >= enabled
                   for f in reports[-1]["findings"])

    wait_until(reported, timeout=40,
               what=f"the canary to report {enabled} dead-lettered messages")
    return reports[-1]


@pytest.fixture(scope="module")
def dead_lettered(broken_day: BrokenDay, canary_report_while_dead_lettered: dict[str, Any]) -> list[Any]:
    running = broken_day.running
    dlq = running.state["subscriptions"]["phase3-analytics-sub-dlq-sub"]
    enabled = len(running.manifest.enabled_processors(2))
    got: list[Any] = []

    def all_dead() -> bool:
        got.extend(running.pubsub.drain(dlq))
        return len(got) >= enabled

    wait_until(all_dead, timeout=40,
               what=f"{enabled} Phase 2 completions in the dead-letter topic")
    return got


def test_the_stack_under_test_lacks_exactly_that_binding(broken_day: BrokenDay) -> None:
    running = broken_day.running
    topology = read_topology(running.stack, "nba", running.state["project"])
    target = topology.targets[BROKEN_TARGET]
    assert not target.allows(PUSH_IDENTITY)
    assert target.allows(PUSH_IDENTITY.replace("push-phase2-to-phase3", "job-sd-p3"))
    sub = next(s for s in topology.subscriptions if s.name == BROKEN_SUBSCRIPTION)
    assert (sub.max_delivery_attempts, sub.minimum_backoff) == (5, "1s")


def test_pushes_get_403_and_dead_letter_after_the_declared_attempts(
        broken_day: BrokenDay, dead_lettered: list[Any]) -> None:
    running = broken_day.running
    enabled = sorted(running.manifest.enabled_processors(2))
    assert sorted(m.data["processor_name"] for m in dead_lettered) == enabled
    assert {m.data["game_date"] for m in dead_lettered} == {broken_day.game_date}
    declared = str(next(
        b["dead_letter_policy"]["max_delivery_attempts"]
        for b in stack_json(running.stack)["resource"]["google_pubsub_subscription"].values()
        if b["name"] == BROKEN_SUBSCRIPTION))
    assert {m.attributes["CloudPubSubDeadLetterSourceDeliveryCount"]
            for m in dead_lettered} == {declared}
    refused = [r for r in running.front_records() if r["target"] == BROKEN_TARGET
               and r.get("game_date") == broken_day.game_date]
    assert {(r["status"], r["decision"], r["identity"]) for r in refused} == {
        (403, "denied", PUSH_IDENTITY)}
    attempts = Counter(r["message_id"] for r in refused)
    assert sorted(attempts.values()) == [int(declared)] * len(enabled)
    assert running.service_records("phase3-analytics-processors") == []


def test_the_canary_reports_the_dead_lettered_edge_the_same_day(
        broken_day: BrokenDay, canary_report_while_dead_lettered: dict[str, Any]) -> None:
    report = canary_report_while_dead_lettered
    assert report["healthy"] is False
    (finding,) = [f for f in report["findings"] if f["finding"] == "dead_letters"]
    assert finding["transition"] == "phase2-to-phase3"
    assert finding["target"] == BROKEN_TARGET
    assert finding["game_dates"] == [broken_day.game_date]
    assert finding["subscription"].endswith("/nba-phase3-analytics-sub-dlq-sub")


def test_no_phase4_trigger_and_the_canary_reports_the_stall(
        broken_day: BrokenDay, dead_lettered: list[Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    running = broken_day.running
    day = broken_day.game_date
    # The backup scheduler job still reaches Phase 3: its identity keeps its binding.
    attempts = fire_job(_job(running, "same-day-phase3"))
    assert [code for code, _ in attempts] == [200]
    wait_until(lambda: (running.document(f"phase3_completion/{day}") or {}).get(
        "_completed_count") == 1, timeout=30, what="the backup job's completion to be recorded")

    # The canary over HTTP, through its front, as its scheduler job calls it.
    code, body = fire_job(_job(running, "pipeline-canary-queries"))[-1]
    assert code == 200
    assert {"transition": "phase3-to-phase4", "game_date": day} in json.loads(body)["checked"]

    # The canary's next-day run (its clock set to tomorrow noon): the day stalled at 1/5.
    canary = _canary_module(running)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", running.state["firestore_emulator_host"])
    env = stack_json(running.stack)["resource"]["google_cloudfunctions2_function"][
        "pipeline_canary__function"]["service_config"]["environment_variables"]
    config = canary.CanaryConfig.from_env({**env, "GCP_PROJECT": running.state["project"]})
    from google.cloud import firestore

    tomorrow = dt.datetime.fromisoformat(day) + dt.timedelta(days=1, hours=12)
    now = tomorrow.replace(tzinfo=ZoneInfo("America/New_York"))
    report = canary.check_health(firestore.Client(project=config.project), config, now)
    findings = [f.to_dict() for f in report.findings if f.game_date == day]
    assert findings, report.to_dict()
    missing = sorted(set(running.manifest.enabled_processors(3))
                     - {"upcoming_player_game_context"})
    assert any(sorted(f.get("never_seen") or f.get("missing") or []) == missing
               for f in findings), findings

    assert by_date(running.pubsub.drain(broken_day.trigger_subscription)) == {}
