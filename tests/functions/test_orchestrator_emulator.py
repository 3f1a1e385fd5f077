"""The orchestrator against the official Firestore and Pub/Sub emulators."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import datetime as dt
import json
import os
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions._shared.messages import DATE_RE
from functions.phase3_to_phase4 import main as orch
from functions.phase3_to_phase4 import tracking
from functions.phase3_to_phase4.claim import CLAIM_LEASE, REDELIVERY_GRACE, TriggerPending
from functions.phase3_to_phase4.clients import get_clients
from functions.phase3_to_phase4.config import Config
from functions.phase3_to_phase4.handler import handle_event
from tests.functions.support import (
    PHASE3,
    PHASES,
    PROJECT,
    completion_payload,
    load_event,
    log_lines,
    make_event,
    pubsub_data,
)

pytestmark = pytest.mark.emulator

DATE = "2026-02-04"
ORCHESTRATOR_SOURCE = Path(orch.__file__)
BQ_SCHEMA = (
    Path(__file__).resolve().parents[2] / "infra/model/schemas/orchestration/phase_completions.json"
)


def deliver_concurrently(deliveries, workers=16):
    """Call the handler for every (payload, event_id) from ``workers`` threads at once."""
    start = threading.Event()

    def call(delivery):
        payload, event_id = delivery
        start.wait(timeout=10)
        orch.handle_phase3_completion(make_event(payload, event_id))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(call, d) for d in deliveries]
        start.set()
        for future in futures:
            future.result()


def with_duplicates(game_date, processors):
    """Each processor three times: two publisher copies and a redelivery of the first."""
    deliveries = []
    for proc in processors:
        payload = completion_payload(proc, game_date)
        deliveries += [
            (payload, f"{game_date}-{proc}-a"),
            (payload, f"{game_date}-{proc}-b"),
            (payload, f"{game_date}-{proc}-a"),
        ]
    return deliveries


def checkpoints(out, name):
    return [e for e in log_lines(out) if e.get("checkpoint") == name]


def config_from_env():
    return Config.from_env(os.environ)


# ----------------------------------------------------------------- saved CloudEvents


def test_valid_event_records_and_waits(world, capsys):
    world.use_orchestrator_env()
    orch.handle_phase3_completion(load_event("valid"))

    record = world.records(DATE)["player_game_summary"]
    assert record["status"] == "success"
    assert record["expected"] is True
    assert record["event_id"] == "evt-valid-1"
    assert record["record_count"] == 120
    assert record["_expires_at"] - record["recorded_at"] == dt.timedelta(days=7)
    summary = world.summary(DATE)
    assert summary["_completed_count"] == 1
    assert summary["_expected_count"] == 5
    assert summary["_missing"] == [p for p in PHASE3 if p != "player_game_summary"]
    assert summary["_triggered"] is False
    assert summary["player_game_summary"]["execution_id"] == "exec-player_game_"
    assert summary["_expires_at"] > summary["_first_completion_at"]

    out = capsys.readouterr().out
    order = [e["checkpoint"] for e in log_lines(out) if "checkpoint" in e]
    assert order == [
        "CHECKPOINT_PRE_TRANSACTION",
        "CHECKPOINT_POST_TRANSACTION",
        "CHECKPOINT_WAITING",
    ]
    (waiting,) = checkpoints(out, "CHECKPOINT_WAITING")
    assert waiting["game_date"] == DATE
    assert waiting["completed_count"] == 1
    assert waiting["expected_count"] == 5
    assert "team_offense_game_summary" in waiting["missing"]
    assert world.pull_triggers() == []


def test_duplicate_event_is_a_no_op(world):
    world.use_orchestrator_env()
    config = config_from_env()
    first, dup = load_event("valid"), load_event("duplicate")
    assert handle_event(None, config, first["id"], first.data, orch_now()).record == "created"
    outcome = handle_event(None, config, dup["id"], dup.data, orch_now())
    assert outcome.record == "duplicate"
    assert outcome.completed_count == 1
    assert world.records(DATE)["player_game_summary"]["event_id"] == "evt-valid-1"
    assert world.summary(DATE)["_completed_count"] == 1


def test_unknown_processor_is_recorded_as_unexpected(world, capsys):
    world.use_orchestrator_env()
    orch.handle_phase3_completion(load_event("unknown_processor"))
    assert world.records(DATE)["mystery_projection"]["expected"] is False
    summary = world.summary(DATE)
    assert summary["_unexpected"] == ["mystery_projection"]
    assert summary["_completed_count"] == 0
    assert summary["mystery_projection"]["expected"] is False
    warnings = [e for e in log_lines(capsys.readouterr().out) if e["severity"] == "WARNING"]
    assert "mystery_projection is not an expected processor" in warnings[0]["message"]


def test_non_success_is_recorded_but_not_counted_until_a_success(world):
    world.use_orchestrator_env()
    config = config_from_env()
    failed = load_event("non_success_status")
    outcome = handle_event(None, config, failed["id"], failed.data, orch_now())
    assert (outcome.record, outcome.completed_count) == ("created", 0)
    assert world.summary(DATE)["team_offense_game_summary"]["status"] == "failed"

    retry = completion_payload("team_offense_game_summary", DATE)
    outcome = handle_event(None, config, "evt-retry", pubsub_data(retry), orch_now())
    assert (outcome.record, outcome.completed_count) == ("upgraded", 1)
    assert world.summary(DATE)["team_offense_game_summary"]["status"] == "success"

    again = completion_payload("team_offense_game_summary", DATE, status="failed")
    outcome = handle_event(None, config, "evt-late-fail", pubsub_data(again), orch_now())
    assert (outcome.record, outcome.completed_count) == ("duplicate", 1)


def test_class_name_processor_is_normalised(world):
    world.use_orchestrator_env()
    orch.handle_phase3_completion(load_event("class_name_processor"))
    record = world.records(DATE)["team_defense_game_summary"]
    assert record["processor_name"] == "TeamDefenseGameSummaryProcessor"
    assert world.summary(DATE)["_completed"] == ["team_defense_game_summary"]


@pytest.mark.parametrize(
    "name",
    [
        "not_json",
        "not_base64",
        "not_an_object",
        "missing_game_date",
        "invalid_date",
        "wrong_types",
        "unknown_phase",
        "other_phase",
    ],
)
def test_rejected_events_write_nothing(world, name):
    world.use_orchestrator_env()
    orch.handle_phase3_completion(load_event(name))
    assert list(world.admin.db.collection(world.collection).list_documents()) == []


def test_push_envelope_through_functions_framework(world, monkeypatch):
    """A Pub/Sub push to /projects/P/topics/T becomes a CloudEvent (what the bench uses)."""
    import functions_framework

    world.use_orchestrator_env()
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "main", raising=False)
    app = functions_framework.create_app(
        "handle_phase3_completion", str(ORCHESTRATOR_SOURCE), "cloudevent"
    )
    payload = completion_payload("upcoming_team_game_context", DATE)
    envelope = {
        "message": {
            "data": base64.b64encode(json.dumps(payload).encode()).decode(),
            "attributes": {},
            "messageId": "push-1",
            "publishTime": "2026-02-04T15:00:00Z",
        },
        "subscription": f"projects/{PROJECT}/subscriptions/push",
    }
    response = app.test_client().post(f"/projects/{PROJECT}/topics/completions", json=envelope)
    assert response.status_code == 200
    assert world.records(DATE)["upcoming_team_game_context"]["event_id"] == "push-1"


# ----------------------------------------------------------------- the gate


def test_five_by_three_concurrent_deliveries_trigger_exactly_once(world, capsys):
    world.use_orchestrator_env()
    deliveries = with_duplicates(DATE, PHASE3)
    random.Random(3).shuffle(deliveries)
    deliver_concurrently(deliveries)

    messages = world.pull_triggers()
    assert len(messages) == 1
    body = json.loads(messages[0].data)
    assert body["game_date"] == DATE
    assert body["completed_processors"] == PHASE3
    assert dict(messages[0].attributes) == {
        "game_date": DATE,
        "transition": "phase3_to_phase4",
        "source_phase": "phase_3_analytics",
        "idempotency_key": f"phase3_to_phase4:{DATE}",
    }
    summary = world.summary(DATE)
    assert summary["_completed_count"] == 5
    assert summary["_missing"] == []
    assert summary["_triggered"] is True
    assert summary["_trigger_message_id"] == messages[0].message_id
    claim = world.doc(f"{DATE}/claims/trigger")
    assert claim["published"] is True
    assert claim["message_id"] == messages[0].message_id
    assert claim["claimed_by"] in {event_id for _, event_id in deliveries}
    assert len(world.records(DATE)) == 5
    assert len(checkpoints(capsys.readouterr().out, "CHECKPOINT_TRIGGER_SET")) == 1

    # Late duplicates after the publish are no-ops.
    deliver_concurrently(with_duplicates(DATE, PHASE3[:2]))
    assert len(world.pull_triggers()) == 1


def test_four_of_five_does_not_trigger_and_names_the_missing_one(world, capsys):
    world.use_orchestrator_env()
    present = [p for p in PHASE3 if p != "upcoming_player_game_context"]
    deliveries = with_duplicates(DATE, present)
    random.Random(5).shuffle(deliveries)
    deliver_concurrently(deliveries)

    assert world.pull_triggers() == []
    summary = world.summary(DATE)
    assert summary["_completed_count"] == 4
    assert summary["_missing"] == ["upcoming_player_game_context"]
    assert summary["_triggered"] is False
    assert world.doc(f"{DATE}/claims/trigger") is None
    waiting = checkpoints(capsys.readouterr().out, "CHECKPOINT_WAITING")
    assert len(waiting) == len(deliveries)
    assert all("upcoming_player_game_context" in w["missing"] for w in waiting)
    assert max(w["completed_count"] for w in waiting) == 4


class FailFirstPublish:
    def __init__(self, inner):
        self.inner = inner
        self.calls = 0

    def publish(self, topic, data, attributes):
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError("injected publish failure")
        return self.inner.publish(topic, data, attributes)


def test_publish_failure_raises_and_the_redelivery_publishes_once(world, capsys, monkeypatch):
    world.use_orchestrator_env()
    config = config_from_env()
    real = get_clients(config)
    publisher = FailFirstPublish(real.publisher)
    clients = dataclasses.replace(real, publisher=publisher)
    now = orch_now()
    for proc in PHASE3[:-1]:
        handle_event(
            clients, config, f"evt-{proc}", pubsub_data(completion_payload(proc, DATE)), now
        )
    last = pubsub_data(completion_payload(PHASE3[-1], DATE))

    with pytest.raises(RuntimeError, match="injected publish failure"):
        handle_event(clients, config, "evt-last", last, now)
    assert world.pull_triggers() == []
    claim = world.doc(f"{DATE}/claims/trigger")
    assert (claim["claimed_by"], claim["published"]) == ("evt-last", False)
    assert world.summary(DATE)["_triggered"] is False
    errors = [e for e in log_lines(capsys.readouterr().out) if e["severity"] == "ERROR"]
    assert "raising so Pub/Sub redelivers" in errors[0]["message"]

    # Another delivery, or a concurrent duplicate of the claimant's own event, while the
    # claim is fresh: it waits for the publish, then raises so Pub/Sub brings it back.
    monkeypatch.setattr("functions.phase3_to_phase4.claim.HOLD_WAIT_S", 0.3)
    for event_id, delay in (("evt-other", 5), ("evt-last", 2)):
        with pytest.raises(TriggerPending, match="claimed by evt-last"):
            handle_event(clients, config, event_id, last, now + dt.timedelta(seconds=delay))
    assert world.pull_triggers() == []
    assert publisher.calls == 1

    redelivery = handle_event(
        clients, config, "evt-last", last, now + REDELIVERY_GRACE + dt.timedelta(seconds=1)
    )
    assert redelivery.trigger == "published"
    messages = world.pull_triggers()
    assert len(messages) == 1
    assert publisher.calls == 2
    summary = world.summary(DATE)
    assert summary["_triggered"] is True
    assert summary["_trigger_message_id"] == messages[0].message_id

    again = handle_event(clients, config, "evt-last", last, now + dt.timedelta(seconds=20))
    assert again.trigger == "already_published"
    assert len(world.pull_triggers()) == 1
    assert publisher.calls == 2


def test_claim_held_by_a_dead_claimant_is_taken_over_after_its_lease(world):
    world.use_orchestrator_env()
    config = config_from_env()
    real = get_clients(config)
    clients = dataclasses.replace(real, publisher=FailFirstPublish(real.publisher))
    now = orch_now()
    for proc in PHASE3:
        data = pubsub_data(completion_payload(proc, DATE))
        with contextlib.suppress(RuntimeError):
            handle_event(clients, config, f"evt-{proc}", data, now)
    assert world.doc(f"{DATE}/claims/trigger")["published"] is False

    later = now + CLAIM_LEASE + dt.timedelta(seconds=1)
    data = pubsub_data(completion_payload(PHASE3[0], DATE))
    outcome = handle_event(clients, config, "evt-someone-else", data, later)
    assert outcome.trigger == "published"
    claim = world.doc(f"{DATE}/claims/trigger")
    assert claim["claimed_by"] == "evt-someone-else"
    assert claim["previous_claimant"] == f"evt-{PHASE3[-1]}"
    assert claim["attempts"] == 2
    assert len(world.pull_triggers()) == 1


def test_disabled_processor_is_not_waited_for_and_is_recorded_as_unexpected(world):
    enabled = [p for p in PHASE3 if p != "upcoming_team_game_context"]
    world.use_orchestrator_env(expected=enabled)
    deliveries = with_duplicates(DATE, PHASE3)
    random.Random(11).shuffle(deliveries)
    deliver_concurrently(deliveries)

    messages = world.pull_triggers()
    assert len(messages) == 1
    assert json.loads(messages[0].data)["completed_processors"] == enabled
    summary = world.summary(DATE)
    assert summary["_completed_count"] == 4
    assert summary["_expected_count"] == 4
    assert summary["_unexpected"] == ["upcoming_team_game_context"]
    assert world.records(DATE)["upcoming_team_game_context"]["expected"] is False


def test_two_interleaved_dates_trigger_once_each(world):
    world.use_orchestrator_env()
    other = "2026-02-05"
    deliveries = with_duplicates(DATE, PHASE3) + with_duplicates(other, PHASE3)
    random.Random(13).shuffle(deliveries)
    deliver_concurrently(deliveries)

    messages = world.pull_triggers()
    assert sorted(m.attributes["game_date"] for m in messages) == [DATE, other]
    for game_date in (DATE, other):
        summary = world.summary(game_date)
        assert (summary["_completed_count"], summary["_triggered"]) == (5, True)


def test_skip_downstream_trigger_records_but_never_claims(world):
    world.use_orchestrator_env()
    config = config_from_env()
    for proc in PHASE3:
        payload = completion_payload(proc, DATE, skip_downstream_trigger=True)
        outcome = handle_event(None, config, f"bf-{proc}", pubsub_data(payload), orch_now())
    assert (outcome.completed_count, outcome.trigger) == (5, "skipped")
    assert world.pull_triggers() == []
    summary = world.summary(DATE)
    assert (summary["_trigger_skipped"], summary["_triggered"]) == (True, False)

    live = pubsub_data(completion_payload(PHASE3[0], DATE))
    assert handle_event(None, config, "live-1", live, orch_now()).trigger == "published"
    assert len(world.pull_triggers()) == 1


def test_a_duplicate_repairs_a_stale_summary(world):
    """The seeds' incident: a summary stuck at 3/5 with every record present."""
    world.use_orchestrator_env()
    config = config_from_env()
    for proc in PHASE3[:4]:
        handle_event(
            None, config, f"e-{proc}", pubsub_data(completion_payload(proc, DATE)), orch_now()
        )
    ref = world.admin.db.collection(world.collection).document(DATE)
    ref.update({"_completed_count": 3, "_missing": PHASE3[3:]})
    outcome = handle_event(
        None, config, "e-dup", pubsub_data(completion_payload(PHASE3[0], DATE)), orch_now()
    )
    assert outcome.record == "duplicate"
    summary = world.summary(DATE)
    assert (summary["_completed_count"], summary["_missing"]) == (4, [PHASE3[4]])


def test_a_stale_listing_is_rewritten_after_relisting(world, monkeypatch):
    """Writer A lists before writer B's record lands and writes after B: A must notice."""
    world.use_orchestrator_env()
    config = config_from_env()
    for proc in PHASE3[:3] + PHASE3[4:]:
        data = pubsub_data(completion_payload(proc, DATE))
        handle_event(None, config, f"e-{proc}", data, orch_now())
    assert world.summary(DATE)["_completed_count"] == 4

    real = tracking.list_records
    listings = []

    def lagging(db, cfg, game_date):
        records = real(db, cfg, game_date)
        listings.append(sorted(records))
        if len(listings) == 1:
            records.pop(PHASE3[4])  # A's first listing predates B's record
        return records

    monkeypatch.setattr(tracking, "list_records", lagging)
    data = pubsub_data(completion_payload(PHASE3[3], DATE))
    outcome = handle_event(None, config, "e-A", data, orch_now())
    assert len(listings) >= 2
    assert (outcome.completed_count, outcome.trigger) == (5, "published")
    summary = world.summary(DATE)
    assert (summary["_completed_count"], summary["_missing"], summary["_triggered"]) == (
        5,
        [],
        True,
    )
    assert len(world.pull_triggers()) == 1


class Rows:
    def __init__(self, fail=None, errors=None):
        self.calls = []
        self.fail = fail
        self.errors = errors or []

    def insert_rows(self, table, rows, row_ids):
        self.calls.append((table, list(rows), list(row_ids)))
        if self.fail:
            raise self.fail
        return self.errors


def test_bigquery_dual_write_rows_and_row_ids(world):
    world.use_orchestrator_env(bq_table="nba_orchestration.phase_completions")
    config = config_from_env()
    rows = Rows()
    clients = dataclasses.replace(get_clients(config), rows=rows)
    for proc in PHASE3:
        handle_event(
            clients, config, f"e-{proc}", pubsub_data(completion_payload(proc, DATE)), orch_now()
        )
    handle_event(
        clients, config, "e-dup", pubsub_data(completion_payload(PHASE3[0], DATE)), orch_now()
    )

    assert {table for table, _, _ in rows.calls} == {
        f"{PROJECT}.nba_orchestration.phase_completions"
    }
    row_ids = [rid for _, _, ids in rows.calls for rid in ids]
    assert row_ids == [f"{DATE}:phase_3_analytics:{p}" for p in PHASE3] + [
        f"{DATE}:phase3_to_phase4:trigger"
    ]
    trigger = rows.calls[-1][1][0]
    assert trigger["event"] == "trigger"
    assert trigger["is_triggered"] is True
    assert trigger["trigger_reason"] == "all_expected_processors_complete"
    assert trigger["completed_count"] == 5
    first = rows.calls[0][1][0]
    assert (first["event"], first["processor_name"], first["expected"]) == (
        "completion",
        PHASE3[0],
        True,
    )
    assert first["is_triggered"] is False

    # Every row fits the declared table: known columns only, required ones present.
    schema = json.loads(BQ_SCHEMA.read_text())
    columns = {c["name"] for c in schema}
    required = {c["name"] for c in schema if c.get("mode") == "REQUIRED"}
    for _, batch, _ in rows.calls:
        for row in batch:
            assert set(row) <= columns, set(row) - columns
            assert all(row[name] is not None for name in required), row


def test_bigquery_failure_never_blocks_the_trigger(world, capsys):
    world.use_orchestrator_env(bq_table="nba_orchestration.phase_completions")
    config = config_from_env()
    clients = dataclasses.replace(
        get_clients(config), rows=Rows(fail=RuntimeError("bq is down"))
    )
    for proc in PHASE3:
        handle_event(
            clients, config, f"e-{proc}", pubsub_data(completion_payload(proc, DATE)), orch_now()
        )
    assert len(world.pull_triggers()) == 1
    errors = [e for e in log_lines(capsys.readouterr().out) if e["severity"] == "ERROR"]
    assert len(errors) == 6
    assert all("bq is down" in e["message"] for e in errors)

    rejecting = dataclasses.replace(clients, rows=Rows(errors=[{"index": 0, "errors": ["bad"]}]))
    handle_event(
        rejecting, config, "e-x", pubsub_data(completion_payload("extra_proc", DATE)), orch_now()
    )
    errors = [e for e in log_lines(capsys.readouterr().out) if e["severity"] == "ERROR"]
    assert errors[0]["errors"] == [{"index": 0, "errors": ["bad"]}]


def test_empty_bigquery_table_skips_with_a_debug_log(world, capsys):
    world.use_orchestrator_env(bq_table="")
    os.environ["LOG_LEVEL"] = "DEBUG"
    orch.handle_phase3_completion(load_event("valid"))
    debug = [e for e in log_lines(capsys.readouterr().out) if e["severity"] == "DEBUG"]
    assert debug[0]["message"].startswith("BQ_COMPLETIONS_TABLE is empty")


# ----------------------------------------------------------------- fuzzing

_VALID = completion_payload("player_game_summary", DATE)
_TYPED = {
    "processor_name": st.one_of(st.integers(), st.lists(st.text(), max_size=2), st.just("")),
    "phase": st.one_of(st.integers(), st.text().filter(lambda s: s not in PHASES)),
    "status": st.one_of(st.integers(), st.booleans(), st.lists(st.integers(), max_size=2)),
    "execution_id": st.one_of(st.integers(), st.floats(allow_nan=False)),
    "record_count": st.one_of(st.text(), st.booleans(), st.integers(max_value=-1)),
    "skip_downstream_trigger": st.one_of(st.text(min_size=1), st.integers()),
    "game_date": st.one_of(
        st.integers(),
        st.text().filter(lambda s: not _is_date(s)),
        st.sampled_from(["2026-02-30", "2026-13-01", "26-02-04", "2026-2-4", ""]),
    ),
}


def _is_date(value):
    try:
        return bool(DATE_RE.match(value)) and bool(dt.date.fromisoformat(value))
    except ValueError:
        return False


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _not_json(raw: bytes) -> bool:
    try:
        json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return True
    return False


@st.composite
def malformed_data(draw):
    kind = draw(
        st.sampled_from(["bad_field", "missing", "not_object", "not_json", "not_b64", "raw"])
    )
    if kind == "bad_field":
        key = draw(st.sampled_from(sorted(_TYPED)))
        payload = {**_VALID, key: draw(_TYPED[key])}
        return pubsub_data(payload)
    if kind == "missing":
        key = draw(st.sampled_from(["processor_name", "game_date"]))
        return pubsub_data({k: v for k, v in _VALID.items() if k != key})
    if kind == "not_object":
        value = draw(st.one_of(st.integers(), st.text(), st.lists(st.integers()), st.none()))
        return pubsub_data(value)
    if kind == "not_json":
        raw = draw(st.binary(min_size=1).filter(_not_json))
        return {"message": {"data": _b64(raw), "messageId": "x"}}
    if kind == "not_b64":
        text = draw(st.text(alphabet="!#$%&*()<>?@[]^{}~ ", min_size=1))
        return {"message": {"data": text, "messageId": "x"}}
    return draw(
        st.one_of(
            st.none(),
            st.integers(),
            st.binary(),
            st.dictionaries(st.text(), st.integers(), max_size=3),
            st.just({"message": "not an object"}),
        )
    )


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=malformed_data())
def test_fuzzed_malformed_messages_never_raise_and_count_nothing(world, data):
    world.use_orchestrator_env()
    config = config_from_env()
    outcome = handle_event(None, config, "fuzz", data, orch_now())
    assert outcome.status == "malformed"
    assert list(world.admin.db.collection(world.collection).list_documents()) == []


def orch_now():
    return dt.datetime.now(dt.UTC)
