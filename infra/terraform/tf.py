"""Run Terraform on one synthesized stack: plan, apply the saved plan, or review drift.

    python -m infra.tf {plan,apply,drift} --env ENV [--outdir cdktf.out] [--synth]

Works in ``<outdir>/stacks/pipeline-<env>`` (``make synth`` writes it). Each command prints
one line per step. Terraform runs with ``-json`` (its machine-readable UI,
``infra.terraform.tf_ui``); what it said goes to a log file beside the plan (``init.log``,
``plan.log``, ``apply.log``, ``drift.log``: one readable line per message, the raw JSON lines
in ``<log>.jsonl``), named when a step fails. The steps themselves are in
``infra.terraform.tf_steps``.

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
folder is refused. When a Terraform step fails (provider download, state bucket, an invalid
configuration) it prints Terraform's first error on one line (``summary: detail
(file:line)``), then every further error on a line of its own.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from infra.cli import Parser, UsageError, add_env_argument
from infra.errors import InputError
from infra.input_files import STRICT, read_json, validated
from infra.paths import DEFAULT_OUTDIR, REPO_ROOT, stack_dir
from infra.terraform.plan_json import Plan, load_plan
from infra.terraform.tf_steps import (
    JSON_FLAG,
    Refusal,
    Runner,
    StepFailed,
    Workspace,
    check_stack,
    credentials_source,
    find_terraform,
)

__all__ = ["Refusal", "StepFailed", "Workspace", "main", "plan_fingerprint"]

EXIT_OK = 0
EXIT_REFUSED = 1


# --- commands --------------------------------------------------------------------------------


def stack_digest(ws: Workspace) -> str:
    return hashlib.sha256(ws.stack_json.read_bytes()).hexdigest()


def _mask(value: Any, sensitive: Any) -> Any:
    """``value`` with every part ``sensitive`` marks (Terraform's ``after_sensitive``) hidden."""
    if sensitive is True:
        return "(sensitive)"
    if isinstance(value, dict):
        by_key = sensitive if isinstance(sensitive, dict) else {}
        return {k: _mask(v, by_key.get(k)) for k, v in value.items()}
    if isinstance(value, list):
        by_index = sensitive if isinstance(sensitive, list) else []
        return [_mask(v, by_index[i] if i < len(by_index) else None) for i, v in enumerate(value)]
    return value


def plan_fingerprint(plan: Plan) -> tuple[str, int]:
    """``("sha256:…", number of changes)`` of what a ``terraform show -json`` plan would do.

    Covers every resource and output change except no-ops and data reads: address,
    actions, the planned values (sensitive parts masked), which values are unknown, and
    the replace paths. Two plans with the same fingerprint make the same changes, whatever
    the state looked like before; a change of a sensitive value alone is not seen.
    """
    changes: list[dict[str, Any]] = [
        {"address": rc.address, "actions": list(rc.actions),
         "after": _mask(rc.after, rc.after_sensitive), "after_unknown": rc.after_unknown,
         "replace_paths": [list(path) for path in rc.replace_paths]}
        for rc in plan.resource_changes]
    changes += [
        {"address": f"output.{oc.name}", "actions": list(oc.actions),
         "after": _mask(oc.after, oc.after_sensitive), "after_unknown": oc.after_unknown,
         "replace_paths": []}
        for oc in plan.output_changes]
    changes = [c for c in changes if c["actions"] not in (["no-op"], ["read"])]
    changes.sort(key=lambda c: str(c["address"]))
    blob = json.dumps(changes, sort_keys=True, separators=(",", ":"))
    return f"sha256:{hashlib.sha256(blob.encode()).hexdigest()}", len(changes)


class PlanMeta(BaseModel):
    """``plan.meta.json``: what ``plan`` planned, read by ``apply`` before it applies."""

    model_config = STRICT

    env: str
    stack_sha256: str


EXIT_UNANNOUNCED = 2
"""``infra.plan_summary``'s code for a first plan changing imported resources in ways the
adoption record did not announce: the summary is saved, the plan is not."""


def do_plan(runner: Runner) -> int:
    ws = runner.ws
    digest = stack_digest(ws)
    runner.init()
    runner.terraform_step(["plan", "-input=false", JSON_FLAG, "-out=plan.tfplan"], "plan.log")
    try:
        runner.show_json("plan.tfplan", "plan.json")
        try:
            fingerprint, count = plan_fingerprint(load_plan(ws.shown("plan.json")))
        except InputError as err:
            raise StepFailed(str(err)) from None
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
            meta = validated(PlanMeta, read_json(ws.shown("plan.meta.json")),
                             ws.shown("plan.meta.json"))
        except InputError as err:
            raise Refusal(f"{err}; run `make plan ENV={ws.env}` again") from None
        if meta.env != ws.env:
            raise Refusal(f"the saved plan is for env {meta.env!r}, not {ws.env!r}; run "
                          f"`make plan ENV={ws.env}`")
        if meta.stack_sha256 != stack_digest(ws):
            raise Refusal(f"the stack changed since the plan was made ({ws.stack_json.name} "
                          f"differs); run `make plan ENV={ws.env}` and review it again")
        return
    if plan.stat().st_mtime < ws.stack_json.stat().st_mtime:
        raise Refusal(f"the saved plan is older than {ws.stack_json.name}; run "
                      f"`make plan ENV={ws.env}` and review it again")


def do_apply(runner: Runner) -> int:
    ws = runner.ws
    runner.init()
    runner.terraform_step(["apply", "-input=false", JSON_FLAG, "plan.tfplan"], "apply.log",
                          label="terraform apply -input=false plan.tfplan")
    runner.say(f"applied the reviewed plan to {ws.env}; check it live with "
               f"`make verify ENV={ws.env}`")
    return EXIT_OK


def do_drift(runner: Runner) -> int:
    ws = runner.ws
    runner.init()
    # -detailed-exitcode: 0 no changes, 2 changes (drift) present; both are success here.
    runner.terraform_step(["plan", "-refresh-only", "-detailed-exitcode", "-input=false",
                           JSON_FLAG, "-out=drift.tfplan"], "drift.log", ok_codes=(0, 2))
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
    started = runner.start(label)
    proc = subprocess.run([sys.executable, "-m", "infra.main", "--quiet", "--env",
                           runner.ws.env, "--outdir", str(outdir)], cwd=REPO_ROOT, text=True,
                          capture_output=True, check=False)
    if proc.returncode != 0:
        runner.failed()
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        raise StepFailed(f"{label} failed (exit {proc.returncode}): "
                         f"{lines[-1] if lines else 'no output'}")
    runner.end(started)



def preflight(runner: Runner) -> None:
    """``python -m infra.live.preflight --env ENV --live``: the APIs the plan reads through and
    the Slack token's secret exist (``StepFailed`` with its first line otherwise)."""
    label = "python -m infra.live.preflight --live"
    started = runner.start(label)
    proc = subprocess.run([sys.executable, "-m", "infra.live.preflight", "--env", runner.ws.env,
                           "--live"], cwd=REPO_ROOT, text=True, capture_output=True,
                          check=False)
    if proc.returncode != 0:
        runner.failed()
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        for line in lines[1:]:
            print(line, file=sys.stderr)
        raise StepFailed(f"{label} failed (exit {proc.returncode}): "
                         f"{lines[0] if lines else 'no output'}")
    runner.end(started)


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
        report(err)
        return EXIT_REFUSED
    runner.say(f"{command} {ws.env} in {ws.shown('.')} (credentials: {source})")
    try:
        return COMMANDS[command](runner)
    except StepFailed as err:
        report(err)
        return EXIT_REFUSED


def report(err: StepFailed) -> None:
    """The failure line on stderr, and each of its details on a line of its own."""
    for line in (f"error: {err}", *err.details):
        print(f"tf: {line}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
