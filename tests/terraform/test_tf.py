"""The Terraform wrapper (`python -m infra.tf`) at its boundary with the terraform binary.

A fake `terraform` on PATH (`tests/terraform/fake_terraform.py`) records every argv and
working directory and answers with canned output from `recorded/terraform/` (see its README):
Terraform's machine-readable UI (`-json` lines) as Terraform 1.11 printed it without network
or credentials, and `terraform show -json` documents. The real `infra.plan_summary` and
`infra.drift` run on those documents. No plan is faked for anyone: these tests check which
commands the wrapper runs, in which order and folder, and what it prints. The refusals are in
`test_tf_refusals.py`; `test_tf_ui.py` runs the real terraform binary.
"""

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from infra.terraform import tf
from infra.terraform.plan_json import load_plan
from infra.terraform.tf import plan_fingerprint
from tests.terraform.fake_terraform import (
    APPLY,
    CANNED,
    DRIFT,
    INIT,
    PLAN,
    SHOW_DRIFT,
    SHOW_PLAN,
    refused_apply,
    step_lines,
)

ROOT = Path(__file__).resolve().parents[2]


# --- plan --------------------------------------------------------------------------------


def test_plan_runs_init_plan_show_summary_in_the_stack(fake, capsys):
    fake.show("plan.tfplan", "plan.json")
    fake.answer("plan.stdout", (CANNED / "plan.jsonl").read_text())
    assert fake.run("plan") == 0
    assert fake.argvs() == [INIT, PLAN, SHOW_PLAN]
    assert {call["cwd"] for call in fake.calls()} == {str(fake.stack)}
    out = capsys.readouterr().out
    steps = step_lines(out)
    assert steps[0].startswith(f"tf: plan prod in {fake.stack} (credentials: "
                               "GOOGLE_OAUTH_ACCESS_TOKEN)")
    fingerprint = (fake.stack / "plan.fingerprint").read_text().strip()
    assert [s.split(" …")[0] for s in steps[1:6]] == [
        "tf: terraform init -input=false",
        "tf: terraform plan -input=false -out=plan.tfplan",
        "tf: terraform show -json plan.tfplan > plan.json",
        f"tf: 1 change, fingerprint {fingerprint[:19]}… in {fake.stack / 'plan.fingerprint'}",
        "tf: python -m infra.plan_summary plan.json > plan.md",
    ]
    assert all(" ok (" in s for s in steps[1:4] + steps[5:6])
    assert steps[2].endswith("s): Plan: 1 to add, 0 to change, 0 to destroy.")
    assert steps[6] == (f"tf: saved {fake.stack / 'plan.tfplan'}; apply it with "
                        "`make apply ENV=prod`")
    # the real summary of the canned plan, printed and saved for the PR comment
    assert "**1 to create, 0 to update, 0 to replace, 0 to delete.**" in out
    assert (fake.stack / "plan.md").read_text() in out
    assert json.loads((fake.stack / "plan.json").read_text())["format_version"] == "1.2"
    meta = json.loads((fake.stack / "plan.meta.json").read_text())
    digest = hashlib.sha256((fake.stack / "cdk.tf.json").read_bytes()).hexdigest()
    assert fingerprint == plan_fingerprint(load_plan(CANNED / "plan.json"))[0]
    assert meta == {"env": "prod", "stack_sha256": digest, "plan": "plan.tfplan",
                    "fingerprint": fingerprint, "changes": 1}


def test_plan_that_cannot_be_summarized_is_not_left_to_apply(fake, capsys):
    fake.answer("show-plan.tfplan.json", "this is not JSON")
    assert fake.run("plan") == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line == f"tf: error: {fake.stack / 'plan.json'}: not JSON (line 1 column 1: " \
                   "Expecting value)"
    assert not (fake.stack / "plan.tfplan").exists()
    assert not (fake.stack / "plan.meta.json").exists()


def test_a_first_plan_with_unannounced_changes_is_summarized_but_not_saved(fake, capsys):
    """The summary flags changes to imported resources the adoption record did not announce:
    plan.md is written for the review, plan.tfplan is deleted so `make apply` refuses."""
    fixture = Path(__file__).parent / "fixtures" / "first-plan-unannounced.json"
    fake.answer("show-plan.tfplan.json", fixture.read_text())
    assert fake.run("plan") == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("tf: error: the plan changes imported resources in ways the "
                              "adoption record (infra/adoption/prod.json) did not announce")
    assert "not announced" in (fake.stack / "plan.md").read_text()
    assert not (fake.stack / "plan.tfplan").exists()
    assert not (fake.stack / "plan.meta.json").exists()


def test_plan_failure_is_one_line_per_error_and_stops(fake, capsys):
    """Terraform 1.11's JSON UI for a configuration with two errors: the first on the failure
    line, the other on a line of its own, each with the file and line it points at."""
    fake.answer("plan.rc", "1")
    fake.answer("plan.stdout", (CANNED / "plan-invalid-config.jsonl").read_text())
    assert fake.run("plan") == 1
    assert fake.argvs() == [INIT, PLAN]
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "tf: error: terraform plan -input=false -out=plan.tfplan failed: Invalid resource name: "
        "A name must start with a letter or underscore and may contain only letters, digits, "
        f"underscores, and dashes. (main.tf:1) (+1 more error) (full output: "
        f"{fake.stack / 'plan.log'})",
        "tf:   error: Invalid type specification: The keyword \"strin\" is not a valid type "
        "specification. (main.tf:4)",
    ]
    log = (fake.stack / "plan.log").read_text().splitlines()
    assert log == ["Terraform 1.11.4",
                   "error: Invalid resource name: A name must start with a letter or underscore "
                   "and may contain only letters, digits, underscores, and dashes. (main.tf:1)",
                   captured.err.splitlines()[1].removeprefix("tf:   ")]
    assert (fake.stack / "plan.log.jsonl").read_text() == \
        (CANNED / "plan-invalid-config.jsonl").read_text()
    assert not (fake.stack / "plan.meta.json").exists()


def test_a_provider_error_names_the_resource_line_and_warnings_stay_in_the_log(fake, capsys):
    fake.answer("plan.rc", "1")
    fake.answer("plan.stdout", (CANNED / "plan-provider-error.jsonl").read_text())
    assert fake.run("plan") == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("tf: error: terraform plan -input=false -out=plan.tfplan failed: "
                           "Error when reading or editing Topic \"projects/nba-props-platform/"
                           "topics/nba-phase4-trigger\": googleapi: Error 403: User not "
                           "authorized to perform this action. (cdk.tf.json:2146) (full output")
    assert "warning: Deprecated attribute: The attribute \"message_retention_duration\" is " \
        "deprecated. Refer to the provider documentation for details. (cdk.tf.json:2150)" in \
        (fake.stack / "plan.log").read_text().splitlines()


def test_warnings_of_a_step_that_succeeds_are_printed_one_line_each(fake, capsys):
    warning = json.loads((CANNED / "plan-provider-error.jsonl").read_text().splitlines()[2])
    fake.answer("plan.stdout", json.dumps(warning) + "\n"
                + (CANNED / "plan.jsonl").read_text())
    fake.saved_plan()
    steps = step_lines(capsys.readouterr().out)
    assert steps[3] == ("tf:   warning: Deprecated attribute: The attribute "
                        "\"message_retention_duration\" is deprecated. Refer to the provider "
                        "documentation for details. (cdk.tf.json:2150)")


def test_init_without_provider_download_is_one_line(fake, capsys):
    fake.answer("init.rc", "1")
    fake.answer("init.stdout", (CANNED / "init-provider-unreachable.jsonl").read_text())
    assert fake.run("plan") == 1
    assert fake.argvs() == [INIT]
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("tf: error: terraform init -input=false failed (it downloads the "
                           "google provider and opens the state bucket): Failed to query "
                           "available provider packages: Could not retrieve the list of "
                           "available versions for provider hashicorp/google: could not "
                           "connect to registry.terraform.io:")
    assert line.endswith(f"no such host (full output: {fake.stack / 'init.log'})")
    assert "Traceback" not in captured.out + captured.err
    assert "To see which modules" not in line, "the detail's first paragraph only"
    assert "error: Failed to query" in (fake.stack / "init.log").read_text()


# --- apply -------------------------------------------------------------------------------


def test_apply_applies_exactly_the_saved_plan(fake, capsys):
    fake.saved_plan()
    fake.answer("apply.stdout", (CANNED / "apply.jsonl").read_text())
    capsys.readouterr()
    assert fake.run("apply") == 0
    assert fake.argvs()[3:] == [INIT, APPLY]
    steps = step_lines(capsys.readouterr().out)
    assert steps[2].startswith("tf: terraform apply -input=false plan.tfplan … ok (")
    assert steps[2].endswith("s): Apply complete! Resources: 1 added, 0 changed, 0 destroyed.")
    assert steps[3] == "tf: applied the reviewed plan to prod; check it live with " \
                       "`make verify ENV=prod`"


def test_apply_without_a_plan_refuses(fake, capsys):
    assert fake.run("apply") == 1
    assert fake.argvs() == []
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"tf: refused: no saved plan {fake.stack / 'plan.tfplan'}; run `make plan ENV=prod` "
        "and review it first"
    ]


def test_apply_refuses_when_the_stack_changed_since_the_plan(fake, capsys):
    fake.saved_plan()
    (fake.stack / "cdk.tf.json").write_text('{"resource": {"changed": {}}}\n')
    assert refused_apply(fake, capsys) == [
        "tf: refused: the stack changed since the plan was made (cdk.tf.json differs); run "
        "`make plan ENV=prod` and review it again"
    ]


def test_apply_accepts_an_identical_resynth(fake, capsys):
    """A re-synth that wrote the same cdk.tf.json (newer mtime) does not invalidate the plan."""
    fake.saved_plan()
    stack_json = fake.stack / "cdk.tf.json"
    plan_time = (fake.stack / "plan.tfplan").stat().st_mtime
    os.utime(stack_json, (plan_time + 60, plan_time + 60))
    assert fake.run("apply") == 0
    assert fake.argvs()[-1] == APPLY


def test_apply_refuses_an_older_plan_without_metadata(fake, capsys):
    fake.saved_plan()
    (fake.stack / "plan.meta.json").unlink()
    plan_time = (fake.stack / "plan.tfplan").stat().st_mtime
    os.utime(fake.stack / "cdk.tf.json", (plan_time + 60, plan_time + 60))
    assert refused_apply(fake, capsys) == [
        "tf: refused: the saved plan is older than cdk.tf.json; run `make plan ENV=prod` and "
        "review it again"
    ]


def test_apply_refuses_a_plan_for_another_env(fake, capsys):
    fake.saved_plan()
    meta = json.loads((fake.stack / "plan.meta.json").read_text())
    (fake.stack / "plan.meta.json").write_text(json.dumps({**meta, "env": "dev"}))
    [line] = refused_apply(fake, capsys)
    assert line.startswith("tf: refused: the saved plan is for env 'dev', not 'prod'")


def test_apply_refuses_plan_metadata_it_cannot_read(fake, capsys):
    fake.saved_plan()
    (fake.stack / "plan.meta.json").write_text(json.dumps({"env": "prod"}))
    [line] = refused_apply(fake, capsys)
    assert line == (f"tf: refused: {fake.stack / 'plan.meta.json'}: stack_sha256: missing, "
                    "required; run `make plan ENV=prod` again")


# --- drift -------------------------------------------------------------------------------


@pytest.mark.parametrize(("canned", "terraform_rc", "code", "verdict"), [
    ("drift-clean.json", "0", 0, "no drift"),
    ("drift-label-changed.json", "2", 2, "drift"),
    ("drift-invoker-deleted.json", "2", 3, "critical drift"),
])
def test_drift_exits_with_the_review_code(fake, capsys, canned, terraform_rc, code, verdict):
    fake.answer("plan-refresh-only.rc", terraform_rc)
    fake.show("drift.tfplan", canned)
    assert fake.run("drift") == code
    assert fake.argvs() == [INIT, DRIFT, SHOW_DRIFT]
    out = capsys.readouterr().out
    steps = step_lines(out)
    assert [s.split(" …")[0] for s in steps[1:5]] == [
        "tf: terraform init -input=false",
        "tf: terraform plan -refresh-only -detailed-exitcode -input=false -out=drift.tfplan",
        "tf: terraform show -json drift.tfplan > drift.json",
        "tf: python -m infra.drift drift.json > drift.md",
    ]
    assert steps[5] == (f"tf: prod: {verdict} (exit {code}); report in "
                        f"{fake.stack / 'drift.md'}")
    assert (fake.stack / "drift.exitcode").read_text() == f"{code}\n"
    assert (fake.stack / "drift.md").read_text().startswith("# Drift review")
    assert "# Drift review" in out


def test_drift_when_terraform_fails_writes_exit_1(fake, capsys):
    fake.answer("plan-refresh-only.rc", "1")
    fake.answer("plan-refresh-only.stdout", (CANNED / "init-backend-unreachable.jsonl")
                .read_text())
    assert fake.run("drift") == 1
    assert fake.argvs() == [INIT, DRIFT]
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("tf: error: terraform plan -refresh-only -detailed-exitcode "
                           "-input=false -out=drift.tfplan failed: Failed to get existing "
                           "workspaces: querying Cloud Storage failed:")
    assert (fake.stack / "drift.exitcode").read_text() == "1\n"


def test_plan_with_preflight_stops_before_synthesis_when_the_project_lacks_an_api(
        fake, capsys, monkeypatch):
    """`make plan` passes --preflight: after the refusals, before synthesis and init, the live
    preflight; a missing API is its line, exit 1, terraform never runs."""
    def fake_run(argv, **kwargs):
        assert argv[1:] == ["-m", "infra.live.preflight", "--env", "prod", "--live"]
        return subprocess.CompletedProcess(argv, 2, "", (
            "preflight: cloudresourcemanager.googleapis.com is DISABLED in nba-props-platform: "
            "run `gcloud services enable cloudresourcemanager.googleapis.com "
            "--project=nba-props-platform` before `make plan ENV=prod` (the plan reads "
            "through it)\n"))

    monkeypatch.setattr(tf.subprocess, "run", fake_run)
    assert fake.run("plan", "--preflight") == 1
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("tf: error: python -m infra.live.preflight --live failed (exit 2): "
                              "preflight: cloudresourcemanager.googleapis.com is DISABLED")
    assert fake.argvs() == []
