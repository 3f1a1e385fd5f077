"""Orchestrator pieces that need no emulator: configuration, parsing, malformed input."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from functions._shared.completion import summary_fields, tally
from functions._shared.messages import (
    Completion,
    MalformedMessage,
    normalise_processor,
    parse_completion,
)
from functions.phase3_to_phase4 import main as orch
from functions.phase3_to_phase4.claim import trigger_payload
from functions.phase3_to_phase4.config import Config, ConfigError
from functions.phase3_to_phase4.handler import Outcome, handle_event
from tests.functions.support import PHASES, load_event, log_lines, orchestrator_environ

REPO = Path(__file__).resolve().parents[2]
MALFORMED = {
    "not_json": "Pub/Sub message data is not UTF-8 JSON",
    "not_base64": "Pub/Sub message data is not base64",
    "not_an_object": "message is a JSON list, not an object",
    "missing_game_date": "game_date is missing or not YYYY-MM-DD",
    "invalid_date": "game_date '2026-02-30' is not a calendar date",
    "unknown_phase": "phase 'phase_9_magic' is not one of",
    "wrong_types": "field 'record_count' must be int, got str",
}


def test_module_import_creates_no_google_client():
    code = (
        "import sys, time; t = time.perf_counter(); "
        "sys.path.insert(0, 'functions/phase3_to_phase4'); import main; "
        "loaded = [m for m in ('google.cloud.firestore', 'google.cloud.pubsub_v1', "
        "'google.cloud.bigquery') if m in sys.modules]; print(loaded)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("var", list(orchestrator_environ()))
def test_missing_variable_is_named_on_first_use(var):
    env = orchestrator_environ()
    del env[var]
    with pytest.raises(ConfigError, match=rf"\b{var}\b.*not set"):
        Config.from_env(env)


def test_handler_names_missing_variable():
    os.environ.update(orchestrator_environ())
    del os.environ["EXPECTED_PROCESSORS"]
    with pytest.raises(ConfigError, match="EXPECTED_PROCESSORS"):
        orch.handle_phase3_completion(load_event("valid"))


@pytest.mark.parametrize(
    ("var", "value", "message"),
    [
        ("KNOWN_PHASES", "phase_3_analytics", "KNOWN_PHASES is not valid JSON"),
        ("EXPECTED_PROCESSORS", "[]", "non-empty JSON array"),
        ("EXPECTED_PROCESSORS", '["PlayerGameSummary"]', "non-empty JSON array"),
        ("EXPECTED_PROCESSORS", '["a_b", "a_b"]', "lists a name twice"),
        ("SOURCE_PHASE", "phase_9", "SOURCE_PHASE 'phase_9' is not one of KNOWN_PHASES"),
        ("TRIGGER_TOPIC", "projects/p/topics/t", "is not a topic id"),
        ("COMPLETION_TTL_DAYS", "0", "COMPLETION_TTL_DAYS must be a positive integer"),
        ("COMPLETION_TTL_DAYS", "seven", "COMPLETION_TTL_DAYS must be a positive integer"),
        ("BQ_COMPLETIONS_TABLE", "completions", "must be dataset.table"),
        ("COMPLETION_COLLECTION", "a/b", "must not contain '/'"),
    ],
)
def test_invalid_variable_is_rejected_with_its_value(var, value, message):
    env = {**orchestrator_environ(), var: value}
    with pytest.raises(ConfigError, match=message):
        Config.from_env(env)


def test_config_values():
    config = Config.from_env(
        orchestrator_environ(expected=["b_proc", "a_proc"], bq_table="ds.tbl")
    )
    assert config.expected_processors == ("a_proc", "b_proc")
    assert config.trigger_topic_path == "projects/test-project/topics/nba-phase4-trigger"
    assert config.bq_table_id == "test-project.ds.tbl"
    assert config.ttl_days == 7
    assert Config.from_env(orchestrator_environ(bq_table="")).bq_table_id == ""


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("PlayerGameSummaryProcessor", "player_game_summary"),
        ("UpcomingTeamGameContextProcessor", "upcoming_team_game_context"),
        ("TeamDefenseGameSummary", "team_defense_game_summary"),
        ("NBAComBoxscoreProcessor", "nba_com_boxscore"),
        ("player_game_summary", "player_game_summary"),
        ("p2_odds_game_lines", "p2_odds_game_lines"),
    ],
)
def test_normalise_processor(name, expected):
    assert normalise_processor(name) == expected


@pytest.mark.parametrize("name", ["player-game-summary", "Player Game", "_private", "9lives"])
def test_normalise_processor_rejects(name):
    with pytest.raises(ValueError, match="processor_name"):
        normalise_processor(name)


def test_parse_completion_defaults_and_types():
    completion = parse_completion(
        {"processor_name": "TeamOffenseGameSummaryProcessor", "game_date": "2026-02-04"}, PHASES
    )
    assert completion == Completion(
        processor="team_offense_game_summary",
        processor_name="TeamOffenseGameSummaryProcessor",
        game_date="2026-02-04",
        phase=None,
        status="success",
        execution_id=None,
        correlation_id=None,
        output_table=None,
        output_dataset=None,
        record_count=None,
        timestamp=None,
        skip_downstream_trigger=False,
    )
    assert completion.succeeded
    failed = parse_completion(
        {"processor_name": "x_proc", "game_date": "2026-02-04", "status": "FAILED"}, PHASES
    )
    assert failed.status == "failed"
    assert not failed.succeeded


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({"game_date": "2026-02-04"}, "processor_name is missing"),
        ({"processor_name": "", "game_date": "2026-02-04"}, "processor_name is missing"),
        ({"processor_name": 5, "game_date": "2026-02-04"}, "processor_name is missing"),
        ({"processor_name": "a_b", "game_date": "04/02/2026"}, "not YYYY-MM-DD"),
        ({"processor_name": "a_b", "game_date": 20260204}, "not YYYY-MM-DD"),
        ({"processor_name": "a_b", "game_date": "2026-02-04", "record_count": True}, "int"),
        ({"processor_name": "a_b", "game_date": "2026-02-04", "record_count": -1}, "negative"),
        ({"processor_name": "a_b", "game_date": "2026-02-04", "status": 1}, "'status' must"),
        (
            {"processor_name": "a_b", "game_date": "2026-02-04", "skip_downstream_trigger": "y"},
            "skip_downstream_trigger must be a boolean",
        ),
    ],
)
def test_parse_completion_rejects(payload, reason):
    with pytest.raises(MalformedMessage, match=reason):
        parse_completion(payload, PHASES)


@pytest.mark.parametrize(("event", "reason"), sorted(MALFORMED.items()))
def test_malformed_saved_event_is_logged_and_acknowledged(event, reason, capsys):
    os.environ.update(orchestrator_environ())
    assert orch.handle_phase3_completion(load_event(event)) is None
    warnings = [e for e in log_lines(capsys.readouterr().out) if e["severity"] == "WARNING"]
    assert len(warnings) == 1
    assert reason in warnings[0]["reason"]
    assert warnings[0]["content"]
    assert warnings[0]["event_id"] == load_event(event)["id"]


def test_malformed_content_is_logged():
    config = Config.from_env(orchestrator_environ())
    outcome = handle_event(None, config, "e1", {"message": {"data": "e30="}}, orch_now())
    assert outcome == Outcome(
        status="malformed", reason="processor_name is missing or not a non-empty string"
    )


def test_cloud_event_data_without_message_is_malformed():
    config = Config.from_env(orchestrator_environ())
    for data in ({"subscription": "s"}, b"not json", "[]", None, {"message": {"data": ""}}):
        assert handle_event(None, config, "e", data, orch_now()).status == "malformed"


def test_other_phase_is_ignored_without_firestore(capsys):
    os.environ.update(orchestrator_environ())
    config = Config.from_env(os.environ)
    event = load_event("other_phase")
    outcome = handle_event(None, config, event["id"], event.data, orch_now())
    assert outcome.status == "ignored"
    assert outcome.reason == "phase phase_2_raw"
    entries = log_lines(capsys.readouterr().out)
    assert entries[-1]["phase"] == "phase_2_raw"
    assert "gates on phase_3_analytics" in entries[-1]["message"]


def test_tally_counts_only_expected_successes():
    def at(minute: int) -> dt.datetime:
        return dt.datetime(2026, 2, 4, 12, minute, tzinfo=dt.UTC)

    records = {
        "a_proc": {"status": "success", "recorded_at": at(3)},
        "b_proc": {"status": "failed", "recorded_at": at(1)},
        "z_proc": {"status": "success", "recorded_at": at(2)},
    }
    t = tally(records, ["a_proc", "b_proc", "c_proc"])
    assert t.completed == ("a_proc",)
    assert t.missing == ("b_proc", "c_proc")
    assert t.unexpected == ("z_proc",)
    assert (t.first_completion_at, t.last_completion_at) == (at(1), at(3))
    fields = summary_fields(t)
    assert fields["_completed_count"] == 1
    assert fields["_expected_count"] == 3
    assert fields["z_proc"]["expected"] is False


def test_trigger_payload_carries_idempotency_key():
    config = Config.from_env(orchestrator_environ())
    completion = parse_completion(
        {"processor_name": "a_proc", "game_date": "2026-02-04", "correlation_id": "c-1"}, PHASES
    )
    t = tally({"a_proc": {"status": "success"}}, ["a_proc"])
    data, attributes = trigger_payload(config, t, completion, "evt-9", orch_now())
    body = json.loads(data)
    assert attributes == {
        "game_date": "2026-02-04",
        "transition": "phase3_to_phase4",
        "source_phase": "phase_3_analytics",
        "idempotency_key": "phase3_to_phase4:2026-02-04",
    }
    assert body["completed_processors"] == ["a_proc"]
    assert body["correlation_id"] == "c-1"
    assert body["trigger_event_id"] == "evt-9"


def orch_now():
    import datetime as dt

    return dt.datetime(2026, 2, 4, 16, 0, tzinfo=dt.UTC)
