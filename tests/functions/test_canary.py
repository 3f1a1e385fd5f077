"""The pipeline canary: each finding class on seeded emulator data, a healthy case, config."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
from zoneinfo import ZoneInfo

import flask
import pytest

from functions.phase3_to_phase4.clients import get_clients
from functions.phase3_to_phase4.config import Config
from functions.pipeline_canary import main as canary
from functions.pipeline_canary.config import CanaryConfig, ConfigError, Transition
from functions.pipeline_canary.dead_letters import peek_dead_letters
from functions.pipeline_canary.findings import (
    CONFIGURATION_DRIFT,
    DEAD_LETTERS,
    STALE_TRACKING,
    TRIGGER_STALLED,
)
from functions.pipeline_canary.health import check_health, dates_to_check
from tests.functions.support import (
    NOW,
    PHASE3,
    PROJECT,
    TODAY,
    YESTERDAY,
    canary_environ,
    completion_payload,
    gated_transition,
    log_lines,
)


class NeverPublishes:
    def publish(self, topic, data, attributes):
        raise RuntimeError("publisher down")


def by_class(report):
    out = {}
    for finding in report.findings:
        out.setdefault(finding.finding, []).append(finding)
    return out


@pytest.mark.emulator
def test_healthy_pipeline_has_no_findings(world, capsys):
    world.record_completions(YESTERDAY, PHASE3, NOW - dt.timedelta(hours=20))
    world.record_completions(TODAY, PHASE3[:2], NOW - dt.timedelta(hours=2))
    report = world.check_canary()
    assert report.findings == []
    assert report.healthy
    assert report.checked == [
        {"transition": "phase3_to_phase4", "game_date": TODAY},
        {"transition": "phase3_to_phase4", "game_date": YESTERDAY},
    ]
    (last,) = log_lines(capsys.readouterr().out)[-1:]
    assert (last["severity"], last["healthy"]) == ("INFO", True)


@pytest.mark.emulator
def test_complete_but_untriggered_past_the_stall_limit(world, capsys):
    completed_at = NOW - dt.timedelta(minutes=45)
    config = Config.from_env({**os.environ, **world.environ()})
    broken = dataclasses.replace(get_clients(config), publisher=NeverPublishes())
    with pytest.raises(RuntimeError, match="publisher down"):
        world.record_completions(TODAY, PHASE3, completed_at, clients=broken)
    capsys.readouterr()

    assert world.check_canary(completed_at + dt.timedelta(minutes=10)).healthy
    report = world.check_canary()
    (stalled,) = by_class(report)[TRIGGER_STALLED]
    assert stalled.game_date == TODAY
    assert stalled.details["completed"] == PHASE3
    assert stalled.details["missing"] == []
    assert stalled.details["stalled_minutes"] == 45
    assert stalled.details["claim"]["published"] is False
    assert "not triggered for 45 min (limit 30)" in stalled.message
    errors = [e for e in log_lines(capsys.readouterr().out) if e["severity"] == "ERROR"]
    assert [e["finding"] for e in errors] == [TRIGGER_STALLED]
    assert errors[0]["game_date"] == TODAY
    assert errors[0]["completed"] == PHASE3


@pytest.mark.emulator
def test_backfill_completed_date_is_a_note_not_a_stall(world):
    world.record_completions(TODAY, PHASE3, NOW - dt.timedelta(hours=3), skip_downstream_trigger=True)
    report = world.check_canary()
    assert report.findings == []
    assert len(report.notes) == 1
    assert "skip_downstream_trigger" in report.notes[0]


@pytest.mark.emulator
def test_unexpected_processor_is_configuration_drift(world):
    world.record_completions(TODAY, ["p2_bdl_box_scores", PHASE3[0]], NOW - dt.timedelta(hours=1))
    (drift,) = by_class(world.check_canary())[CONFIGURATION_DRIFT]
    assert drift.game_date == TODAY
    assert drift.details["unexpected"] == ["p2_bdl_box_scores"]
    assert drift.details["never_seen"] == []


@pytest.mark.emulator
def test_expected_processor_never_seen_yesterday_is_drift(world):
    world.record_completions(YESTERDAY, PHASE3[:3], NOW - dt.timedelta(hours=20))
    world.record_completions(TODAY, PHASE3[:3], NOW - dt.timedelta(hours=1))
    findings = by_class(world.check_canary())
    (drift,) = findings[CONFIGURATION_DRIFT]
    assert drift.game_date == YESTERDAY
    assert drift.details["never_seen"] == PHASE3[3:]
    assert STALE_TRACKING not in findings


@pytest.mark.emulator
def test_orchestrator_expecting_a_disabled_processor_is_drift(world):
    """The seeds' incident: the orchestrator waits for a processor the manifest disabled."""
    stale_expected = [*PHASE3, "p3_retired_processor"]
    world.record_completions(TODAY, PHASE3, NOW - dt.timedelta(hours=2), expected=stale_expected)
    findings = by_class(world.check_canary())
    (drift,) = findings[CONFIGURATION_DRIFT]
    assert drift.details["orchestrator_expected"] == sorted(stale_expected)
    assert drift.details["declared_expected"] == PHASE3
    # By the declared set the date is complete and untriggered for two hours.
    (stalled,) = findings[TRIGGER_STALLED]
    assert stalled.details["summary_missing"] == ["p3_retired_processor"]


@pytest.mark.emulator
def test_summary_disagreeing_with_its_records_is_stale_tracking(world):
    world.record_completions(YESTERDAY, PHASE3, NOW - dt.timedelta(hours=20))
    ref = world.admin.db.collection(world.collection).document(YESTERDAY)
    ref.update({"_completed_count": 3, "_triggered": False})
    (stale,) = by_class(world.check_canary())[STALE_TRACKING]
    assert stale.game_date == YESTERDAY
    diffs = {d["field"]: (d["stored"], d["actual"]) for d in stale.details["differences"]}
    assert diffs == {"_completed_count": (3, 5), "_triggered": (False, True)}


@pytest.mark.emulator
def test_summary_missing_while_records_exist_is_stale_tracking(world):
    world.record_completions(TODAY, PHASE3[:2], NOW - dt.timedelta(minutes=5))
    world.admin.db.collection(world.collection).document(TODAY).delete()
    (stale,) = by_class(world.check_canary())[STALE_TRACKING]
    assert stale.details["differences"][0]["field"] == "summary"


@pytest.mark.emulator
def test_http_entry_point_returns_200_with_the_report(world):
    today = dt.datetime.now(dt.UTC).astimezone(ZoneInfo("America/New_York")).date()
    world.record_completions(today.isoformat(), PHASE3[:1], dt.datetime.now(dt.UTC))
    ref = world.admin.db.collection(world.collection).document(today.isoformat())
    ref.update({"_completed_count": 4})
    source = f"projects/{PROJECT}/topics/{world.topic}-source"
    world.admin.publisher.create_topic(name=source)
    world.admin.subscriber.create_subscription(
        name=f"projects/{PROJECT}/subscriptions/{world.topic}-canary", topic=source)
    world.admin.publisher.publish(
        source, json.dumps(completion_payload(PHASE3[0], today.isoformat())).encode()).result()
    os.environ.update(canary_environ(world.collection, world.topic,
                                     announcements=f"{world.topic}-canary"))
    with flask.Flask(__name__).test_request_context("/", method="POST"):
        body, status, headers = canary.check_pipeline_health(flask.request)
    report = json.loads(body)
    assert status == 200
    assert headers == {"Content-Type": "application/json"}
    assert report["healthy"] is False
    assert [f["finding"] for f in report["findings"]] == [STALE_TRACKING]
    assert report["findings"][0]["game_date"] == today.isoformat()
    # The entry point pulls the announcements of its own subscription.
    assert report["announcements"] == [{
        "transition": "phase3_to_phase4", "pulled": 1, "recorded": 1, "ignored": 0,
        "malformed": 0, "game_dates": [today.isoformat()]}]


def test_dates_to_check_follow_the_time_zone():
    # 03:00 UTC on the 5th is still the evening of the 4th in New York.
    now = dt.datetime(2026, 2, 5, 3, 0, tzinfo=dt.UTC)
    assert dates_to_check(now, "America/New_York") == ("2026-02-04", "2026-02-03")
    assert dates_to_check(now, "UTC") == ("2026-02-05", "2026-02-04")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GATED_TRANSITIONS": None}, "GATED_TRANSITIONS is not set"),
        ({"CANARY_TIMEZONE": "Mars/Olympus"}, "not an IANA time zone"),
        ({"GATED_TRANSITIONS": "{"}, "GATED_TRANSITIONS is not valid JSON"),
        ({"GATED_TRANSITIONS": "{}"}, "must be a JSON array"),
        ({"GATED_TRANSITIONS": '[{"name": "x"}]'}, r"GATED_TRANSITIONS\[0\].source_phase"),
        ({"GATED_TRANSITIONS": json.dumps([gated_transition("c", stall_minutes=0)])},
         "stall_minutes must be a positive integer"),
        ({"GATED_TRANSITIONS": json.dumps([gated_transition("c", expected=["PlayerGameSummary"])])},
         "expected must be a non-empty list of snake_case"),
    ],
)
def test_canary_config_errors_name_the_variable(env, message):
    environ = {**canary_environ("c"), **env}
    environ = {k: v for k, v in environ.items() if v is not None}
    with pytest.raises(ConfigError, match=message):
        CanaryConfig.from_env(environ)


def test_canary_config_values():
    config = CanaryConfig.from_env(canary_environ("coll", expected=["b_x", "a_x"]))
    (transition,) = config.transitions
    assert transition == Transition(
        name="phase3_to_phase4",
        source_phase="phase_3_analytics",
        collection="coll",
        expected=("a_x", "b_x"),
        stall_minutes=30,
        trigger_topic="nba-phase4-trigger",
        announcements="nba-phase3-to-phase4-canary-sub",
        silent_minutes=15,
    )
    assert config.ttl_days == 7
    assert transition.announcements_path("p") == "projects/p/subscriptions/nba-phase3-to-phase4-canary-sub"


# --------------------------------------------------------------------------- dead letters


def dead_letter_topic(world):
    """A fresh dead-letter topic on the emulator and its subscription: (topic path, sub id)."""
    dlq_topic = f"projects/{PROJECT}/topics/{world.topic}-dlq"
    sub = f"{world.topic}-dlq-sub"
    world.admin.publisher.create_topic(name=dlq_topic)
    world.admin.subscriber.create_subscription(
        name=f"projects/{PROJECT}/subscriptions/{sub}", topic=dlq_topic)
    return dlq_topic, sub


def dead_letter_config(world, subscription):
    env = canary_environ(world.collection, world.topic)
    env["DEAD_LETTER_SUBSCRIPTIONS"] = json.dumps([
        {"edge": "phase2-to-phase3", "subscription": subscription,
         "target": "nba-phase3-analytics-processors"},
    ])
    return CanaryConfig.from_env(env)


@pytest.mark.emulator
def test_dead_lettered_pushes_are_reported_and_left_in_place(world):
    dlq_topic, sub = dead_letter_topic(world)
    for game_date in (TODAY, TODAY, YESTERDAY):
        world.admin.publisher.publish(
            dlq_topic, json.dumps({"game_date": game_date}).encode(),
            CloudPubSubDeadLetterSourceSubscription="nba-phase3-analytics-sub").result()
    config = dead_letter_config(world, sub)

    def peek(path):
        return peek_dead_letters(world.admin.subscriber, path)

    for _ in range(2):  # peeking leaves the messages for the operator
        found = by_class(check_health(world.admin.db, config, NOW, peek))
        (finding,) = found[DEAD_LETTERS]
        assert finding.transition == "phase2-to-phase3"
        assert finding.details["count"] == 3
        assert finding.details["game_dates"] == [YESTERDAY, TODAY]
        assert "nba-phase3-analytics-processors" in finding.message


@pytest.mark.emulator
def test_empty_dead_letter_subscription_is_healthy(world):
    _, sub = dead_letter_topic(world)
    report = check_health(
        world.admin.db, dead_letter_config(world, sub), NOW,
        lambda path: peek_dead_letters(world.admin.subscriber, path))
    assert report.healthy, report.to_dict()


@pytest.mark.emulator
def test_unreadable_dead_letter_subscription_is_a_finding(world):
    report = check_health(
        world.admin.db, dead_letter_config(world, "no-such-sub"), NOW,
        lambda path: peek_dead_letters(world.admin.subscriber, path))
    (finding,) = by_class(report)[DEAD_LETTERS]
    assert "cannot read dead-letter subscription" in finding.message


@pytest.mark.parametrize("raw,error", [
    ("{", "DEAD_LETTER_SUBSCRIPTIONS is not valid JSON"),
    ('{"edge": "x"}', "must be a JSON array"),
    ('[{"edge": "x", "subscription": ""}]', "DEAD_LETTER_SUBSCRIPTIONS[0].subscription"),
])
def test_bad_dead_letter_config_names_the_variable(raw, error):
    env = canary_environ("c") | {"DEAD_LETTER_SUBSCRIPTIONS": raw}
    with pytest.raises(ConfigError, match=re.escape(error)):
        CanaryConfig.from_env(env)
