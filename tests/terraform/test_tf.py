"""The Terraform wrapper (`python -m infra.tf`) at its boundary with the terraform binary.

A fake `terraform` on PATH records every argv and working directory and answers with
canned output from `recorded/terraform/` (see its README): the real stderr of
`terraform init` without network or credentials, and `terraform show -json` documents.
The real `infra.plan_summary` and `infra.drift` run on those documents. No plan is faked
for anyone: these tests check which commands the wrapper runs, in which order and folder,
and what it prints and refuses.
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.model.envs import ENVS
from infra.terraform import tf
from infra.terraform.tf import plan_fingerprint, terraform_reason

ROOT = Path(__file__).resolve().parents[2]
CANNED = Path(__file__).resolve().parent / "recorded" / "terraform"

FAKE_TERRAFORM = """#!{python}
import json, os, sys
from pathlib import Path

args = sys.argv[1:]
with open(os.environ["FAKE_TF_LOG"], "a") as log:
    log.write(json.dumps({{"argv": args, "cwd": os.getcwd()}}) + "\\n")
answers = Path(os.environ["FAKE_TF_ANSWERS"])
step = args[0] + ("-refresh-only" if "-refresh-only" in args else "")

def answer(name):
    path = answers / name
    return path.read_text() if path.exists() else None

out, err = answer(step + ".stdout"), answer(step + ".stderr")
code = int(answer(step + ".rc") or 0)
if args[0] == "plan" and code in (0, 2):
    for arg in args:
        if arg.startswith("-out="):
            Path(arg[5:]).write_text("saved plan written by the fake terraform\\n")
if args[0] == "show":
    if not Path(args[-1]).exists():
        sys.stderr.write("\\nError: Failed to read the given file as a state or plan file\\n")
        sys.exit(1)
    out = answer("show-" + args[-1] + ".json")
if out:
    sys.stdout.write(out)
if err:
    sys.stderr.write(err)
sys.exit(code)
"""

CREDENTIAL_VARIABLES = ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CREDENTIALS",
                        "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN",
                        "CLOUDSDK_CONFIG", "CDKTF_OUTDIR")


class FakeTerraform:
    def __init__(self, root: Path):
        self.bin = root / "bin"
        self.answers = root / "answers"
        self.log = root / "terraform-calls.jsonl"
        self.outdir = root / "cdktf.out"
        self.stack = self.outdir / "stacks" / "pipeline-prod"
        for folder in (self.bin, self.answers, self.stack):
            folder.mkdir(parents=True)
        script = self.bin / "terraform"
        script.write_text(FAKE_TERRAFORM.format(python=sys.executable))
        script.chmod(0o755)
        (self.stack / "cdk.tf.json").write_text('{"resource": {}}\n')

    def answer(self, name: str, text: str) -> None:
        (self.answers / name).write_text(text)

    def show(self, plan_file: str, canned: str) -> None:
        self.answer(f"show-{plan_file}.json", (CANNED / canned).read_text())

    def saved_plan(self) -> None:
        """Run ``plan`` on the canned plan.json, leaving the saved plan ``apply`` reads."""
        self.show("plan.tfplan", "plan.json")
        assert self.run("plan") == 0

    def calls(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def argvs(self) -> list[list[str]]:
        return [call["argv"] for call in self.calls()]

    def run(self, *args: str, env: str = "prod") -> int:
        return tf.main([*args, "--env", env, "--outdir", str(self.outdir)])


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A fake terraform first on PATH, an empty HOME, and an access token as credentials."""
    fake = FakeTerraform(tmp_path)
    monkeypatch.setenv("PATH", f"{fake.bin}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_TF_LOG", str(fake.log))
    monkeypatch.setenv("FAKE_TF_ANSWERS", str(fake.answers))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.test-token")
    return fake


def refused_apply(fake: FakeTerraform, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """``apply`` after the test spoiled the saved plan: exit 1 and nothing more run than the
    plan's own steps; its stderr lines."""
    capsys.readouterr()
    assert fake.run("apply") == 1
    assert fake.argvs() == [INIT, PLAN, SHOW_PLAN]
    return capsys.readouterr().err.splitlines()


def step_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("tf: ")]


INIT = ["init", "-input=false", "-no-color"]
PLAN = ["plan", "-input=false", "-no-color", "-out=plan.tfplan"]
SHOW_PLAN = ["show", "-no-color", "-json", "plan.tfplan"]
APPLY = ["apply", "-input=false", "-no-color", "plan.tfplan"]
DRIFT = ["plan", "-refresh-only", "-detailed-exitcode", "-input=false", "-no-color",
         "-out=drift.tfplan"]
SHOW_DRIFT = ["show", "-no-color", "-json", "drift.tfplan"]


# --- plan --------------------------------------------------------------------------------


def test_plan_runs_init_plan_show_summary_in_the_stack(fake, capsys):
    fake.show("plan.tfplan", "plan.json")
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
    assert steps[6] == (f"tf: saved {fake.stack / 'plan.tfplan'}; apply it with "
                        "`make apply ENV=prod`")
    # the real summary of the canned plan, printed and saved for the PR comment
    assert "**1 to create, 0 to update, 0 to replace, 0 to delete.**" in out
    assert (fake.stack / "plan.md").read_text() in out
    assert json.loads((fake.stack / "plan.json").read_text())["format_version"] == "1.2"
    meta = json.loads((fake.stack / "plan.meta.json").read_text())
    digest = hashlib.sha256((fake.stack / "cdk.tf.json").read_bytes()).hexdigest()
    assert fingerprint == plan_fingerprint(json.loads((CANNED / "plan.json").read_text()))[0]
    assert meta == {"env": "prod", "stack_sha256": digest, "plan": "plan.tfplan",
                    "fingerprint": fingerprint, "changes": 1}


def test_plan_that_cannot_be_summarized_is_not_left_to_apply(fake, capsys):
    fake.answer("show-plan.tfplan.json", "this is not JSON")
    assert fake.run("plan") == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"tf: error: {fake.stack / 'plan.json'} is not a plan JSON: ")
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


def test_plan_failure_is_one_line_and_stops(fake, capsys):
    fake.answer("plan.rc", "1")
    fake.answer("plan.stderr", "\nError: Invalid resource name\n\n  on cdk.tf.json line 1126, in "
                               "resource.google_project_iam_member:\n  1126: \"x.y\": {\n\nA "
                               "name must start with a letter or underscore.\n")
    assert fake.run("plan") == 1
    assert fake.argvs() == [INIT, PLAN]
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line == ("tf: error: terraform plan -input=false -out=plan.tfplan failed: Invalid "
                    "resource name: A name must start with a letter or underscore. (on "
                    "cdk.tf.json line 1126, in resource.google_project_iam_member) (full "
                    f"output: {fake.stack / 'plan.log'})")
    assert not (fake.stack / "plan.meta.json").exists()


def test_init_without_provider_download_is_one_line(fake, capsys):
    fake.answer("init.rc", "1")
    fake.answer("init.stderr", (CANNED / "init-provider-unreachable.stderr").read_text())
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
    assert "Failed to query" in (fake.stack / "init.log").read_text()


# --- apply -------------------------------------------------------------------------------


def test_apply_applies_exactly_the_saved_plan(fake, capsys):
    fake.saved_plan()
    fake.answer("apply.stdout", (CANNED / "apply.stdout").read_text())
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
    fake.answer("plan-refresh-only.stderr", (CANNED / "init-backend-unreachable.stderr")
                .read_text())
    assert fake.run("drift") == 1
    assert fake.argvs() == [INIT, DRIFT]
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("tf: error: terraform plan -refresh-only -detailed-exitcode "
                           "-input=false -out=drift.tfplan failed: Failed to get existing "
                           "workspaces: querying Cloud Storage failed:")
    assert (fake.stack / "drift.exitcode").read_text() == "1\n"


# --- refusals before anything runs ------------------------------------------------------------


def assert_refused(capsys, fake, expected_start):
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith(f"tf: refused: {expected_start}"), line
    assert fake.argvs() == []


@pytest.mark.parametrize("command", ["plan", "apply", "drift"])
def test_refuses_without_terraform_on_path(fake, capsys, monkeypatch, tmp_path, command):
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    assert fake.run(command) == 1
    assert_refused(capsys, fake, "terraform is not on PATH; install Terraform 1.11")


@pytest.mark.parametrize("command", ["plan", "apply", "drift"])
def test_refuses_without_a_synthesized_stack(fake, capsys, command):
    assert fake.run(command, env="dev") == 1
    assert_refused(capsys, fake, f"stack folder {fake.outdir / 'stacks' / 'pipeline-dev'} has "
                                 "no cdk.tf.json; run `make synth` first")


@pytest.mark.parametrize("command", ["plan", "apply", "drift"])
def test_refuses_without_credentials(fake, capsys, monkeypatch, command):
    monkeypatch.delenv("GOOGLE_OAUTH_ACCESS_TOKEN")
    assert fake.run(command) == 1
    assert_refused(capsys, fake, "no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS, "
                                 "GOOGLE_OAUTH_ACCESS_TOKEN or CLOUDSDK_AUTH_ACCESS_TOKEN, or "
                                 "run `gcloud auth application-default login`")


def test_refuses_a_credentials_file_that_does_not_exist(fake, capsys, monkeypatch, tmp_path):
    missing = tmp_path / "key.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(missing))
    assert fake.run("plan") == 1
    assert_refused(capsys, fake, f"GOOGLE_APPLICATION_CREDENTIALS points to {missing}, which "
                                 "does not exist")


@pytest.mark.parametrize("source", ["key_file", "cloudsdk_token", "adc_file", "cloudsdk_config"])
def test_each_credential_source_is_enough(fake, capsys, monkeypatch, tmp_path, source):
    monkeypatch.delenv("GOOGLE_OAUTH_ACCESS_TOKEN")
    home = Path(os.environ["HOME"])
    if source == "key_file":
        key = tmp_path / "wif-credentials.json"
        key.write_text("{}")
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
        shown = f"GOOGLE_APPLICATION_CREDENTIALS ({key})"
    elif source == "cloudsdk_token":
        monkeypatch.setenv("CLOUDSDK_AUTH_ACCESS_TOKEN", "ya29.token")
        shown = "CLOUDSDK_AUTH_ACCESS_TOKEN"
    elif source == "adc_file":
        adc = home / ".config" / "gcloud" / "application_default_credentials.json"
        adc.parent.mkdir(parents=True)
        adc.write_text("{}")
        shown = f"gcloud application default credentials ({adc})"
    else:
        config = tmp_path / "gcloud-config"
        config.mkdir()
        (config / "application_default_credentials.json").write_text("{}")
        monkeypatch.setenv("CLOUDSDK_CONFIG", str(config))
        shown = f"gcloud application default credentials ({config}/application_default_" \
                "credentials.json)"
    fake.saved_plan()
    assert f"(credentials: {shown})" in capsys.readouterr().out


def test_unknown_env_is_a_usage_error(fake, capsys):
    assert tf.main(["plan", "--env", "Not-An-Env"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line == ("tf: usage: argument --env: unknown environment 'Not-An-Env'; known: "
                    f"{', '.join(sorted(ENVS))}")


STALE = {"plan": ("plan.md", "plan.fingerprint", "plan.json", "plan.tfplan", "plan.meta.json"),
         "drift": ("drift.md", "drift.json", "drift.tfplan")}


@pytest.mark.parametrize("command", ["plan", "drift"])
@pytest.mark.parametrize("refusal", ["no credentials", "no terraform", "terraform fails"])
def test_a_run_that_could_not_run_leaves_no_earlier_result(fake, capsys, monkeypatch, tmp_path,
                                                           command, refusal):
    """An earlier success (exit code 0, its reports) never survives a refused or failed run."""
    for name in STALE[command]:
        (fake.stack / name).write_text("from an earlier run\n")
    (fake.stack / f"{command}.exitcode").write_text("0\n")
    if refusal == "no credentials":
        monkeypatch.delenv("GOOGLE_OAUTH_ACCESS_TOKEN")
    elif refusal == "no terraform":
        (tmp_path / "empty").mkdir()
        monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    else:
        fake.answer("init.rc", "1")
        fake.answer("init.stderr", "\nError: Failed to get existing workspaces\n")
    assert fake.run(command) == 1
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert (fake.stack / f"{command}.exitcode").read_text() == "1\n"
    assert [n for n in STALE[command] if (fake.stack / n).exists()] == []


def test_plan_records_its_exit_code(fake, capsys):
    fake.saved_plan()
    assert (fake.stack / "plan.exitcode").read_text() == "0\n"


@pytest.mark.parametrize("command", ["plan", "drift"])
def test_synth_comes_after_the_refusals(fake, capsys, monkeypatch, command):
    """``--synth`` (what make passes) synthesizes nothing when the run is refused."""
    monkeypatch.delenv("GOOGLE_OAUTH_ACCESS_TOKEN")
    calls = []
    monkeypatch.setattr(tf, "synthesize", lambda *a: calls.append(a))
    assert tf.main([command, "--env", "prod", "--outdir", str(fake.outdir), "--synth"]) == 1
    assert calls == []
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("tf: refused: no Google credentials")


def test_synth_failure_is_one_line_and_stops(fake, capsys, monkeypatch):
    def failing(runner, outdir):
        raise tf.StepFailed("synth pipeline-prod failed (exit 1): synth failed: bad manifest")

    monkeypatch.setattr(tf, "synthesize", failing)
    assert tf.main(["plan", "--env", "prod", "--outdir", str(fake.outdir), "--synth"]) == 1
    [line] = capsys.readouterr().err.splitlines()
    assert line == "tf: error: synth pipeline-prod failed (exit 1): synth failed: bad manifest"
    assert fake.argvs() == []


def test_module_entry_point(fake):
    """`python -m infra.tf` as make runs it: refusal text on stderr, exit 1."""
    proc = subprocess.run([sys.executable, "-m", "infra.tf", "apply", "--env", "prod",
                           "--outdir", str(fake.outdir)], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("tf: refused: no saved plan ")


# --- the plan fingerprint ----------------------------------------------------------------


def change(address, actions, after, after_sensitive=None, after_unknown=None):
    kind, name = address.split(".", 1)
    return {"address": address, "type": kind, "name": name,
            "change": {"actions": actions, "before": None, "after": after,
                       "after_unknown": after_unknown or {},
                       "after_sensitive": after_sensitive or {}}}


def test_fingerprint_ignores_order_noops_and_reads():
    a = change("google_pubsub_topic.a__topic", ["create"], {"name": "nba-a"})
    b = change("google_pubsub_topic.b__topic", ["update"], {"name": "nba-b"})
    noop = change("google_pubsub_topic.c__topic", ["no-op"], {"name": "nba-c"})
    read = change("data.google_project.project", ["read"], {"number": "1"})
    one = plan_fingerprint({"resource_changes": [a, b]})
    assert one[1] == 2
    assert plan_fingerprint({"resource_changes": [b, noop, a, read]}) == one


def test_fingerprint_sees_planned_values_and_outputs():
    base = plan_fingerprint({"resource_changes": [
        change("google_pubsub_topic.a__topic", ["create"], {"name": "nba-a"})]})
    other_value = plan_fingerprint({"resource_changes": [
        change("google_pubsub_topic.a__topic", ["create"], {"name": "nba-b"})]})
    with_output = plan_fingerprint({
        "resource_changes": [change("google_pubsub_topic.a__topic", ["create"],
                                    {"name": "nba-a"})],
        "output_changes": {"topic_a": {"actions": ["create"], "after": "nba-a"}},
    })
    assert len({base, other_value, with_output}) == 3
    assert with_output[1] == 2


def test_fingerprint_masks_sensitive_values():
    def with_token(token):
        return plan_fingerprint({"resource_changes": [change(
            "google_monitoring_notification_channel.alerts__slack", ["update"],
            {"sensitive_labels": [{"auth_token": token}], "type": "slack"},
            after_sensitive={"sensitive_labels": [{"auth_token": True}]})]})

    assert with_token("xoxb-one") == with_token("xoxb-two")


# --- terraform's error text ----------------------------------------------------------------


def test_reason_from_recorded_init_without_registry():
    reason = terraform_reason((CANNED / "init-provider-unreachable.stderr").read_text())
    assert reason.startswith("Failed to query available provider packages: Could not retrieve "
                             "the list of available versions for provider hashicorp/google: ")
    assert "\n" not in reason
    assert "To see which modules" not in reason


def test_reason_from_recorded_colored_output_counts_the_other_errors():
    reason = terraform_reason((CANNED / "init-colored-no-credentials.stderr").read_text())
    assert reason == ("storage.NewClient() failed: dialing: google: could not find default "
                      "credentials. See https://cloud.google.com/docs/authentication/external/"
                      "set-up-adc for more information (+4 more errors)")


def test_reason_without_an_error_block():
    assert terraform_reason("something odd\nlast words\n") == "last words"
    assert terraform_reason("") == "no error output"


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
