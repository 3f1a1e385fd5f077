"""``python -m iam.policy``: exit codes 0/1/2, line format, env detection, Markdown."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from iam.policy import detect_env, main
from iam.rules import RULES

REPO_ROOT = Path(__file__).resolve().parents[2]
LINE_RE = re.compile(r"^[A-Z]+-\d{3} \S+: .+$")
INVOKER = "phase3_analytics_processors__invoker_phase3_analytics_sub_push_identity"


def policy(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "iam.policy", *map(str, args)], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=False, timeout=120)


def test_clean_stacks_exit_0(stack_dirs):
    proc = policy(stack_dirs["dev"], stack_dirs["prod"] / "cdk.tf.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout == ""
    assert f"pipeline-dev (dev, {len(RULES)} rules): clean" in proc.stderr
    assert f"pipeline-prod (prod, {len(RULES)} rules): clean" in proc.stderr


def test_violation_exits_1_with_one_line_each(prod, write_stack):
    del prod["resource"]["google_cloud_run_v2_service_iam_member"][INVOKER]
    proc = policy(write_stack(prod))
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines and all(LINE_RE.match(line) for line in lines), proc.stdout
    assert any(line.startswith("PUSH-003 google_pubsub_subscription.phase3_analytics_sub__"
                               "subscription: push identity nba-push-phase2-to-phase3@")
               for line in lines)


def test_cdktf_out_folder_expands_to_its_stacks(synth_dir):
    proc = policy(synth_dir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.count("clean") == 2


@pytest.mark.parametrize(("content", "why"), [
    (None, "missing"),
    ("{not json", "not JSON"),
    ("[1, 2]", "not a Terraform JSON stack (top level is list"),
    ('{"format_version": "1.2", "resource_changes": []}', "looks like a plan"),
    ('{"resource": {"google_pubsub_topic": []}}', "google_pubsub_topic is not an object"),
])
def test_unreadable_input_exits_2_naming_the_file(tmp_path, content, why):
    path = tmp_path / "cdk.tf.json"
    if content is not None:
        path.write_text(content)
    proc = policy(path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"{path}: ") and why in line


def test_folder_without_stack_exits_2(tmp_path):
    proc = policy(tmp_path)
    assert proc.returncode == 2
    assert "folder has no cdk.tf.json" in proc.stderr


def test_one_bad_path_among_good_ones_exits_2(stack_dirs, tmp_path):
    assert main([str(stack_dirs["prod"]), str(tmp_path / "nope.json")]) == 2


def test_env_from_folder_name_then_stack_name(prod, write_stack):
    assert detect_env(write_stack(prod, "pipeline-dev") / "cdk.tf.json", {}) == "dev"
    assert detect_env(Path("/tmp/x/cdk.tf.json"), prod) == "prod"
    assert detect_env(Path("/tmp/x/cdk.tf.json"), {}) is None


def test_without_env_only_manifest_rules_run(prod, write_stack):
    del prod["//"]
    # Phase 3 publishing on the Phase 4 trigger (bypassing the gate) is well-formed IAM; only
    # the grant data says that identity must not hold it.
    prod["resource"]["google_pubsub_topic_iam_member"]["x"] = {
        "project": "nba-props-platform", "role": "roles/pubsub.publisher",
        "topic": "${google_pubsub_topic.phase4_trigger__topic.name}",
        "member": "serviceAccount:${google_service_account.phase3_analytics_processors__identity"
                  ".email}",
        "lifecycle": {"replace_triggered_by": ["google_pubsub_topic.phase4_trigger__topic.id"]}}
    # ...and, like every grant, waited for before the service acts as the identity (ORDER-003).
    prod["resource"]["time_sleep"]["phase3_analytics_processors__identity_grants_propagated"][
        "depends_on"].append("google_pubsub_topic_iam_member.x")
    folder = write_stack(prod, "mutated")
    proc = policy(folder)
    assert proc.returncode == 0, proc.stdout
    assert "environment unknown" in proc.stderr
    proc = policy(folder, "--env", "prod")
    assert proc.returncode == 1
    assert proc.stdout.startswith("GRANT-001 google_pubsub_topic_iam_member.x: "
                                  "nba-run-p3-analytics@nba-props-platform (runtime identity of "
                                  "service nba-phase3-analytics-processors) holds "
                                  "roles/pubsub.publisher on pubsub.topic nba-phase4-trigger")


def test_several_stacks_tag_each_line(prod, stack_dirs, write_stack):
    prod["resource"]["google_pubsub_topic"]["orphan"] = {"name": "nba-orphan"}
    proc = policy(stack_dirs["dev"], write_stack(prod))
    assert proc.returncode == 1
    assert proc.stdout.splitlines() == [
        "TOPIC-001 google_pubsub_topic.orphan: topic 'nba-orphan' has no subscription or event "
        "trigger: whatever is published there is lost (like the removed nba-phase3-trigger); "
        "add its consumer or remove the topic [pipeline-prod]"]


def test_markdown_report(prod, write_stack):
    del prod["resource"]["google_cloud_run_v2_service_iam_member"][INVOKER]["lifecycle"]
    prod["resource"]["google_pubsub_topic"]["orphan"] = {"name": "nba-orphan"}
    proc = policy(write_stack(prod), "--format", "markdown")
    assert proc.returncode == 1
    md = proc.stdout
    assert md.startswith("## ❌ Policy gate: 2 policy violation(s)\n")
    assert f"| `pipeline-prod` | prod | {len(RULES)} | 2 |" in md
    assert "#### `LIFE-001` IAM on a replaceable resource is re-created with it (1)" in md
    assert "**Fix:** lifecycle.replace_triggered_by" in md
    assert f"| `pipeline-prod` | `google_cloud_run_v2_service_iam_member.{INVOKER}` |" in md
    assert md.index("LIFE-001") < md.index("TOPIC-001")
    assert "<details><summary>Why this rule</summary>" in md


def test_markdown_clean(stack_dirs):
    proc = policy(stack_dirs["prod"], "--format", "markdown")
    assert proc.returncode == 0
    assert proc.stdout.startswith("## ✅ Policy gate: passed\n")


def test_rules_table_lists_every_rule():
    proc = policy("--rules")
    assert proc.returncode == 0
    rows = [line for line in proc.stdout.splitlines() if line.startswith("| `")]
    assert len(rows) == len(RULES)


def test_markdown_escapes_pipes(prod, write_stack):
    prod["resource"]["google_pubsub_topic"]["orphan"] = {"name": "a|b"}
    proc = policy(write_stack(prod), "--format", "markdown")
    assert "topic 'a\\|b'" in proc.stdout
    assert json.dumps(prod)  # the mutated stack itself stayed valid JSON


def test_readme_rule_table_is_current():
    from iam.policy import rules_table

    readme = (REPO_ROOT / "iam" / "README.md").read_text()
    assert rules_table() in readme, "regenerate: python -m iam.policy --rules"


def test_a_rule_that_cannot_read_the_stack_is_an_input_error(stack_dirs, monkeypatch):
    import iam.rules
    from iam.policy import check_paths
    from iam.rules import Rule
    from infra.errors import InputError

    def broken(ctx):
        raise TypeError("'int' object is not iterable")

    monkeypatch.setattr(iam.rules, "RULES", (Rule("X-001", "t", "r", "f", broken),))
    with pytest.raises(InputError, match=r"pipeline-prod/cdk.tf.json: rule X-001 cannot read "
                                         r"this stack \(TypeError: "):
        check_paths([stack_dirs["prod"]])


def test_malformed_blocks_do_not_crash(prod, write_stack):
    inv = prod["resource"]["google_cloud_run_v2_service_iam_member"][INVOKER]
    inv["lifecycle"] = 5
    prod["resource"]["google_cloud_run_v2_service"]["phase3_analytics_processors__service"][
        "template"]["containers"] = "x"
    proc = policy(write_stack(prod))
    assert proc.returncode == 1, proc.stderr
    assert f"LIFE-001 google_cloud_run_v2_service_iam_member.{INVOKER}: " in proc.stdout
