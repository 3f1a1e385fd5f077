"""checkov: the skip list, mapping findings to addresses, and one real run via iam.report."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from iam import checkov as checkov_module
from iam.checkov import (
    DEFAULT_CHECKOV,
    DEFAULT_SKIPS,
    CheckovError,
    Skip,
    address_of,
    checkov_input,
    load_skips,
    parsing_errors,
    results_for,
    scan,
)
from infra.stackjson.stack import StackJson

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_checked_in_skips_are_valid_and_reasoned():
    skips = load_skips(DEFAULT_SKIPS)
    assert skips
    for s in skips:
        assert s.check.startswith("CKV_") and s.resource and len(s.reason) > 60, s


@pytest.mark.parametrize(("text", "why"), [
    ("skips:\n  - check: CKV_GCP_1\n    resource: x.*\n", "skips[0].reason is missing"),
    ("skips:\n  - check: GCP_1\n    resource: x.*\n    reason: because\n", "not a checkov"),
    ("skips:\n  - check: CKV_GCP_1\n    resource: x\n    reason: r\n    until: never\n",
     "unknown keys ['until']"),
    ("- check: CKV_GCP_1\n", "top-level 'skips:' list"),
    ("skips: [unclosed\n", "not YAML"),
])
def test_bad_skip_lists_are_rejected(tmp_path, text, why):
    path = tmp_path / "skips.yaml"
    path.write_text(text)
    with pytest.raises(CheckovError, match=re.escape(why)):
        load_skips(path)


def test_findings_map_to_addresses_and_skips_apply(stack_json, tmp_path):
    stack = StackJson(stack_json["prod"])
    path = tmp_path / "cdk.tf.json"
    report = {"check_type": "terraform_json", "results": {
        "passed_checks": [{"check_id": "CKV_GCP_29", "resource": "resource.x",
                           "file_abs_path": str(path)}],
        "failed_checks": [
            {"check_id": "CKV_GCP_83", "check_name": "CMEK", "file_abs_path": str(path),
             "resource": "resource.phase4_trigger__topic"},
            {"check_id": "CKV_GCP_62", "check_name": "Bucket should log access",
             "file_abs_path": str(path), "resource": "resource.function_sources__bucket"},
        ]}}
    skips = (Skip("CKV_GCP_83", "google_pubsub_topic.*", "reason"),
             Skip("CKV_GCP_1", "*", "stale"))
    (result,) = results_for(report, {"pipeline-prod": (path, stack)}, skips)
    assert result.passed == 1
    assert [f.address for f in result.failed] == [
        "google_storage_bucket.function_sources__bucket"]
    assert [(f.address, s.reason) for f, s in result.skipped] == [
        ("google_pubsub_topic.phase4_trigger__topic", "reason")]
    assert [str(s) for s in result.unused_skips] == ["CKV_GCP_1 *"]


def test_address_of_keeps_unknown_names_visible(stack_json):
    stack = StackJson(stack_json["prod"])
    assert address_of(stack, "resource.nope") == "?.nope"
    assert address_of(stack, "data.project") == "data.google_project.project"


def test_missing_checkov_is_a_clear_error(stack_dirs, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "iam.report", str(stack_dirs["prod"]), "--checkov",
         str(tmp_path / "checkov")], cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert "checkov is not installed" in proc.stderr


@pytest.mark.skipif(not DEFAULT_CHECKOV.exists() and not os.environ.get("CI"),
                    reason=".venv-checkov is not installed (make policy installs it; CI must)")
def test_report_runs_checkov_and_rules_on_both_stacks(stack_dirs):
    proc = subprocess.run(
        [sys.executable, "-m", "iam.report", str(stack_dirs["dev"]), str(stack_dirs["prod"]),
         "--format", "markdown"], cwd=REPO_ROOT, capture_output=True, text=True, check=False,
        timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    md = proc.stdout
    assert md.startswith("## ✅ Policy gate: passed\n")
    assert "### Checkov" in md
    assert "| `pipeline-prod` | " in md and "| ✅ 0 |" in md
    assert "Skipped checks and why" in md
    assert "matched nothing" not in proc.stderr, proc.stderr


def test_checkov_reads_a_copy_without_the_settings_its_parser_cannot_read(tmp_path, prod):
    """checkov 3 fails to parse a terraform block with required_version ("this method receives
    only dicts") and then checks nothing: the copy it reads leaves the setting out, and keeps
    every resource."""
    src = tmp_path / "stacks" / "pipeline-prod" / "cdk.tf.json"
    src.parent.mkdir(parents=True)
    src.write_text(json.dumps(prod))
    assert prod["terraform"]["required_version"] == ">= 1.11"
    copy = json.loads(checkov_input(src, tmp_path / "out").read_text())
    assert "required_version" not in copy["terraform"]
    assert copy["resource"] == prod["resource"]
    assert copy["terraform"]["required_providers"] == prod["terraform"]["required_providers"]


def test_a_stack_checkov_could_not_parse_fails_the_gate(tmp_path, monkeypatch, prod):
    report = {"check_type": "terraform_json", "results": {
        "passed_checks": [], "failed_checks": [], "skipped_checks": [],
        "parsing_errors": ["/tmp/x/pipeline-prod/cdk.tf.json"]}}
    assert parsing_errors(report) == ["/tmp/x/pipeline-prod/cdk.tf.json"]
    monkeypatch.setattr(checkov_module, "run_checkov", lambda files, checkov: report)
    stack = tmp_path / "pipeline-prod" / "cdk.tf.json"
    stack.parent.mkdir()
    stack.write_text(json.dumps(prod))
    with pytest.raises(CheckovError, match=r"checkov could not parse .*; it checked nothing"):
        scan({"pipeline-prod": (stack, StackJson(prod))})
