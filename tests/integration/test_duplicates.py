"""(d) Duplicate, out-of-order, malformed and interleaved completions → one trigger per date.

The messages are published straight to the Phase 3 complete topic of the running base
topology, as an operator (or the acceptance scenario) would, and the Phase 4 triggers are
counted on our own pull subscription of the trigger topic.
"""

from __future__ import annotations

import json
import random
import time

import pytest

from infra.wait import wait_until
from tests.integration.support import Running, by_date, completion

pytestmark = pytest.mark.integration

DAY_A, DAY_B, DAY_C = "2031-02-01", "2031-02-02", "2031-02-03"


def test_duplicates_and_disorder_yield_one_trigger_per_complete_date(base: Running) -> None:
    expected = list(base.manifest.enabled_processors(3))
    triggers = base.own_subscription("phase4-trigger", "dups")
    rng = random.Random(20310201)
    messages: list[bytes] = []
    for day in (DAY_A, DAY_B):
        for i, proc in enumerate(expected):
            # Older timestamps published later: delivery order disagrees with event order.
            for _ in range(rng.choice((2, 3))):
                messages.append(json.dumps(completion(proc, day, minutes_ago=10 * i)).encode())
        messages.append(json.dumps(completion("mystery_processor", day)).encode())
        messages.append(json.dumps(completion(expected[0], day, status="failed")).encode())
        messages.append(json.dumps(completion(expected[1], day, phase="phase_2_raw")).encode())
    # Day C misses one processor: it must never trigger.
    for proc in expected[:-1]:
        messages.append(json.dumps(completion(proc, DAY_C)).encode())
    messages += [b"not json", b"[1, 2]", json.dumps({"processor_name": expected[0]}).encode(),
                 json.dumps(completion(expected[0], "2031-02-30")).encode()]
    rng.shuffle(messages)
    topic = base.topic("phase3-analytics-complete")
    base.pubsub.publish(topic, [b""], {"game_date": DAY_A, "note": "attributes only"})
    for start in range(0, len(messages), 7):
        base.pubsub.publish(topic, messages[start:start + 7])

    def triggered() -> bool:
        docs = [base.document(f"phase3_completion/{d}") for d in (DAY_A, DAY_B)]
        return all(doc and doc.get("_triggered") for doc in docs)

    wait_until(triggered, timeout=30, what="both complete dates to be triggered")
    time.sleep(2.0)  # redeliveries and stragglers would produce a second trigger by now
    assert by_date(base.pubsub.drain(triggers)) == {DAY_A: 1, DAY_B: 1}
    for day in (DAY_A, DAY_B):
        summary = base.document(f"phase3_completion/{day}")
        assert summary is not None
        assert summary["_completed_count"] == len(expected)
        assert summary["_unexpected"] == ["mystery_processor"]
    summary_c = base.document(f"phase3_completion/{DAY_C}")
    assert summary_c is not None
    assert summary_c["_triggered"] is False
    assert summary_c["_missing"] == [expected[-1]]
