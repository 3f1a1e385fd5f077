"""The canary's independent evidence: what the source phase announced against what the
orchestrator recorded, with an injected clock.

Announcements come from a ``Feed``: an in-memory one here (publish times chosen by the test,
acknowledgements counted), the emulator's Pub/Sub in the last tests. The orchestrator's side
is seeded through its own handler, as in ``test_canary``.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import threading
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest

from functions._shared.messages import parse_completion
from functions.pipeline_canary.announcements import (
    PubSubFeed,
    Pulled,
    collect,
    entry,
    merge,
    usual_lag,
)
from functions.pipeline_canary.config import CanaryConfig, ConfigError
from functions.pipeline_canary.findings import CONFIGURATION_DRIFT, ORCHESTRATOR_SILENT
from tests.functions.support import (
    NOW,
    PHASE3,
    PROJECT,
    TODAY,
    YESTERDAY,
    canary_environ,
    completion_payload,
    log_lines,
)

SUB = "nba-phase3-to-phase4-canary-sub"


class FakeFeed:
    """Announcements waiting in a subscription: pulled in batches, gone once acknowledged."""

    def __init__(self) -> None:
        self.waiting: dict[str, Pulled] = {}
        self.acked: list[str] = []
        self.pulls = 0
        self._n = 0
        self._lock = threading.Lock()

    def announce(self, payload: object, at: dt.datetime, raw: bytes | None = None) -> str:
        with self._lock:
            self._n += 1
            ack_id = f"ack-{self._n}"
            data = raw if raw is not None else json.dumps(payload).encode()
            self.waiting[ack_id] = Pulled(ack_id, str(self._n), data, at)
            return ack_id

    def pull(self, path: str, max_messages: int) -> list[Pulled]:
        assert path == f"projects/{PROJECT}/subscriptions/{SUB}"
        with self._lock:
            self.pulls += 1
            return list(self.waiting.values())[:max_messages]

    def ack(self, path: str, ack_ids: Sequence[str]) -> None:
        with self._lock:
            for ack_id in ack_ids:
                self.waiting.pop(ack_id, None)
            self.acked.extend(ack_ids)


def announce_day(feed: FakeFeed, game_date: str, processors: Sequence[str], at: dt.datetime,
                 **overrides: object) -> None:
    for proc in processors:
        feed.announce(completion_payload(proc, game_date, **overrides), at)


def kinds(report) -> list[str]:
    return [f.finding for f in report.findings]


def announced_doc(world, game_date: str) -> dict:
    snap = world.admin.db.document(f"canary_announcements/phase3_to_phase4_{game_date}").get()
    assert snap.exists, f"no announcements document for {game_date}"
    return snap.to_dict()


# --------------------------------------------------------------------------- ORCHESTRATOR_SILENT


@pytest.mark.emulator
def test_announced_but_never_recorded_is_a_silent_orchestrator(world, capsys):
    feed = FakeFeed()
    announce_day(feed, TODAY, PHASE3, NOW)

    early = world.check_canary(NOW + dt.timedelta(minutes=15), feed)
    assert early.findings == []
    assert early.announcements == [{"transition": "phase3_to_phase4", "pulled": 5,
                                    "recorded": 5, "ignored": 0, "malformed": 0,
                                    "game_dates": [TODAY]}]
    assert feed.waiting == {}

    late = world.check_canary(NOW + dt.timedelta(minutes=16), feed)
    (silent,) = late.findings
    assert (silent.finding, silent.transition, silent.game_date) == (
        ORCHESTRATOR_SILENT, "phase3_to_phase4", TODAY)
    assert silent.details["not_recorded"] == PHASE3
    assert silent.details["announced"] == PHASE3
    assert silent.details["recorded"] == []
    assert silent.details["silent_minutes"] == 16
    assert "phase3_to_phase4 2026-02-05: the orchestrator has not recorded 5 processor(s) " \
           "announced up to 16 min ago (limit 15)" in silent.message
    assert ", ".join(PHASE3) in silent.message
    errors = [e for e in log_lines(capsys.readouterr().out) if e["severity"] == "ERROR"]
    assert [e["finding"] for e in errors] == [ORCHESTRATOR_SILENT]


@pytest.mark.emulator
def test_only_the_unrecorded_processors_are_named(world):
    feed = FakeFeed()
    announce_day(feed, TODAY, PHASE3, NOW)
    world.record_completions(TODAY, PHASE3[:3], NOW + dt.timedelta(seconds=2))
    (silent,) = world.check_canary(NOW + dt.timedelta(minutes=40), feed).findings
    assert silent.finding == ORCHESTRATOR_SILENT
    assert silent.details["not_recorded"] == PHASE3[3:]
    assert silent.details["recorded"] == PHASE3[:3]


@pytest.mark.emulator
def test_recorded_announcements_are_healthy_today_and_yesterday(world):
    feed = FakeFeed()
    announce_day(feed, YESTERDAY, PHASE3, NOW - dt.timedelta(hours=20))
    world.record_completions(YESTERDAY, PHASE3, NOW - dt.timedelta(hours=20) + dt.timedelta(seconds=1))
    announce_day(feed, TODAY, PHASE3, NOW)
    world.record_completions(TODAY, PHASE3, NOW + dt.timedelta(seconds=1))
    for minutes in (0, 15, 45, 600):
        report = world.check_canary(NOW + dt.timedelta(minutes=minutes), feed)
        assert report.findings == [], report.to_dict()


@pytest.mark.emulator
def test_yesterday_is_compared_too(world):
    feed = FakeFeed()
    announce_day(feed, YESTERDAY, PHASE3[:2], NOW - dt.timedelta(hours=3))
    (silent,) = world.check_canary(NOW, feed).findings
    assert (silent.finding, silent.game_date) == (ORCHESTRATOR_SILENT, YESTERDAY)


@pytest.mark.emulator
def test_a_gameless_day_has_no_findings(world):
    feed = FakeFeed()
    for minutes in (0, 30, 24 * 60):
        report = world.check_canary(NOW + dt.timedelta(minutes=minutes), feed)
        assert report.findings == [] and report.notes == []
    assert feed.acked == []
    assert not world.admin.db.document(f"canary_announcements/phase3_to_phase4_{TODAY}").get().exists


@pytest.mark.emulator
def test_backfill_announcements_never_make_the_orchestrator_silent(world):
    feed = FakeFeed()
    announce_day(feed, TODAY, PHASE3, NOW, skip_downstream_trigger=True)
    assert world.check_canary(NOW + dt.timedelta(hours=2), feed).findings == []
    # The orchestrator records the backfill: complete, no trigger expected, a note.
    world.record_completions(TODAY, PHASE3, NOW + dt.timedelta(seconds=1), skip_downstream_trigger=True)
    report = world.check_canary(NOW + dt.timedelta(hours=3), feed)
    assert report.findings == []
    assert any("skip_downstream_trigger" in n for n in report.notes)


@pytest.mark.emulator
def test_failed_and_unexpected_announcements_are_not_awaited(world):
    feed = FakeFeed()
    feed.announce(completion_payload(PHASE3[0], TODAY, status="failed"), NOW)
    feed.announce(completion_payload("mystery_processor", TODAY), NOW)
    assert world.check_canary(NOW + dt.timedelta(hours=1), feed).findings == []


@pytest.mark.emulator
def test_duplicates_and_concurrent_runs_keep_the_first_announcement(world):
    feed = FakeFeed()
    rng = random.Random(5)
    times = {}
    for proc in PHASE3:
        offsets = rng.sample(range(0, 600), 3)
        times[proc] = NOW + dt.timedelta(seconds=min(offsets))
        for offset in offsets:
            feed.announce(completion_payload(proc, TODAY), NOW + dt.timedelta(seconds=offset))
    batches = [FakeFeed(), FakeFeed()]
    for i, pulled in enumerate(list(feed.waiting.values())):
        batches[i % 2].waiting[pulled.ack_id] = pulled
    config = CanaryConfig.from_env(canary_environ(world.collection, world.topic))
    runs = [threading.Thread(target=collect, args=(world.admin.db, b, config,
                                                   config.transitions[0], NOW)) for b in batches]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    assert all(b.waiting == {} for b in batches)
    doc = announced_doc(world, TODAY)
    assert {p: doc[p]["first_announced_at"] for p in PHASE3} == times
    assert {p: doc[p]["announcements"] for p in PHASE3} == dict.fromkeys(PHASE3, 3)
    assert doc["_expires_at"] == NOW + dt.timedelta(days=7)
    # The orchestrator recorded every processor once; duplicates raise nothing.
    world.record_completions(TODAY, PHASE3, NOW + dt.timedelta(seconds=30))
    assert world.check_canary(NOW + dt.timedelta(hours=1), feed).findings == []


def test_merge_is_order_independent():
    def one(status: str, at_s: int, skip: bool = False) -> dict:
        c = parse_completion(completion_payload(PHASE3[0], TODAY, status=status,
                                                skip_downstream_trigger=skip), None)
        return entry(c, f"m{at_s}", NOW + dt.timedelta(seconds=at_s))

    parts = [one("failed", 5), one("success", 9, skip=True), one("success", 20), one("failed", 30)]
    merged = [merge(merge(merge(a, b), c), d) for a, b, c, d in
              (parts, parts[::-1], [parts[2], parts[0], parts[3], parts[1]])]
    assert merged[0] == merged[1] == merged[2]
    assert merged[0]["first_announced_at"] == NOW + dt.timedelta(seconds=5)
    assert merged[0]["first_success_at"] == NOW + dt.timedelta(seconds=9)
    assert merged[0]["first_triggering_at"] == NOW + dt.timedelta(seconds=20)
    assert (merged[0]["announcements"], merged[0]["last_status"], merged[0]["message_id"]) == (
        4, "failed", "m5")


# --------------------------------------------------------------------------- malformed


@pytest.mark.emulator
def test_malformed_announcements_are_logged_with_their_content_and_acked(world, capsys):
    feed = FakeFeed()
    bad = [feed.announce(None, NOW, raw=b"not json"),
           feed.announce([1, 2], NOW),
           feed.announce({"processor_name": PHASE3[0]}, NOW),
           feed.announce(completion_payload(PHASE3[0], "2026-02-30"), NOW)]
    other = feed.announce(completion_payload("p2_odds_game_lines", TODAY, phase="phase_2_raw"), NOW)
    good = feed.announce(completion_payload(PHASE3[0], TODAY), NOW)
    report = world.check_canary(NOW + dt.timedelta(minutes=1), feed)
    assert sorted(feed.acked) == sorted([*bad, other, good])
    assert feed.waiting == {}
    assert report.announcements[0] | {} == {
        "transition": "phase3_to_phase4", "pulled": 6, "recorded": 1, "ignored": 1,
        "malformed": 4, "game_dates": [TODAY]}
    warnings = [e for e in log_lines(capsys.readouterr().out) if e["severity"] == "WARNING"]
    assert [w["reason"] for w in warnings] == [
        "Pub/Sub message data is not UTF-8 JSON", "message is a JSON list, not an object",
        "game_date is missing or not YYYY-MM-DD", "game_date '2026-02-30' is not a calendar date"]
    assert warnings[0]["content"] == "not json"
    assert '"processor_name": "player_game_summary"' in warnings[2]["content"]
    assert report.findings == []
    # Acknowledged: the next run pulls nothing again.
    assert world.check_canary(NOW + dt.timedelta(minutes=2), feed).announcements[0]["pulled"] == 0


# --------------------------------------------------------------------------- unreported today


@pytest.mark.emulator
def test_a_gate_waiting_within_its_allowance_is_not_reported(world):
    """Four processors reported; the fifth may still come: nothing for silent_minutes (the
    stall limit less one canary interval), so the run after that reports it in time."""
    feed = FakeFeed()
    announce_day(feed, TODAY, PHASE3[:4], NOW)
    world.record_completions(TODAY, PHASE3[:4], NOW + dt.timedelta(seconds=1))
    for minutes in (0, 10, 15):
        assert world.check_canary(NOW + dt.timedelta(minutes=minutes), feed).findings == []
    (drift,) = world.check_canary(NOW + dt.timedelta(minutes=16), feed).findings
    assert (drift.finding, drift.game_date) == (CONFIGURATION_DRIFT, TODAY)
    assert drift.details["never_seen"] == [PHASE3[4]]
    assert drift.details["reported"] == PHASE3[:4]
    assert f"expected processor {PHASE3[4]} has not reported, 16 min after the other 4" \
        in drift.message


@pytest.mark.emulator
def test_a_longer_allowance_comes_from_the_config(world):
    feed = FakeFeed()
    announce_day(feed, TODAY, PHASE3[:4], NOW)
    world.record_completions(TODAY, PHASE3[:4], NOW + dt.timedelta(seconds=1))
    assert world.check_canary(NOW + dt.timedelta(minutes=29), feed, silent_minutes=30).findings == []
    (drift,) = world.check_canary(NOW + dt.timedelta(minutes=31), feed, silent_minutes=30).findings
    assert drift.details["never_seen"] == [PHASE3[4]]


@pytest.mark.emulator
def test_the_unreported_rule_also_counts_the_orchestrators_records(world):
    """Reported before the canary existed: the orchestrator's records alone count."""
    world.record_completions(TODAY, PHASE3[:4], NOW)
    assert world.check_canary(NOW + dt.timedelta(minutes=14)).findings == []
    (drift,) = world.check_canary(NOW + dt.timedelta(minutes=20)).findings
    assert drift.details["never_seen"] == [PHASE3[4]]


@pytest.mark.emulator
def test_a_processor_that_usually_runs_later_is_given_its_usual_lag(world):
    feed = FakeFeed()
    late = PHASE3[4]
    for back in (2, 3):  # on earlier days it came 2 h after the others
        day = (dt.date(2026, 2, 5) - dt.timedelta(days=back)).isoformat()
        start = NOW - dt.timedelta(days=back)
        announce_day(feed, day, PHASE3[:4], start)
        announce_day(feed, day, [late], start + dt.timedelta(hours=2))
    announce_day(feed, TODAY, PHASE3[:4], NOW)
    world.record_completions(TODAY, PHASE3[:4], NOW + dt.timedelta(seconds=1))
    assert world.check_canary(NOW + dt.timedelta(minutes=45), feed).findings == []
    assert world.check_canary(NOW + dt.timedelta(hours=2, minutes=15), feed).findings == []
    (drift,) = world.check_canary(NOW + dt.timedelta(hours=2, minutes=16), feed).findings
    assert drift.details["never_seen"] == [late]
    assert "(allowed 135: 15 + its usual lag 120)" in drift.message


@pytest.mark.emulator
def test_two_missing_processors_wait_for_yesterdays_check(world):
    feed = FakeFeed()
    announce_day(feed, TODAY, PHASE3[:3], NOW)
    world.record_completions(TODAY, PHASE3[:3], NOW + dt.timedelta(seconds=1))
    assert world.check_canary(NOW + dt.timedelta(hours=4), feed).findings == []
    next_day = NOW + dt.timedelta(days=1)
    (drift,) = world.check_canary(next_day, feed).findings
    assert (drift.game_date, drift.details["never_seen"]) == (TODAY, PHASE3[3:])


@pytest.mark.emulator
def test_an_unreported_processor_joins_the_dates_other_drift(world):
    feed = FakeFeed()
    announce_day(feed, TODAY, [*PHASE3[:4], "p2_bdl_box_scores"], NOW)
    world.record_completions(TODAY, [*PHASE3[:4], "p2_bdl_box_scores"], NOW + dt.timedelta(seconds=1))
    (drift,) = world.check_canary(NOW + dt.timedelta(minutes=16), feed).findings
    assert drift.details["unexpected"] == ["p2_bdl_box_scores"]
    assert drift.details["never_seen"] == [PHASE3[4]]
    assert "completions from processors not expected" in drift.message
    assert f"expected processor {PHASE3[4]} has not reported" in drift.message


def test_usual_lag_reads_only_complete_days():
    def day(offsets: dict[str, int]) -> dict:
        return {p: {"first_success_at": NOW + dt.timedelta(minutes=m)} for p, m in offsets.items()}

    complete = day({"a_p": 0, "b_p": 10, "c_p": 70})
    partial = day({"a_p": 0, "c_p": 500})
    assert usual_lag("c_p", ["a_p", "b_p", "c_p"], [complete, partial]) == dt.timedelta(hours=1)
    assert usual_lag("a_p", ["a_p", "b_p", "c_p"], [complete]) == dt.timedelta(0)
    assert usual_lag("c_p", ["a_p", "b_p", "c_p"], []) == dt.timedelta(0)


# --------------------------------------------------------------------------- the real subscription


@pytest.mark.emulator
def test_the_pubsub_feed_pulls_records_and_acknowledges(world):
    source = f"projects/{PROJECT}/topics/{world.topic}-source"
    sub = f"{world.topic}-canary"
    world.admin.publisher.create_topic(name=source)
    world.admin.subscriber.create_subscription(
        name=f"projects/{PROJECT}/subscriptions/{sub}", topic=source, ack_deadline_seconds=60)
    now = dt.datetime.now(dt.UTC)
    today = now.astimezone(ZoneInfo("America/New_York")).date().isoformat()
    for proc in PHASE3[:2]:
        for _ in range(2):
            world.admin.publisher.publish(
                source, json.dumps(completion_payload(proc, today)).encode()).result()
    feed = PubSubFeed(world.admin.subscriber)
    first = world.check_canary(now + dt.timedelta(minutes=1), feed, announcements=sub)
    assert first.announcements[0]["pulled"] == 4
    assert first.findings == []
    later = world.check_canary(now + dt.timedelta(minutes=16), feed, announcements=sub)
    assert later.announcements[0]["pulled"] == 0  # acknowledged by the first run
    silent = [f for f in later.findings if f.finding == ORCHESTRATOR_SILENT]
    assert [f.details["not_recorded"] for f in silent] == [PHASE3[:2]]


@pytest.mark.emulator
def test_an_unreadable_announcement_subscription_is_a_finding(world):
    feed = PubSubFeed(world.admin.subscriber)
    (blind,) = world.check_canary(NOW, feed, announcements="no-such-subscription").findings
    assert blind.finding == ORCHESTRATOR_SILENT
    assert "cannot collect the announcements of phase3_to_phase4 from projects/test-project/" \
           "subscriptions/no-such-subscription" in blind.message


@pytest.mark.parametrize(("change", "message"), [
    ({"announcements": ""}, "GATED_TRANSITIONS[0].announcements must be a non-empty string"),
    ({"announcements": "projects/p/subscriptions/s"},
     "announcements must be a subscription id (not its path), got 'projects/p/subscriptions/s'"),
    ({"silent_minutes": 31}, "silent_minutes must be an integer from 1 to stall_minutes (30), "
                             "got 31"),
    ({"silent_minutes": "15"}, "silent_minutes must be an integer"),
])
def test_announcement_config_errors_name_the_field_and_value(change, message):
    env = canary_environ("c", **change)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        CanaryConfig.from_env(env)


def test_ttl_days_is_required():
    env = canary_environ("c")
    del env["COMPLETION_TTL_DAYS"]
    with pytest.raises(ConfigError, match="COMPLETION_TTL_DAYS is not set"):
        CanaryConfig.from_env(env)
