"""The front's ingress decision (``infra.local.front``), in-process, against a stub backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.local.front import CALLER_HEADER, Front, FrontSpec, as_path
from infra.local.records import JsonlLog, read_jsonl

CALLER = "nba-run-p5-coordinator@p.iam.gserviceaccount.com"
PUSHER = "nba-push-phase4-to-phase5@p.iam.gserviceaccount.com"


class Stub(Front):
    """A front whose backend always answers 200 (no socket)."""

    def forward(self, method, path, headers, body):
        return 200, {"Content-Type": "application/json"}, b"{}"


def front(tmp_path: Path, internal_only: bool, vpc_callers: tuple[str, ...] = ()) -> Stub:
    spec = FrontSpec(target="prediction-worker", kind="service", port=0, backend_port=0,
                     invokers=(f"serviceAccount:{CALLER}", f"serviceAccount:{PUSHER}"),
                     timeout_seconds=5, deliveries={}, internal_only=internal_only,
                     vpc_callers=vpc_callers)
    return Stub(spec, JsonlLog(tmp_path / "fronts.jsonl"))


def call(f: Front, identity: str, caller_service: str | None) -> int:
    headers = {CALLER_HEADER: caller_service} if caller_service else {}
    status, _, _ = f.handle("POST", as_path(identity, "/predict"), headers,
                            json.dumps({"game_date": "2031-01-15"}).encode())
    return status


@pytest.mark.parametrize(("internal_only", "vpc_callers", "expected"), [
    (True, (), 404),
    (True, ("prediction-coordinator",), 200),
    (False, (), 200),
], ids=["internal-refuses-egress-less-service", "internal-admits-vpc-caller", "all-traffic"])
def test_a_service_callers_egress_meets_the_targets_ingress(tmp_path, internal_only,
                                                           vpc_callers, expected):
    f = front(tmp_path, internal_only, vpc_callers)
    assert call(f, CALLER, "prediction-coordinator") == expected
    record = list(read_jsonl(tmp_path / "fronts.jsonl"))[-1]
    assert record["caller_service"] == "prediction-coordinator"
    assert record["decision"] == ("refused by ingress" if expected == 404 else "allowed")


def test_push_scheduler_and_trigger_calls_are_internal(tmp_path):
    assert call(front(tmp_path, internal_only=True), PUSHER, None) == 200


def test_ingress_is_decided_before_iam(tmp_path):
    f = front(tmp_path, internal_only=True)
    assert call(f, "stranger@p.iam.gserviceaccount.com", "prediction-coordinator") == 404
    assert call(front(tmp_path, internal_only=False),
                "stranger@p.iam.gserviceaccount.com", "prediction-coordinator") == 403

