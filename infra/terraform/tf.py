"""Run Terraform on one synthesized stack: plan, apply the saved plan, or review drift.

    python -m infra.tf {plan,apply,drift} --env ENV [--outdir cdktf.out] [--synth]

Works in ``<outdir>/stacks/pipeline-<env>`` (``make synth`` writes it). Each command prints
one line per step; Terraform's own output goes to a log file beside the plan
(``init.log``, ``plan.log``, ``apply.log``, ``drift.log``), named when a step fails.

plan   ``terraform init``, ``terraform plan -out=plan.tfplan``, ``terraform show -json`` into
       ``plan.json``, then ``python -m infra.plan_summary plan.json`` (Markdown, also saved as
       ``plan.md``). ``plan.meta.json`` records the SHA-256 of the ``cdk.tf.json`` planned;
       ``plan.fingerprint`` identifies the changes themselves (``plan_fingerprint``) so CI
       can require the plan it applies to be the one that was reviewed without shipping
       the plan file, which holds secrets in plain text.
apply  applies exactly the saved ``plan.tfplan``; refuses when it is missing, or when the
       stack changed since the plan (a different ``cdk.tf.json`` hash; without
       ``plan.meta.json``, a ``cdk.tf.json`` newer than the plan).
drift  ``terraform plan -refresh-only -detailed-exitcode -out=drift.tfplan``, its JSON in
       ``drift.json``, then ``python -m infra.drift drift.json``; exits with the review's
       code (0 no drift, 2 drift, 3 critical, 1 could not run or unreadable).

Exit codes are the command's own: 0 done (drift: no drift), 1 refused, failed or a bad
command line (an unknown ``--env`` included: 2 would read as drift), drift 2 and 3 as above.
Every run also writes its code to ``<command>.exitcode`` in the stack folder, because
``make`` turns every failing recipe into exit 2: the file is overwritten with 1 before
anything else happens (and the previous run's reports are removed), so a run that is
refused or killed never leaves an earlier run's result behind.

Before running anything it refuses, with one line and exit 1, when terraform is not on
PATH or no Google credentials can be found locally (checked without network:
``GOOGLE_APPLICATION_CREDENTIALS``, ``GOOGLE_CREDENTIALS``, ``GOOGLE_OAUTH_ACCESS_TOKEN``,
``CLOUDSDK_AUTH_ACCESS_TOKEN``, or the gcloud ADC file); only then ``--synth`` synthesizes
the environment's stack (``make plan`` and ``make drift`` pass it), and a missing stack
folder is refused. When ``terraform init`` fails (provider download, state bucket) it
prints Terraform's reason on one line.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from infra.cli import Parser, UsageError, add_env_argument
from infra.paths import DEFAULT_OUTDIR, REPO_ROOT, stack_dir

ADC_FILE = Path(".config") / "gcloud" / "application_default_credentials.json"
"""gcloud's Application Default Credentials, relative to the home (or ``CLOUDSDK_CONFIG``)."""

TOKEN_VARIABLES = ("GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN")
"""Access tokens the google provider (first) and gcloud-style tooling (second) accept."""

EXIT_OK = 0
EXIT_REFUSED = 1

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_BOX = "╷│╵"
_APPLY_DONE = re.compile(r"^Apply complete! Resources: .*$", re.MULTILINE)


class Refusal(Exception):
    """A precondition is not met; the message is the one line to print (with the fix)."""


class StepFailed(Exception):
    """A command failed; the message is the one line to print."""


@dataclass(frozen=True)
class Workspace:
    """The files of one environment's stack folder."""

    env: str
    stack_dir: Path

    @property
    def stack_json(self) -> Path:
        return self.stack_dir / "cdk.tf.json"

    def file(self, name: str) -> Path:
        return self.stack_dir / name

    def shown(self, name: str) -> str:
        """A path as the user should read it: relative to the repo when it is inside it."""
        path = self.file(name)
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)


# --- preconditions ---------------------------------------------------------------------------


def find_terraform(environ: Mapping[str, str]) -> str:
    """The terraform executable on ``environ['PATH']``; ``Refusal`` when there is none."""
    found = shutil.which("terraform", path=environ.get("PATH", ""))
    if found is None:
        raise Refusal("terraform is not on PATH; install Terraform 1.11 "
                      "(https://developer.hashicorp.com/terraform/install) and retry")
    return found


def check_stack(ws: Workspace) -> None:
    """``Refusal`` when the stack has not been synthesized."""
    if not ws.stack_json.is_file():
        raise Refusal(f"stack folder {ws.stack_dir} has no cdk.tf.json; "
                      f"run `make synth` first")


def credentials_source(environ: Mapping[str, str], home: Path) -> str:
    """Where Google credentials would come from, without using the network.

    Returns a short description of the first source found; raises ``Refusal`` when there
    is none, or when ``GOOGLE_APPLICATION_CREDENTIALS`` names a file that does not exist
    (every Google client would fail on it, whatever else is set).
    """
    key_file = environ.get("GOOGLE_APPLICATION_CREDENTIALS", "")
    if key_file:
        if not Path(key_file).is_file():
            raise Refusal(f"GOOGLE_APPLICATION_CREDENTIALS points to {key_file}, which does not "
                          "exist; fix the path or unset it")
        return f"GOOGLE_APPLICATION_CREDENTIALS ({key_file})"
    if environ.get("GOOGLE_CREDENTIALS", "").strip():
        return "GOOGLE_CREDENTIALS"
    for name in TOKEN_VARIABLES:
        if environ.get(name, "").strip():
            return name
    config_dir = environ.get("CLOUDSDK_CONFIG")
    adc = (Path(config_dir) / ADC_FILE.name) if config_dir else home / ADC_FILE
    if adc.is_file():
        return f"gcloud application default credentials ({adc})"
    raise Refusal("no Google credentials: set GOOGLE_APPLICATION_CREDENTIALS, "
                  "GOOGLE_OAUTH_ACCESS_TOKEN or CLOUDSDK_AUTH_ACCESS_TOKEN, or run "
                  "`gcloud auth application-default login` (CI: google-github-actions/auth "
                  "with Workload Identity Federation)")


# --- running steps ---------------------------------------------------------------------------


def terraform_reason(stderr: str) -> str:
    """Terraform's first error as one line: ``summary: first paragraph of the detail``.

    Works on colored and ``-no-color`` output alike; adds ``(+N more errors)`` when
    Terraform reported several. Falls back to the last non-empty line.
    """
    lines = [_ANSI.sub("", line).strip().lstrip(_BOX).strip() for line in stderr.splitlines()]
    starts = [i for i, line in enumerate(lines) if line.startswith("Error: ")]
    if not starts:
        rest = [line for line in lines if line]
        return rest[-1] if rest else "no error output"
    first = starts[0]
    summary = lines[first].removeprefix("Error: ").strip()
    end = starts[1] if len(starts) > 1 else len(lines)
    paragraphs: list[list[str]] = [[]]
    for line in lines[first + 1:end]:
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    location = detail = ""
    for para in filter(None, paragraphs):
        if para[0].startswith("on ") and not location:
            location = para[0].rstrip(":")
            continue
        detail = " ".join(para)
        break
    reason = summary + (f": {detail}" if detail else "") + (f" ({location})" if location else "")
    if len(starts) > 1:
        reason += f" (+{len(starts) - 1} more error{'s' if len(starts) > 2 else ''})"
    return reason


class Runner:
    """Runs the steps of one command in the stack folder, one printed line per step."""

    def __init__(self, ws: Workspace, terraform: str, out: TextIO) -> None:
        self.ws = ws
        self.terraform = terraform
        self.out = out

    def say(self, text: str) -> None:
        print(f"tf: {text}", file=self.out, flush=True)

    def _start(self, label: str) -> float:
        print(f"tf: {label} …", end="", file=self.out, flush=True)
        return time.monotonic()

    def _end(self, started: float, note: str = "") -> None:
        print(f" ok ({time.monotonic() - started:.1f}s){note}", file=self.out, flush=True)

    def terraform_step(self, args: Sequence[str], log: str, label: str | None = None,
                       ok_codes: Sequence[int] = (0,),
                       context: str = "") -> subprocess.CompletedProcess[str]:
        """Run ``terraform ARGS``; keep stdout+stderr in ``log``; ``StepFailed`` otherwise.

        ``context`` (default none) is said after "failed" to explain what the step needs.
        """
        shown = label or "terraform " + " ".join(a for a in args if a != "-no-color")
        started = self._start(shown)
        proc = subprocess.run([self.terraform, *args], cwd=self.ws.stack_dir, text=True,
                              capture_output=True, check=False)
        self.ws.file(log).write_text(proc.stdout + proc.stderr)
        if proc.returncode not in ok_codes:
            print(" failed", file=self.out, flush=True)
            reason = terraform_reason(proc.stderr or proc.stdout)
            raise StepFailed(f"{shown} failed{context}: {reason} "
                             f"(full output: {self.ws.shown(log)})")
        note = ""
        if args and args[0] == "apply":
            done = _APPLY_DONE.search(proc.stdout)
            note = f": {done.group(0)}" if done else ""
        self._end(started, note)
        return proc

    def init(self) -> None:
        self.terraform_step(["init", "-input=false", "-no-color"], "init.log",
                            context=" (it downloads the google provider and opens the "
                                    "state bucket)")

    def show_json(self, plan_file: str, json_file: str) -> None:
        label = f"terraform show -json {plan_file} > {json_file}"
        started = self._start(label)
        proc = subprocess.run([self.terraform, "show", "-no-color", "-json", plan_file],
                              cwd=self.ws.stack_dir, text=True, capture_output=True, check=False)
        if proc.returncode != 0:
            print(" failed", file=self.out, flush=True)
            raise StepFailed(f"{label} failed: {terraform_reason(proc.stderr)}")
        self.ws.file(json_file).write_text(proc.stdout)
        self._end(started)

    def python_tool(self, module: str, json_file: str, report: str,
                    ok_codes: Sequence[int] = (0,)) -> int:
        """Run ``python -m MODULE JSON_FILE``; save its Markdown in ``report`` and print it."""
        label = f"python -m {module} {json_file} > {report}"
        started = self._start(label)
        path = self.ws.file(json_file)
        arg = str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
        proc = subprocess.run([sys.executable, "-m", module, arg], cwd=REPO_ROOT, text=True,
                              capture_output=True, check=False)
        if proc.returncode not in ok_codes:
            print(" failed", file=self.out, flush=True)
            message = proc.stderr.strip().splitlines()
            raise StepFailed(f"{label} failed (exit {proc.returncode}): "
                             f"{message[-1] if message else 'no output'}")
        self.ws.file(report).write_text(proc.stdout)
        self._end(started)
        print(file=self.out)
        self.out.write(proc.stdout)
        return proc.returncode


# --- commands --------------------------------------------------------------------------------


def stack_digest(ws: Workspace) -> str:
    return hashlib.sha256(ws.stack_json.read_bytes()).hexdigest()


def _mask(value: Any, sensitive: Any) -> Any:
    """``value`` with every part ``sensitive`` marks (Terraform's ``after_sensitive``) hidden."""
    if sensitive is True:
        return "(sensitive)"
    if isinstance(value, dict):
        marks = sensitive if isinstance(sensitive, dict) else {}
        return {k: _mask(v, marks.get(k)) for k, v in value.items()}
    if isinstance(value, list):
        marks = sensitive if isinstance(sensitive, list) else []
        return [_mask(v, marks[i] if i < len(marks) else None) for i, v in enumerate(value)]
    return value


def plan_fingerprint(plan: Any) -> tuple[str, int]:
    """``("sha256:…", number of changes)`` of what a ``terraform show -json`` plan would do.

    Covers every resource and output change except no-ops and data reads: address,
    actions, the planned values (sensitive parts masked), which values are unknown, and
    the replace paths. Two plans with the same fingerprint make the same changes, whatever
    the state looked like before; a change of a sensitive value alone is not seen.
    """
    changes: list[dict[str, Any]] = []
    entries = [(rc.get("address"), rc.get("change")) for rc in plan.get("resource_changes") or []]
    entries += [(f"output.{name}", change)
                for name, change in (plan.get("output_changes") or {}).items()]
    for address, change in entries:
        change = change or {}
        actions = change.get("actions") or []
        if actions in (["no-op"], ["read"]):
            continue
        changes.append({
            "address": address, "actions": actions,
            "after": _mask(change.get("after"), change.get("after_sensitive")),
            "after_unknown": change.get("after_unknown"),
            "replace_paths": change.get("replace_paths") or [],
        })
    changes.sort(key=lambda c: str(c["address"]))
    blob = json.dumps(changes, sort_keys=True, separators=(",", ":"))
    return f"sha256:{hashlib.sha256(blob.encode()).hexdigest()}", len(changes)


EXIT_UNANNOUNCED = 2
"""``infra.plan_summary``'s code for a first plan changing imported resources in ways the
adoption record did not announce: the summary is saved, the plan is not."""


def do_plan(runner: Runner) -> int:
    ws = runner.ws
    digest = stack_digest(ws)
    runner.init()
    runner.terraform_step(["plan", "-input=false", "-no-color", "-out=plan.tfplan"], "plan.log")
    try:
        runner.show_json("plan.tfplan", "plan.json")
        try:
            fingerprint, count = plan_fingerprint(json.loads(ws.file("plan.json").read_text()))
        except (json.JSONDecodeError, AttributeError) as err:
            raise StepFailed(f"{ws.shown('plan.json')} is not a plan JSON: {err}") from None
        ws.file("plan.fingerprint").write_text(f"{fingerprint}\n")
        runner.say(f"{count} change{'' if count == 1 else 's'}, fingerprint "
                   f"{fingerprint[:19]}… in {ws.shown('plan.fingerprint')}")
        summary = runner.python_tool("infra.plan_summary", "plan.json", "plan.md",
                                     ok_codes=(0, EXIT_UNANNOUNCED))
        if summary == EXIT_UNANNOUNCED:
            raise StepFailed(
                f"the plan changes imported resources in ways the adoption record "
                f"(infra/adoption/{ws.env}.json) did not announce (⚠ in {ws.shown('plan.md')}); "
                "declare the live values or re-run `make adopt`, then plan again")
    except StepFailed:
        # A plan nobody could review must not be applied.
        ws.file("plan.tfplan").unlink(missing_ok=True)
        raise
    ws.file("plan.meta.json").write_text(json.dumps(
        {"env": ws.env, "stack_sha256": digest, "plan": "plan.tfplan",
         "fingerprint": fingerprint, "changes": count}, indent=2) + "\n")
    runner.say(f"saved {ws.shown('plan.tfplan')}; apply it with `make apply ENV={ws.env}`")
    return EXIT_OK


def check_saved_plan(ws: Workspace) -> None:
    """``Refusal`` unless ``plan.tfplan`` was made from the current ``cdk.tf.json``."""
    plan = ws.file("plan.tfplan")
    if not plan.is_file():
        raise Refusal(f"no saved plan {ws.shown('plan.tfplan')}; run `make plan ENV={ws.env}` "
                      "and review it first")
    meta_file = ws.file("plan.meta.json")
    if meta_file.is_file():
        try:
            meta = json.loads(meta_file.read_text())
        except json.JSONDecodeError:
            raise Refusal(f"{ws.shown('plan.meta.json')} is not JSON; run "
                          f"`make plan ENV={ws.env}` again") from None
        if meta.get("env") != ws.env:
            raise Refusal(f"the saved plan is for env {meta.get('env')!r}, not {ws.env!r}; run "
                          f"`make plan ENV={ws.env}`")
        if meta.get("stack_sha256") != stack_digest(ws):
            raise Refusal(f"the stack changed since the plan was made ({ws.stack_json.name} "
                          f"differs); run `make plan ENV={ws.env}` and review it again")
        return
    if plan.stat().st_mtime < ws.stack_json.stat().st_mtime:
        raise Refusal(f"the saved plan is older than {ws.stack_json.name}; run "
                      f"`make plan ENV={ws.env}` and review it again")


def do_apply(runner: Runner) -> int:
    ws = runner.ws
    runner.init()
    runner.terraform_step(["apply", "-input=false", "-no-color", "plan.tfplan"], "apply.log",
                          label="terraform apply -input=false plan.tfplan")
    runner.say(f"applied the reviewed plan to {ws.env}; check it live with "
               f"`make verify ENV={ws.env}`")
    return EXIT_OK


def do_drift(runner: Runner) -> int:
    ws = runner.ws
    runner.init()
    # -detailed-exitcode: 0 no changes, 2 changes (drift) present; both are success here.
    runner.terraform_step(["plan", "-refresh-only", "-detailed-exitcode", "-input=false",
                           "-no-color", "-out=drift.tfplan"], "drift.log", ok_codes=(0, 2))
    runner.show_json("drift.tfplan", "drift.json")
    code = runner.python_tool("infra.drift", "drift.json", "drift.md", ok_codes=(0, 2, 3))
    verdict = {0: "no drift", 2: "drift", 3: "critical drift"}[code]
    runner.say(f"{ws.env}: {verdict} (exit {code}); report in {ws.shown('drift.md')}")
    return code


COMMANDS = {"plan": do_plan, "apply": do_apply, "drift": do_drift}

RESULTS = {
    "plan": ("plan.tfplan", "plan.json", "plan.md", "plan.meta.json", "plan.fingerprint"),
    "apply": (),
    "drift": ("drift.tfplan", "drift.json", "drift.md"),
}
"""What each command produces; removed before it runs, so none outlives a failed run. Apply
keeps the plan it applies."""


def exit_file(command: str) -> str:
    return f"{command}.exitcode"


def start_results(ws: Workspace, command: str) -> None:
    """Remove the previous run's reports and mark the run as not (yet) successful."""
    if not ws.stack_dir.is_dir():
        return
    for stale in RESULTS[command]:
        ws.file(stale).unlink(missing_ok=True)
    ws.file(exit_file(command)).write_text(f"{EXIT_REFUSED}\n")


def record_result(ws: Workspace, command: str, code: int) -> None:
    """Write the run's exit code beside its reports (the stack folder may be new)."""
    if ws.stack_dir.is_dir():
        ws.file(exit_file(command)).write_text(f"{code}\n")


def synthesize(runner: Runner, outdir: Path) -> None:
    """``python -m infra.main --env ENV``; ``StepFailed`` with its last error line."""
    label = f"synth pipeline-{runner.ws.env}"
    started = runner._start(label)
    proc = subprocess.run([sys.executable, "-m", "infra.main", "--quiet", "--env",
                           runner.ws.env, "--outdir", str(outdir)], cwd=REPO_ROOT, text=True,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        print(" failed", file=runner.out, flush=True)
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise StepFailed(f"{label} failed (exit {proc.returncode}): "
                         f"{lines[-1] if lines else 'no output'}")
    runner._end(started)



def preflight(runner: Runner) -> None:
    """``python -m infra.live.preflight --env ENV --live``: the APIs the plan reads through and
    the Slack token's secret exist (``StepFailed`` with its first line otherwise)."""
    label = "python -m infra.live.preflight --live"
    started = runner._start(label)
    proc = subprocess.run([sys.executable, "-m", "infra.live.preflight", "--env", runner.ws.env,
                           "--live"], cwd=REPO_ROOT, text=True, capture_output=True,
                          check=False)
    if proc.returncode != 0:
        print(" failed", file=runner.out, flush=True)
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        for line in lines[1:]:
            print(line, file=sys.stderr)
        raise StepFailed(f"{label} failed (exit {proc.returncode}): "
                         f"{lines[0] if lines else 'no output'}")
    runner._end(started)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m infra.tf",
                     description="Plan, apply the saved plan, or review drift of one stack.")
    parser.add_argument("command", choices=sorted(COMMANDS))
    add_env_argument(parser, required=True)
    parser.add_argument("--outdir", type=Path,
                        default=Path(os.environ.get("CDKTF_OUTDIR", DEFAULT_OUTDIR)),
                        help="synth output folder (default: cdktf.out or $CDKTF_OUTDIR)")
    parser.add_argument("--synth", action="store_true",
                        help="synthesize the stack once terraform and credentials are found")
    parser.add_argument("--preflight", action="store_true",
                        help="plan: check the APIs and the secret the plan reads (live) first")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit code (see the module docstring)."""
    environ = os.environ
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        print(f"tf: usage: {err}", file=sys.stderr)
        return EXIT_REFUSED
    ws = Workspace(args.env, stack_dir(args.env, args.outdir))
    start_results(ws, args.command)
    code = run(args.command, ws, args.outdir if args.synth else None, environ,
               args.preflight and args.command == "plan")
    record_result(ws, args.command, code)
    return code


def run(command: str, ws: Workspace, synth_outdir: Path | None,
        environ: Mapping[str, str], check_first: bool = False) -> int:
    """Refuse first (terraform, credentials), then the preflight when asked, then synthesize
    when asked, then run."""
    try:
        terraform = find_terraform(environ)
        source = credentials_source(environ, Path.home())
    except Refusal as err:
        print(f"tf: refused: {err}", file=sys.stderr)
        return EXIT_REFUSED
    runner = Runner(ws, terraform, sys.stdout)
    try:
        if check_first:
            preflight(runner)
        if synth_outdir is not None:
            synthesize(runner, synth_outdir)
        check_stack(ws)
        if command == "apply":
            check_saved_plan(ws)
    except Refusal as err:
        print(f"tf: refused: {err}", file=sys.stderr)
        return EXIT_REFUSED
    except StepFailed as err:
        print(f"tf: error: {err}", file=sys.stderr)
        return EXIT_REFUSED
    runner.say(f"{command} {ws.env} in {ws.shown('.')} (credentials: {source})")
    try:
        return COMMANDS[command](runner)
    except StepFailed as err:
        print(f"tf: error: {err}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
