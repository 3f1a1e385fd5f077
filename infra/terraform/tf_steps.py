"""The steps ``infra.terraform.tf`` runs in a stack folder, and what it checks before any.

``Workspace`` names the files of one environment's stack folder; ``find_terraform``,
``check_stack`` and ``credentials_source`` are the refusals (``Refusal``, one line with the
fix) checked before anything runs; ``Runner`` runs one step at a time and prints one line per
step (``StepFailed`` when one fails).

Terraform runs with ``-json``: its machine-readable UI (``infra.terraform.tf_ui``) gives the
step's result (Terraform's change summary after "ok"), the warnings (one line each under the
step) and, when it fails, the first error on the failure line and every other error one line
each below it. The step's log (``init.log``, ``plan.log``, ...) holds everything Terraform
said, one readable line per message; the raw JSON lines are kept beside it
(``plan.log.jsonl``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from infra.paths import REPO_ROOT
from infra.terraform.tf_ui import UiOutput, parse_ui, plain_reason

ADC_FILE = Path(".config") / "gcloud" / "application_default_credentials.json"
"""gcloud's Application Default Credentials, relative to the home (or ``CLOUDSDK_CONFIG``)."""

TOKEN_VARIABLES = ("GOOGLE_OAUTH_ACCESS_TOKEN", "CLOUDSDK_AUTH_ACCESS_TOKEN")
"""Access tokens the google provider (first) and gcloud-style tooling (second) accept."""

JSON_FLAG = "-json"


class Refusal(Exception):
    """A precondition is not met; the message is the one line to print (with the fix)."""


class StepFailed(Exception):
    """A command failed; the message is the one line to print, ``details`` the lines under it
    (Terraform's further errors, one each)."""

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)


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


class Runner:
    """Runs the steps of one command in the stack folder, one printed line per step."""

    def __init__(self, ws: Workspace, terraform: str, out: TextIO) -> None:
        self.ws = ws
        self.terraform = terraform
        self.out = out

    def say(self, text: str) -> None:
        print(f"tf: {text}", file=self.out, flush=True)

    def start(self, label: str) -> float:
        """Print the step's label (its result follows on the same line)."""
        print(f"tf: {label} …", end="", file=self.out, flush=True)
        return time.monotonic()

    def end(self, started: float, note: str = "") -> None:
        print(f" ok ({time.monotonic() - started:.1f}s){note}", file=self.out, flush=True)

    def failed(self) -> None:
        print(" failed", file=self.out, flush=True)

    def terraform_step(self, args: Sequence[str], log: str, label: str | None = None,
                       ok_codes: Sequence[int] = (0,), context: str = "") -> UiOutput:
        """Run ``terraform ARGS`` (``ARGS`` hold ``-json``); its messages go to ``log``, one
        readable line each, the raw JSON lines to ``<log>.jsonl``; ``StepFailed`` with the
        first error (the others as details) when the exit code is not in ``ok_codes``.

        ``context`` (default none) is said after "failed" to explain what the step needs.
        """
        shown = label or "terraform " + " ".join(a for a in args if a != JSON_FLAG)
        started = self.start(shown)
        proc = subprocess.run([self.terraform, *args], cwd=self.ws.stack_dir, text=True,
                              capture_output=True, check=False)
        ui = parse_ui(proc.stdout, proc.stderr)
        self.ws.file(f"{log}.jsonl").write_text(proc.stdout)
        self.ws.file(log).write_text("".join(f"{line}\n" for line in ui.log_lines()))
        if proc.returncode not in ok_codes:
            self.failed()
            raise StepFailed(f"{shown} failed{context}: {ui.reason()} "
                             f"(full output: {self.ws.shown(log)})",
                             [f"  {error.line()}" for error in ui.errors[1:]])
        self.end(started, f": {ui.summary}" if ui.summary else "")
        for message in ui.messages:
            if message.diagnostic is not None and message.diagnostic.severity == "warning":
                self.say(f"  {message.diagnostic.line()}")
        return ui

    def init(self) -> None:
        self.terraform_step(["init", "-input=false", JSON_FLAG], "init.log",
                            context=" (it downloads the google provider and opens the "
                                    "state bucket)")

    def show_json(self, plan_file: str, json_file: str) -> None:
        """``terraform show -json PLAN > JSON``; ``terraform show`` reports its errors as text
        only, read with ``plain_reason``."""
        label = f"terraform show -json {plan_file} > {json_file}"
        started = self.start(label)
        proc = subprocess.run([self.terraform, "show", "-no-color", JSON_FLAG, plan_file],
                              cwd=self.ws.stack_dir, text=True, capture_output=True, check=False)
        if proc.returncode != 0:
            self.failed()
            raise StepFailed(f"{label} failed: {plain_reason(proc.stderr)}")
        self.ws.file(json_file).write_text(proc.stdout)
        self.end(started)

    def python_tool(self, module: str, json_file: str, report: str,
                    ok_codes: Sequence[int] = (0,)) -> int:
        """Run ``python -m MODULE JSON_FILE``; save its Markdown in ``report`` and print it."""
        label = f"python -m {module} {json_file} > {report}"
        started = self.start(label)
        path = self.ws.file(json_file)
        arg = str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)
        proc = subprocess.run([sys.executable, "-m", module, arg], cwd=REPO_ROOT, text=True,
                              capture_output=True, check=False)
        if proc.returncode not in ok_codes:
            self.failed()
            message = proc.stderr.strip().splitlines()
            raise StepFailed(f"{label} failed (exit {proc.returncode}): "
                             f"{message[-1] if message else 'no output'}")
        self.ws.file(report).write_text(proc.stdout)
        self.end(started)
        print(file=self.out)
        self.out.write(proc.stdout)
        return proc.returncode
