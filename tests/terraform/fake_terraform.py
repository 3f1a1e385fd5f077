"""A fake `terraform` on PATH for the wrapper's tests (`python -m infra.tf`): it records every
argv and working directory and answers with canned output from `recorded/terraform/` (see its
README); the argv each step runs, and what the tests read of the wrapper's output."""

import json
import sys
from pathlib import Path

import pytest

from infra.terraform import tf

CANNED = Path(__file__).resolve().parent / "recorded" / "terraform"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

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


def refused_apply(fake: FakeTerraform, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """``apply`` after the test spoiled the saved plan: exit 1 and nothing more run than the
    plan's own steps; its stderr lines."""
    capsys.readouterr()
    assert fake.run("apply") == 1
    assert fake.argvs() == [INIT, PLAN, SHOW_PLAN]
    return capsys.readouterr().err.splitlines()


def step_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("tf: ")]


INIT = ["init", "-input=false", "-json"]
PLAN = ["plan", "-input=false", "-json", "-out=plan.tfplan"]
SHOW_PLAN = ["show", "-no-color", "-json", "plan.tfplan"]
APPLY = ["apply", "-input=false", "-json", "plan.tfplan"]
DRIFT = ["plan", "-refresh-only", "-detailed-exitcode", "-input=false", "-json",
         "-out=drift.tfplan"]
SHOW_DRIFT = ["show", "-no-color", "-json", "drift.tfplan"]
