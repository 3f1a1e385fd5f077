"""Run checkov over the synthesized stacks and apply the checked-in skip list.

checkov lives in its own virtualenv (``.venv-checkov``, pinned by
``iam/requirements-checkov.txt``) because it pins ``packaging<24`` and the pipeline's
google-cloud libraries need a newer one. It runs once for all stacks, offline
(``--skip-download``). Findings are mapped back to Terraform addresses; each one is either
reported or matched by an entry of ``iam/checkov-skips.yaml`` (check id, address glob,
reason). Entries that match nothing are reported so the list does not outlive its reasons.
"""

from __future__ import annotations

import fnmatch
import json
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from infra.stackjson.stack import StackJson

IAM_DIR = Path(__file__).resolve().parent
REPO_ROOT = IAM_DIR.parent
DEFAULT_SKIPS = IAM_DIR / "checkov-skips.yaml"
DEFAULT_CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"
CHECK_ID_PATTERN = "CKV"


class CheckovError(Exception):
    """checkov could not run, or its output or the skip list is unusable (message says why)."""


@dataclass(frozen=True)
class Skip:
    """``check`` and ``resource`` are ``fnmatch`` globs, e.g. ``google_pubsub_topic.*``."""

    check: str
    """checkov check id glob (``CKV_GCP_83``); ``load_skips`` requires it to start with ``CKV``."""
    resource: str
    """Terraform address glob the skip covers (``google_bigquery_table.*``), matched against
    ``Finding.address``."""
    reason: str
    """Why the finding is accepted, whitespace folded to one line; shown in the Markdown report."""

    def matches(self, check_id: str, address: str) -> bool:
        return fnmatch.fnmatchcase(check_id, self.check) and fnmatch.fnmatchcase(
            address, self.resource)

    def __str__(self) -> str:
        return f"{self.check} {self.resource}"


@dataclass(frozen=True)
class Finding:
    check_id: str
    """checkov's id of the failed check (``CKV_GCP_83``)."""
    name: str
    """checkov's one-line title of the check, shown as "what" in the report."""
    address: str
    """``<type>.<name>`` of the failing resource (``address_of``); types joined by ``|`` when the
    name is ambiguous in the stack, ``?`` when no resource has it."""


@dataclass(frozen=True)
class CheckovResult:
    stack: str
    """The key ``scan`` was given for the stack: the policy result's stack name
    (``pipeline-dev``), with its file appended when two stacks share a name."""
    passed: int
    """How many checks passed on this stack's file (every passed check when there is one stack)."""
    failed: tuple[Finding, ...]
    """Findings no skip matched, sorted by check id then address; any one fails the report."""
    skipped: tuple[tuple[Finding, Skip], ...]
    """Each matched finding with the first skip (in file order) that matched it."""
    unused_skips: tuple[Skip, ...]
    """Skips that matched nothing in this stack; stale only when unused in every stack."""

    @property
    def ok(self) -> bool:
        return not self.failed


def load_skips(path: Path = DEFAULT_SKIPS) -> tuple[Skip, ...]:
    """Read and validate the skip list; ``CheckovError`` names the entry and the field."""
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise CheckovError(f"{path}: unreadable ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise CheckovError(f"{path}: not YAML ({exc})") from exc
    entries = (doc or {}).get("skips") if isinstance(doc, Mapping) else None
    if not isinstance(entries, list):
        raise CheckovError(f"{path}: expected a top-level 'skips:' list")
    skips: list[Skip] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise CheckovError(f"{path}: skips[{i}] must be a mapping with check, resource, reason")
        values: dict[str, str] = {}
        for key in ("check", "resource", "reason"):
            value = entry.get(key)
            if not isinstance(value, str) or not value.strip():
                raise CheckovError(f"{path}: skips[{i}].{key} is missing or empty; every skip "
                                   "names a check id, a resource glob and the reason")
            values[key] = value.strip()
        if not values["check"].startswith(CHECK_ID_PATTERN):
            raise CheckovError(f"{path}: skips[{i}].check {values['check']!r} is not a checkov "
                               "check id (CKV_…)")
        extra = sorted(set(entry) - {"check", "resource", "reason"})
        if extra:
            raise CheckovError(f"{path}: skips[{i}] has unknown keys {extra}")
        skips.append(Skip(values["check"], values["resource"], " ".join(values["reason"].split())))
    return tuple(skips)


def checkov_command(checkov: Path, stack_files: Sequence[Path]) -> list[str]:
    cmd = [str(checkov)]
    for f in stack_files:
        cmd += ["-f", str(f)]
    return [*cmd, "--framework", "terraform_json", "--skip-download", "--compact", "-o", "json"]


def run_checkov(stack_files: Sequence[Path], checkov: Path = DEFAULT_CHECKOV,
                timeout: float = 600) -> Any:
    """checkov's JSON report for ``stack_files`` (exit 0 and 1 are both normal)."""
    if not checkov.exists():
        raise CheckovError(f"{checkov}: checkov is not installed; run python3 -m venv "
                           ".venv-checkov && .venv-checkov/bin/pip install -r "
                           "iam/requirements-checkov.txt")
    try:
        proc = subprocess.run(checkov_command(checkov, stack_files), capture_output=True,
                              text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CheckovError(f"{checkov}: could not run ({exc})") from exc
    if proc.returncode not in (0, 1):
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise CheckovError(f"checkov exited {proc.returncode}: {tail[0]}")
    try:
        return json.loads(proc.stdout)
    except ValueError as exc:
        raise CheckovError(f"checkov printed no JSON report ({exc})") from exc


def _results(report: Any, key: str) -> list[Any]:
    """The ``results.<key>`` entries of every framework's part of checkov's report."""
    reports = report if isinstance(report, list) else [report]
    out: list[Any] = []
    for r in reports:
        results = r.get("results") if isinstance(r, Mapping) else None
        if isinstance(results, Mapping):
            out += results.get(key) or []
    return out


def _checks(report: Any, key: str) -> list[Mapping[str, Any]]:
    return [c for c in _results(report, key) if isinstance(c, Mapping)]


def address_of(stack: StackJson, resource: str) -> str:
    """checkov's ``resource.<name>`` (terraform_json drops the type) → ``<type>.<name>``."""
    kind, _, name = resource.partition(".")
    if kind not in ("resource", "data"):
        return resource
    prefix = "data." if kind == "data" else ""
    types = sorted(rtype for rtype, by_name in (stack.data.get(kind) or {}).items()
                   if name in (by_name or {}))
    if len(types) == 1:
        return f"{prefix}{types[0]}.{name}"
    return f"{prefix}{'|'.join(types) or '?'}.{name}"


def _same_file(a: str, b: Path) -> bool:
    try:
        return Path(a).resolve() == b.resolve()
    except OSError:
        return False


def results_for(report: Any, stacks: Mapping[str, tuple[Path, StackJson]],
                skips: Sequence[Skip]) -> list[CheckovResult]:
    """Split checkov's report by stack, map addresses, and apply ``skips``."""
    failed = _checks(report, "failed_checks")
    passed = _checks(report, "passed_checks")
    out: list[CheckovResult] = []
    for name, (path, stack) in stacks.items():
        def mine(c: Mapping[str, Any], path: Path = path) -> bool:
            return _same_file(str(c.get("file_abs_path") or ""), path) or len(stacks) == 1

        findings = [Finding(str(c.get("check_id")), str(c.get("check_name")),
                            address_of(stack, str(c.get("resource"))))
                    for c in failed if mine(c)]
        kept: list[Finding] = []
        skipped: list[tuple[Finding, Skip]] = []
        used: set[Skip] = set()
        for f in sorted(findings, key=lambda f: (f.check_id, f.address)):
            skip = next((s for s in skips if s.matches(f.check_id, f.address)), None)
            if skip is None:
                kept.append(f)
            else:
                skipped.append((f, skip))
                used.add(skip)
        out.append(CheckovResult(name, sum(1 for c in passed if mine(c)), tuple(kept),
                                 tuple(skipped), tuple(s for s in skips if s not in used)))
    return out


# Settings of the ``terraform`` block that checkov 3's terraform_json parser cannot read
# (``required_version`` is a string where it expects blocks: "this method receives only
# dicts"); they hold no resource, so the copy checkov reads leaves them out.
UNPARSED_TERRAFORM_SETTINGS = ("required_version",)


def checkov_input(path: Path, folder: Path) -> Path:
    """A copy of the stack ``path`` checkov can parse, in ``folder`` (same file name under a
    folder named after the stack, so results map back by stack)."""
    data = json.loads(path.read_text())
    settings = data.get("terraform")
    if isinstance(settings, dict):
        data["terraform"] = {k: v for k, v in settings.items()
                             if k not in UNPARSED_TERRAFORM_SETTINGS}
    out = folder / path.parent.name / path.name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data))
    return out


def parsing_errors(report: Any) -> list[str]:
    """The files checkov could not parse (it reports them and checks nothing in them)."""
    return [str(e) for e in _results(report, "parsing_errors")]


def scan(stacks: Mapping[str, tuple[Path, StackJson]], checkov: Path = DEFAULT_CHECKOV,
         skips_file: Path = DEFAULT_SKIPS) -> list[CheckovResult]:
    """Run checkov once over every stack and return one result per stack; ``CheckovError``
    when it could not parse one (a stack it cannot read would otherwise pass with 0 checks)."""
    skips = load_skips(skips_file)
    with tempfile.TemporaryDirectory(prefix="checkov-") as tmp:
        copies = {name: (checkov_input(path, Path(tmp)), stack)
                  for name, (path, stack) in stacks.items()}
        report = run_checkov([p for p, _ in copies.values()], checkov)
        errors = parsing_errors(report)
        if errors:
            raise CheckovError(f"checkov could not parse {', '.join(errors)}; it checked "
                               "nothing there")
        return results_for(report, copies, skips)
