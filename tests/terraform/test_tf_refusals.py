"""The wrapper (`python -m infra.tf`) refuses before anything runs: no terraform, no stack, no
credentials, a bad command line; and a run that could not run leaves no earlier result."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.model.envs import ENVS
from infra.terraform import tf
from tests.terraform.fake_terraform import (
    CANNED,
)

ROOT = Path(__file__).resolve().parents[2]


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
        fake.answer("init.stdout", (CANNED / "init-no-credentials.jsonl").read_text())
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
