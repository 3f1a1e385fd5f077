"""(c) Ingress as Cloud Run applies it: the coordinator's call to the worker, end to end.

The coordinator has no VPC egress, so Cloud Run counts its calls as external. On the base
topology the worker takes all traffic (its invoker is the coordinator's identity only) and the
call succeeds; on the broken one the worker is internal-only and its front refuses the call,
as Cloud Run would, while the push that reached the coordinator (internal) was admitted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.local.httpd import call
from infra.local.runner import front_url
from infra.local.topology import read_topology
from tests.integration.conftest import CLOSED_TARGET, BrokenDay
from tests.integration.support import Running, stack_json

pytestmark = pytest.mark.integration

COORDINATOR = "prediction-coordinator"


def start_predictions(running: Running, game_date: str) -> tuple[int, dict[str, Any]]:
    """POST the coordinator's ``/start`` through its front as its push identity does."""
    topology = read_topology(running.stack, "nba")
    [push] = [s.push for s in topology.subscriptions
              if s.push is not None and s.push.target == COORDINATOR]
    url = front_url(running.state, COORDINATOR, push.identity, push.path)
    body = json.dumps({"game_date": game_date, "correlation_id": f"ingress-{running.name}"})
    status, answer = call(url, timeout=30, method="POST", data=body.encode(),
                          headers={"Content-Type": "application/json"})
    return status, json.loads(answer)


def worker_records(running: Running, game_date: str) -> list[dict[str, Any]]:
    return [r for r in running.front_records()
            if r["target"] == CLOSED_TARGET and r.get("game_date") == game_date]


def test_the_coordinator_reaches_the_worker_that_takes_all_traffic(base: Running) -> None:
    status, answer = start_predictions(base, "2031-03-11")
    assert (status, answer["invoked"]) == (
        200, [{"target": CLOSED_TARGET, "path": "/predict", "status": 200}])
    [record] = worker_records(base, "2031-03-11")
    assert (record["decision"], record["caller_service"]) == ("allowed", COORDINATOR)


def test_an_internal_only_worker_refuses_the_coordinator_without_vpc_egress(
        broken_day: BrokenDay) -> None:
    running = broken_day.running
    [worker] = [r for r in stack_json(running.stack)["resource"]["google_cloud_run_v2_service"]
                .values() if r["name"] == CLOSED_TARGET]
    assert worker["ingress"] == "INGRESS_TRAFFIC_INTERNAL_ONLY"
    status, answer = start_predictions(running, "2031-03-12")
    assert (status, answer["invoked"]) == (
        502, [{"target": CLOSED_TARGET, "path": "/predict", "status": 404}])
    [record] = worker_records(running, "2031-03-12")
    assert (record["status"], record["decision"], record["caller_service"]) == (
        404, "refused by ingress", COORDINATOR)
    assert record["identity"].startswith("nba-run-p5-coordinator@")
    # The worker's backend never saw the call.
    assert not [r for r in running.service_records(CLOSED_TARGET)
                if r.get("game_date") == "2031-03-12"]
