"""Terraform's machine-readable UI (`infra.terraform.tf_ui`) on what Terraform 1.11 printed, and
the wrapper (`python -m infra.tf`) driving the real terraform binary.

The recorded lines are Terraform's own (`recorded/terraform/README.md` says how each was
made; one, `plan-provider-error.jsonl`, is written by hand in the documented format because
the google provider cannot be downloaded here). The tests at the end run the real
`terraform` on a stack of Terraform's built-in `terraform_data` resource, which needs no
provider download, so the wrapper's `-json` steps are proven against the binary itself.
"""

import json
import os
import shutil
from pathlib import Path

import pytest

from infra.terraform import tf
from infra.terraform.tf_ui import parse_ui, plain_reason

ROOT = Path(__file__).resolve().parents[2]
CANNED = Path(__file__).resolve().parent / "recorded" / "terraform"


def recorded(name: str):
    return parse_ui((CANNED / name).read_text())


# --- the recorded output --------------------------------------------------------------------


def test_init_without_the_registry_is_its_one_error_with_the_first_paragraph():
    ui = recorded("init-provider-unreachable.jsonl")
    [error] = ui.errors
    assert error.summary == "Failed to query available provider packages"
    assert ui.reason().startswith("Failed to query available provider packages: Could not "
                                  "retrieve the list of available versions for provider "
                                  "hashicorp/google: could not connect to registry.terraform.io")
    assert "To see which modules" not in ui.reason()
    assert "To see which modules" in error.line(), "the log keeps the whole detail"


def test_init_of_the_synthesized_stack_without_network_names_the_state_bucket():
    reason = recorded("init-backend-unreachable.jsonl").reason()
    assert reason.startswith("Failed to get existing workspaces: querying Cloud Storage "
                             "failed: Get \"https://storage.googleapis.com/storage/v1/b/"
                             "nba-props-platform-tfstate/o?alt=json&delimiter=%2F")
    assert reason.endswith("no such host")


def test_init_without_credentials():
    assert recorded("init-no-credentials.jsonl").reason() == (
        "storage.NewClient() failed: dialing: google: could not find default credentials. See "
        "https://cloud.google.com/docs/authentication/external/set-up-adc for more information")


def test_errors_init_reports_twice_count_once_and_summaries_are_one_line():
    ui = recorded("init-invalid-config.jsonl")
    diagnostics = [m.diagnostic for m in ui.messages if m.diagnostic is not None]
    assert len(ui.errors) < len(diagnostics)
    assert [e.summary.split()[0] for e in ui.errors] == ["Invalid", "Invalid", "Terraform"]
    assert ui.reason().endswith("(main.tf:1) (+2 more errors)")
    assert all("\n" not in line for line in ui.log_lines())


def test_a_change_summary_is_the_steps_result():
    assert recorded("plan.jsonl").summary == "Plan: 1 to add, 0 to change, 0 to destroy."
    apply = recorded("apply.jsonl")
    assert apply.summary == "Apply complete! Resources: 1 added, 0 changed, 0 destroyed."
    assert [m.changes.add for m in apply.messages if m.changes] == [1]
    assert apply.errors == ()


def test_a_warning_is_a_line_with_its_level_summary_detail_and_place():
    ui = recorded("plan-provider-error.jsonl")
    assert "warning: Deprecated attribute: The attribute \"message_retention_duration\" is " \
           "deprecated. Refer to the provider documentation for details. (cdk.tf.json:2150)" \
           in ui.log_lines()
    assert ui.reason().endswith("Error 403: User not authorized to perform this action. "
                                "(cdk.tf.json:2146)")


def test_output_that_is_not_the_json_ui_is_kept_as_text():
    """A crash, or a line of the UI in a shape the model does not know, is never lost."""
    unknown_shape = json.dumps({"@level": "error", "@message": "Error: x", "type": "diagnostic",
                                "diagnostic": {"severity": "fatal"}})
    ui = parse_ui(f"{unknown_shape}\npanic: runtime error\n", "goroutine 1 [running]:\n")
    assert ui.messages == ()
    assert ui.text == (unknown_shape, "panic: runtime error", "goroutine 1 [running]:")
    assert ui.reason() == "goroutine 1 [running]:"
    assert parse_ui("").reason() == "no error output"


def test_terraform_show_errors_are_read_from_its_plain_text():
    text = ("\nError: Failed to read the given file as a state or plan file\n\nState read error: "
            "Error loading statefile: open nope.tfplan: no such file or\ndirectory\n\nPlan read "
            "error: couldn't load the provided path\n")
    assert plain_reason(text) == ("Failed to read the given file as a state or plan file: State "
                                  "read error: Error loading statefile: open nope.tfplan: no such "
                                  "file or directory")
    assert plain_reason("something odd\nlast words\n") == "last words"
    assert plain_reason("") == "no error output"


# --- the real terraform -----------------------------------------------------------------------

CREDENTIAL_VARIABLES = ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CREDENTIALS",
                        "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN",
                        "CLOUDSDK_CONFIG", "CDKTF_OUTDIR")

LOCAL_STACK = {
    "resource": {"terraform_data": {"table": {"input": "phase_execution_log"}}},
    "output": {"table": {"value": "${terraform_data.table.output}"}},
}
"""A stack Terraform runs without any provider download: its built-in ``terraform_data``."""


@pytest.fixture
def stack(tmp_path, monkeypatch):
    """The prod stack folder under a temporary outdir, the real terraform on PATH, the repo's
    empty CLI configuration, and a token so the wrapper's credential check passes."""
    if shutil.which("terraform") is None:
        pytest.skip("terraform is not on PATH")
    folder = tmp_path / "cdktf.out" / "stacks" / "pipeline-prod"
    folder.mkdir(parents=True)
    monkeypatch.setenv("TF_CLI_CONFIG_FILE", str(ROOT / "infra" / "terraform" / "terraformrc"))
    monkeypatch.setenv("CHECKPOINT_DISABLE", "1")
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.never-used")
    return folder


def run(stack: Path, command: str) -> int:
    return tf.main([command, "--env", "prod", "--outdir", str(stack.parents[1])])


def test_the_wrapper_plans_applies_and_reviews_drift_with_the_real_terraform(stack, capsys):
    (stack / "cdk.tf.json").write_text(json.dumps(LOCAL_STACK, indent=2))
    assert run(stack, "plan") == 0
    out = capsys.readouterr().out
    assert "s): Plan: 1 to add, 0 to change, 0 to destroy." in out
    assert "**1 to create, 0 to update, 0 to replace, 0 to delete.**" in out
    assert json.loads((stack / "plan.json").read_text())["format_version"].startswith("1.")
    log = (stack / "plan.log").read_text().splitlines()
    assert log[0].startswith("Terraform 1.") and "terraform_data.table: Plan to create" in log
    assert all(json.loads(line)["@message"] for line in
               (stack / "plan.log.jsonl").read_text().splitlines())

    assert run(stack, "apply") == 0
    assert "s): Apply complete! Resources: 1 added, 0 changed, 0 destroyed." in \
        capsys.readouterr().out

    assert run(stack, "drift") == 0
    assert "tf: prod: no drift (exit 0)" in capsys.readouterr().out


def test_an_invalid_configuration_fails_init_with_one_line_per_error(stack, capsys):
    text = json.dumps({"resource": {"terraform_data": {"x.y": {}}}}, indent=2)
    (stack / "cdk.tf.json").write_text(text)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if '"x.y"' in row)
    assert run(stack, "plan") == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(
        "tf: error: terraform init -input=false failed (it downloads the google provider and "
        "opens the state bucket): Invalid resource name: A name must start with a letter or "
        f"underscore and may contain only letters, digits, underscores, and dashes. "
        f"(cdk.tf.json:{line}) (+1 more error) (full output: ")
    assert err[1:] == ["tf:   error: Terraform encountered problems during initialisation, "
                       "including problems with the configuration, described below. The "
                       "Terraform configuration must be valid before initialization so that "
                       "Terraform can determine which modules and providers need to be "
                       "installed."]
    assert (stack / "plan.exitcode").read_text() == "1\n"
    assert os.path.getsize(stack / "init.log") > 0
