"""Drift review: the ignore file (`infra/terraform/drift-ignore.json`): what it mutes, until when,
and the entries it refuses."""

from datetime import date

import pytest

from infra.terraform import drift, drift_ignore
from infra.terraform.plan_json import parse_path
from tests.terraform.drift.support import (
    SUB,
    section,
)
from tests.terraform.support import SVC

# --- ignore file ---------------------------------------------------------------------------


def test_unexpired_ignore_entries_mute_with_their_reason(run, fixtures_dir):
    result = run("ignored_attribute.json", ignore=fixtures_dir / "ignore_client_unexpired.json")
    assert result.code == drift.EXIT_CLEAN, result.out
    assert "| ignore file: gcloud run deploy in the rollback runbook" in result.out
    assert "`client`, `client_version`" in result.out


def test_expired_ignore_entries_are_findings_and_stop_muting(run, fixtures_dir):
    result = run("ignored_attribute.json", ignore=fixtures_dir / "ignore_client_expired.json")
    assert result.code == drift.EXIT_DRIFT
    rows = section(result.out, "Drift")
    assert "ignore entry for `client` expired on 2026-10-31" in rows
    assert '`client` changed out of band | `(absent)` → `"gcloud"`' in rows
    assert "ignore file:" not in result.out


def test_ignore_file_never_mutes_a_critical_change(run, write_json):
    ignore = write_json(
        {
            "ignore": [
                {
                    "address": "google_pubsub_subscription.*",
                    "attribute": "push_config",
                    "reason": "someone thought this was noise",
                    "expires": "2027-01-31",
                }
            ]
        },
        "ignore-push.json",
    )
    result = run("push_endpoint_changed.json", ignore=ignore)
    assert result.code == drift.EXIT_CRITICAL
    assert "ignore file:" not in result.out


def test_ignore_file_mutes_non_critical_attributes_of_the_same_resource(
    run_doc, load, find, write_json
):
    plan = load("push_endpoint_changed.json")
    change = find(plan, "resource_drift", SUB)["change"]
    change["after"]["ack_deadline_seconds"] = 60
    ignore = write_json(
        {
            "ignore": [
                {
                    "address": SUB,
                    "attribute": "ack_deadline_seconds",
                    "reason": "tuning experiment, see incident 12",
                    "expires": "2027-01-31",
                }
            ]
        },
        "ignore-ack.json",
    )
    result = run_doc(plan, ignore=ignore)
    assert "| critical | 1 |\n| drift | 0 |\n| noise (muted) | 1 |" in result.out
    assert "| ignore file: tuning experiment, see incident 12 | 1 | `ack_deadline_seconds` |" in (
        result.out
    )


def test_expired_ignore_entry_is_a_finding_even_when_nothing_drifts(run, fixtures_dir):
    result = run("refresh_clean.json", ignore=fixtures_dir / "ignore_client_expired.json")
    assert result.code == drift.EXIT_DRIFT
    assert "renew it or fix the drift" in result.out


@pytest.mark.parametrize(
    ("today", "expected"),
    [("2027-01-31", drift.EXIT_CLEAN), ("2027-02-01", drift.EXIT_DRIFT)],
)
def test_ignore_entry_is_valid_through_its_expiry_day(run, fixtures_dir, today, expected):
    ignore = fixtures_dir / "ignore_client_unexpired.json"
    assert run("ignored_attribute.json", ignore=ignore, today=today).code == expected


@pytest.mark.parametrize(
    ("glob", "attribute", "address", "path", "expected"),
    [
        ("google_cloud_run_v2_service.*", "client", SVC, "client", True),
        ("google_cloud_run_v2_service.*", "client", SVC, "client_version", False),
        (
            "google_cloud_run_v2_service.phase3_*",
            "template.containers.env",
            SVC,
            "template[0].containers[0].env[2].value",
            True,
        ),
        (
            "google_cloud_run_v2_service.*",
            "template[0].containers[0].env[1]",
            SVC,
            "template[0].containers[0].env[2].value",
            False,
        ),
        (
            "google_cloud_run_v2_service.*",
            "template[0].labels",
            SVC,
            'template[0].labels["run.googleapis.com/x"]',
            True,
        ),
        ("google_pubsub_subscription.*", "labels", SVC, "labels", False),
        ('google_pubsub_topic.t["a"]', "labels", 'google_pubsub_topic.t["a"]', "labels", True),
        ('google_pubsub_topic.t["a"]', "labels", "google_pubsub_topic.ta", "labels", False),
    ],
)
def test_ignore_entry_matching(glob, attribute, address, path, expected):
    entry = drift_ignore.IgnoreEntry(glob, parse_path(attribute), "because", date(2027, 1, 1))
    assert entry.matches(address, parse_path(path)) is expected


@pytest.mark.parametrize(
    ("fixture", "message"),
    [
        ("ignore_missing_reason.json", "ignore[0].reason: missing, required"),
        ("ignore_missing_expires.json", "ignore[1].expires: missing, required"),
    ],
)
def test_ignore_entry_without_reason_or_expiry_is_unreadable(run, fixtures_dir, fixture, message):
    result = run("env_var_drift.json", ignore=fixtures_dir / fixture)
    assert result.code == drift.EXIT_UNREADABLE
    assert result.out == ""
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"drift: {fixtures_dir / fixture}: {message}")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "expected an object, found []"),
        ({"ignore": {}}, "ignore: expected a list, found {}"),
        ({}, "ignore: missing, required"),
        ({"ignore": ["x"]}, "ignore[0]: expected an object, found 'x'"),
        (
            {"ignore": [{"address": "a", "attribute": "b", "reason": "c", "expires": "soon"}]},
            "ignore[0].expires: expected a date YYYY-MM-DD, found 'soon'",
        ),
        (
            {"ignore": [{"address": "a", "attribute": "b", "reason": "c", "expires": 20270101}]},
            "ignore[0].expires: expected a date YYYY-MM-DD, found 20270101",
        ),
        (
            {
                "ignore": [
                    {"address": "a", "attribute": "b", "reason": " ", "expires": "2027-01-01"}
                ]
            },
            "ignore[0].reason: expected a non-empty string, found ' '",
        ),
        (
            {
                "ignore": [
                    {"address": "a", "attribute": "b..c", "reason": "r", "expires": "2027-01-01"}
                ]
            },
            "ignore[0].attribute: expected an attribute path such as template[0].labels (cannot "
            "parse attribute path 'b..c' at '..c'), found 'b..c'",
        ),
    ],
)
def test_malformed_ignore_file_is_unreadable(run, write_json, document, message):
    path = write_json(document, "bad-ignore.json")
    result = run("refresh_clean.json", ignore=path)
    assert result.code == drift.EXIT_UNREADABLE
    assert result.err.startswith(f"drift: {path}: {message}")


def test_missing_ignore_file_is_unreadable(run, tmp_path):
    result = run("refresh_clean.json", ignore=tmp_path / "nope.json")
    assert result.code == drift.EXIT_UNREADABLE
    assert result.err == f"drift: {tmp_path / 'nope.json'}: file not found\n"


def test_checked_in_ignore_file_is_valid():
    entries = drift_ignore.load_ignore_file(drift_ignore.DEFAULT_IGNORE_FILE)
    assert all(entry.reason and entry.expires for entry in entries)
