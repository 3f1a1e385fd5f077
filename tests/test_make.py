"""The Makefile as its caller sees it: one ENV check before anything runs, and exit codes.

GNU make exits 2 whenever a recipe fails; the documented codes of plan, apply, drift,
verify and the policy gate reach the caller as ``<command>.exitcode`` files, rewritten on
every run (README, "What make adds"), and as the ``Error N`` make prints.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from infra.model.components import ManifestError
from infra.model.envs import ENVS
from infra.synth.docs import main as docs_main
from tests.terraform.fake_terraform import FakeTerraform

ROOT = Path(__file__).resolve().parents[1]
TARGETS_WITH_ENV = ("synth", "plan", "apply", "drift", "inventory", "adopt", "preflight",
                    "verify", "local-up", "reconcile", "policy", "local-demo", "docs", "drill")
CREDENTIAL_VARIABLES = ("GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_CREDENTIALS",
                        "GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN",
                        "CLOUDSDK_CONFIG")


def make(*args: str, outdir: Path, home: Path, extra: dict[str, str] | None = None,
         path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in CREDENTIAL_VARIABLES and k != "ENV" and not k.startswith("MAKE")}
    env |= {"CDKTF_OUTDIR": str(outdir), "HOME": str(home), "NO_GCE_CHECK": "True",
            **(extra or {})}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(["make", "--no-print-directory", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False, timeout=600)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    home = tmp_path / "home"
    home.mkdir()
    return tmp_path / "cdktf.out", home


def recipes_reading_env() -> set[str]:
    """Targets of the Makefile whose recipe (or target line) uses ``$(ENV)``."""
    targets: set[str] = set()
    current = None
    for line in (ROOT / "Makefile").read_text().splitlines():
        head = line.split(":", 1)[0]
        if not line.startswith(("\t", " ", "#")) and ":" in line and " " not in head \
                and "=" not in head:
            current = head
        if current and "$(ENV)" in line and not line.startswith("ENV"):
            targets.add(current)
    return targets


def test_every_target_that_reads_env_checks_it_first():
    goals = next(line for line in (ROOT / "Makefile").read_text().splitlines()
                 if line.startswith("ENV_GOALS :="))
    checked = set(goals.split(":=", 1)[1].split())
    assert recipes_reading_env() - checked == set()
    assert recipes_reading_env() <= set(TARGETS_WITH_ENV)


# Names infra.model.envs refuses by construction (ENV_NAME_RE), so no environment added later
# can turn a test of "unknown" into `make local-up` of a real stack.
NEVER_ENVS = ("Not-An-Env", "Prod", "dev prod")


@pytest.mark.parametrize("env", NEVER_ENVS)
def test_the_unknown_envs_can_never_be_environments(env):
    with pytest.raises(ManifestError, match=r"\.name: invalid name"):
        replace(ENVS["dev"], name=env)


# Every target, each with one of the unknown names in turn: the check is one prologue shared
# by every target, so this covers each target and each kind of unknown name.
@pytest.mark.parametrize(("target", "env"), zip(TARGETS_WITH_ENV, itertools.cycle(NEVER_ENVS)))
def test_an_unknown_env_is_one_line_exit_2_and_nothing_runs(dirs, target, env):
    outdir, home = dirs
    proc = make(target, f"ENV={env}", "START=2026-01-01", "END=2026-01-02", outdir=outdir,
                home=home)
    assert proc.returncode == 2
    assert proc.stdout == ""
    [line] = proc.stderr.splitlines()
    assert f"env: unknown environment {env!r}; known: {', '.join(sorted(ENVS))}" in line
    assert not outdir.exists(), "nothing may be synthesized"


def make_value(name: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """What the Makefile in ``cwd`` sets ``name`` to (parsing it runs nothing but $(shell))."""
    env = {k: v for k, v in os.environ.items() if k != "ENV" and not k.startswith("MAKE")}
    return subprocess.run(["make", "--no-print-directory", "--eval",
                           f"print-value: ; @echo '$({name})'", *args, "print-value"],
                          cwd=cwd, env=env, capture_output=True, text=True, check=False,
                          timeout=60)


def test_the_makefile_environments_are_the_models():
    proc = make_value("ENVS")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == list(ENVS)
    # No literal list to fall out of step, and the command line cannot narrow the gate.
    assert not re.search(r"(?m)^(override )?ENVS :?= *[a-z]", (ROOT / "Makefile").read_text())
    assert make_value("ENVS", "ENVS=dev").stdout.split() == list(ENVS)


def test_the_policy_gate_checks_every_environments_stack():
    proc = subprocess.run(["make", "--no-print-directory", "-n", "policy"], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    [gate] = [line for line in proc.stdout.splitlines() if "-m iam.report" in line]
    stacks = gate.split("-m iam.report ", 1)[1].split(" --", 1)[0].split()
    assert stacks == [f"cdktf.out/stacks/pipeline-{env}" for env in ENVS]


@pytest.mark.parametrize("command", ["plan", "drift"])
def test_a_refused_run_through_make_leaves_no_earlier_success(dirs, command):
    """No credentials: refused before synthesis, one line, and the stale 0 is gone."""
    outdir, home = dirs
    stack = outdir / "stacks" / "pipeline-prod"
    stack.mkdir(parents=True)
    (stack / f"{command}.exitcode").write_text("0\n")
    (stack / f"{command}.md").write_text("an earlier report\n")
    proc = make(command, "ENV=prod", outdir=outdir, home=home)
    assert proc.returncode == 2  # GNU make's status for any failed recipe
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("tf: refused: no Google credentials") or \
        lines[0].startswith("tf: refused: terraform is not on PATH"), lines
    assert len(lines) == 2 and re.fullmatch(rf"make: \*\*\* \[Makefile:\d+: {command}\] Error 1",
                                            lines[1]), lines
    assert (stack / f"{command}.exitcode").read_text() == "1\n"
    assert not (stack / f"{command}.md").exists()
    assert not (stack / "cdk.tf.json").exists(), "refused before synthesis"


def test_make_drift_returns_the_review_code_to_its_caller(dirs, tmp_path):
    """A critical drift (3) through make: make exits 2, says `Error 3`, the file says 3."""
    outdir, home = dirs
    fake = FakeTerraform(tmp_path / "fake")
    fake.answer("plan-refresh-only.rc", "2")
    fake.show("drift.tfplan", "drift-invoker-deleted.json")
    proc = make("drift", "ENV=prod", outdir=outdir, home=home,
                extra={"FAKE_TF_LOG": str(fake.log), "FAKE_TF_ANSWERS": str(fake.answers),
                       "GOOGLE_OAUTH_ACCESS_TOKEN": "ya29.test-token"},
                path=f"{fake.bin}{os.pathsep}{os.environ['PATH']}")
    stack = outdir / "stacks" / "pipeline-prod"
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().endswith("drift] Error 3"), proc.stderr
    assert (stack / "drift.exitcode").read_text() == "3\n"
    assert "tf: synth pipeline-prod … ok" in proc.stdout
    assert (stack / "cdk.tf.json").is_file()


def test_reconcile_without_credentials_is_one_line(dirs):
    outdir, home = dirs
    proc = make("reconcile", "ENV=prod", "START=2026-01-01", "END=2026-01-02", outdir=outdir,
                home=home)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("reconcile: no usable Google credentials ("), lines
    assert len(lines) == 2 and re.fullmatch(r"make: \*\*\* \[Makefile:\d+: reconcile\] Error 2",
                                            lines[1]), lines


def test_docs_says_regenerated_only_when_something_changed(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text((ROOT / "README.md").read_text())
    assert docs_main([str(readme), "--write"]) == 0
    assert "already matches the manifest" in capsys.readouterr().out
    readme.write_text(readme.read_text().replace("| `p2_odds_game_lines` |", "| `stale` |"))
    assert docs_main([str(readme), "--write"]) == 0
    assert "regenerated from the manifest" in capsys.readouterr().out
    assert readme.read_text() == (ROOT / "README.md").read_text()


def test_make_help_expands_every_variable_it_names():
    """`## ` comments may name make variables; help shows them expanded, never `$(`."""
    proc = subprocess.run(["make", "--no-print-directory", "help"], cwd=ROOT,
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "$(" not in proc.stdout
    [drift] = [line for line in proc.stdout.splitlines() if re.match(r"\s*\S*drift\b", line)]
    assert "cdktf.out/stacks/pipeline-ENV/drift.exitcode" in drift


ADOPTION_RECORDINGS = ROOT / "tests" / "live" / "recorded" / "adoption"


def make_adopt(outdir: Path, home: Path, tmp_path: Path, inventory: str,
               extra: dict[str, str] | None = None, synth: str = "true",
               ) -> tuple[subprocess.CompletedProcess[str], Path]:
    """`make adopt ENV=prod` on a recorded inventory; the record goes to tmp_path, and the
    code to the stack folder under ``outdir`` (STACK is cdktf.out/... in the Makefile).
    ``synth``: the recipe's synthesis step (ADOPT_SYNTH); the callers put the session's
    synthesized prod stack in place first, so `true` stands for a synthesis that succeeded."""
    stack = outdir / "stacks" / "pipeline-prod"
    proc = make("adopt", "ENV=prod",
                f"INVENTORY={ADOPTION_RECORDINGS / f'{inventory}.inventory.json'}",
                f"TRIGGERS={tmp_path / 'no.triggers.json'}",
                f"ADOPTION_DIR={tmp_path / 'adoption'}", f"STACK={stack}",
                f"ADOPT_SYNTH={synth}", outdir=outdir, home=home, extra=extra)
    return proc, stack


def test_adopt_synthesizes_first_unless_told_otherwise():
    """The real recipe synthesizes ENV before adopting (the tests replace only that step)."""
    assert "ADOPT_SYNTH ?= $(MAKE) --no-print-directory synth" in (ROOT / "Makefile").read_text()


@pytest.mark.parametrize(("inventory", "code"), [("one-resource", 2), ("elsewhere", 3)])
def test_make_adopt_tells_findings_from_blocked_in_adopt_exitcode(dirs, tmp_path, inventory,
                                                                  code, synth_dir):
    """make exits 2 for both; adopt.exitcode (and `Error N`) says findings 2 or blocked 3."""
    outdir, home = dirs
    stack = outdir / "stacks" / "pipeline-prod"
    stack.mkdir(parents=True)
    shutil.copy(synth_dir / "stacks" / "pipeline-prod" / "cdk.tf.json", stack / "cdk.tf.json")
    (stack / "adopt.exitcode").write_text("0\n")
    proc, stack = make_adopt(outdir, home, tmp_path, inventory)
    assert proc.returncode == 2, proc.stderr
    assert re.search(rf"make: \*\*\* \[Makefile:\d+: adopt\] Error {code}$", proc.stderr.strip()), \
        proc.stderr
    assert (stack / "adopt.exitcode").read_text() == f"{code}\n"
    assert (stack / "cdk.tf.json").is_file(), "ENV synthesized first, and adopted from there"
    assert (tmp_path / "adoption" / "prod.json").is_file() is (code == 2), \
        "findings write the record, blocked writes nothing"


def test_make_adopt_whose_synth_fails_leaves_1_not_an_earlier_code(dirs, tmp_path):
    outdir, home = dirs
    stack = outdir / "stacks" / "pipeline-prod"
    stack.mkdir(parents=True)
    (stack / "adopt.exitcode").write_text("0\n")
    not_a_folder = tmp_path / "not-a-folder"
    not_a_folder.write_text("")
    proc, stack = make_adopt(outdir, home, tmp_path, "one-resource",
                             extra={"CDKTF_OUTDIR": str(not_a_folder)}, synth="false")
    assert proc.returncode == 2
    assert re.search(r"make: \*\*\* \[Makefile:\d+: adopt\] Error 1$", proc.stderr.strip()), \
        "the synthesis step failed (`false`), before adoption"
    assert (stack / "adopt.exitcode").read_text() == "1\n"
    assert not (tmp_path / "adoption").exists()
