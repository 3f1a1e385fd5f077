"""The CI workflows in .github/workflows: structure, the Make targets they call, keyless
authentication, and the drift job's issue logic.

Syntax and the usual workflow hazards (unpinned actions, template injection, persisted
checkout credentials, excessive permissions) are `make lint`'s: check-jsonschema's GitHub
workflow schema and zizmor. These tests pin what those tools cannot know: the Make targets
called, the environments planned, keyless authentication, and the scripts' decisions. Each
workflow is parsed with PyYAML (which reads the key `on` as the boolean True, so
`load_workflow` puts it back). Shell steps that decide something are run with a fake
`make`; the actions/github-script steps are run with Node against a mocked GitHub API.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.cli import ci_matrix
from infra.model.envs import ENVS

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
MAKEFILE = ROOT / "Makefile"
NAMES = ("pr.yml", "main.yml", "drift.yml")
REQUIRED_TARGETS = {"synth", "test", "lint", "policy", "plan", "apply", "drift", "verify"}

def load_workflow(name):
    """A workflow as a dict; PyYAML reads the key `on` as True (YAML 1.1), put it back."""
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow):
    for job_id, job in workflow["jobs"].items():
        for step in job["steps"]:
            yield job_id, step


def make_calls(workflow):
    """(job id, target, variables) for every `make ...` in a run step.

    An expression such as `${{ matrix.env }}` becomes one word, `@{matrix.env}`.
    """
    calls = []
    for job_id, step in steps(workflow):
        run = step.get("run", "")
        # A job's env value passed to the script ("$TARGET_ENV") stands for its expression.
        for name, value in (workflow["jobs"][job_id].get("env") or {}).items():
            run = re.sub(rf'"?\${name}"?', str(value), run)
        run = re.sub(r"\$\{\{\s*(.*?)\s*\}\}", lambda m: "@{" + m.group(1).replace(" ", "") + "}",
                     run)
        for match in re.finditer(r"(?m)^\s*make\s+([^\n|;&]+)", run):
            words = match.group(1).split()
            targets = [w for w in words if "=" not in w and not w.startswith("-")]
            variables = dict(w.split("=", 1) for w in words if "=" in w)
            calls.extend((job_id, t, variables) for t in targets)
    return calls


MATRIX_FROM_JOB = re.compile(r"^\$\{\{\s*fromJSON\(needs\.([\w-]+)\.outputs\.([\w-]+)\)\s*\}\}$")
STEP_OUTPUT = re.compile(r"^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$")


def matrix_source(workflow, job_id):
    """The step that computes ``job_id``'s matrix: ``fromJSON(needs.J.outputs.O)``, where job
    J's output O is a step's output. Asserts the matrix is computed that way, never listed."""
    matrix = workflow["jobs"][job_id]["strategy"]["matrix"]
    found = MATRIX_FROM_JOB.match(matrix) if isinstance(matrix, str) else None
    assert found, f"{job_id}: the matrix must come from the model at run time, not {matrix!r}"
    source_job, output = found.groups()
    assert source_job in as_list(workflow["jobs"][job_id]["needs"]), job_id
    step_id, step_output = STEP_OUTPUT.match(
        workflow["jobs"][source_job]["outputs"][output]).groups()
    [step] = [s for s in workflow["jobs"][source_job]["steps"] if s.get("id") == step_id]
    return step, step_output


def as_list(value):
    return [value] if isinstance(value, str) else list(value)


def derived_matrix(workflow, job_id, *, tmp_path, repo=ROOT):
    """Run the step that computes ``job_id``'s matrix in ``repo`` (a fake ``GITHUB_OUTPUT``
    and ``python`` on PATH, as GitHub's setup-python leaves it, both under ``tmp_path``) and
    return the matrix it outputs."""
    step, output = matrix_source(workflow, job_id)
    out_file = Path(tmp_path) / f"github_output_{job_id}"
    out_file.write_text("")
    bin_dir = Path(tmp_path) / "python-bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "python").exists():
        (bin_dir / "python").symlink_to(sys.executable)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(out_file),
           "PYTHONDONTWRITEBYTECODE": "1"}
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", step["run"]], cwd=repo, env=env,
                          capture_output=True, text=True, check=False, timeout=60)
    assert proc.returncode == 0, proc.stderr
    outputs = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if line)
    return json.loads(outputs[output])


def makefile_targets():
    text = MAKEFILE.read_text()
    return {m.group(1) for m in re.finditer(r"(?m)^([A-Za-z0-9_.-]+)\s*:(?!=)", text)}


def uses(step, action):
    return str(step.get("uses", "")).split("@")[0] == action


USES_LINE = re.compile(r"(?m)^\s*(?:- )?uses: (?P<ref>\S+)(?: # (?P<tag>\S+))?$")


def pinned_tags():
    """Every ``uses:`` reference in the workflows → the version tag in its comment."""
    return {m["ref"]: m["tag"] for name in NAMES
            for m in USES_LINE.finditer((WORKFLOWS / name).read_text())}


def tag_of(step):
    return pinned_tags()[step["uses"]]


@pytest.fixture(scope="module")
def workflows():
    return {name: load_workflow(name) for name in NAMES}


# --- structure -----------------------------------------------------------------------------


def test_the_three_workflows_exist():
    present = {p.name for p in WORKFLOWS.glob("*.yml")}
    assert set(NAMES) <= present, f"missing: {sorted(set(NAMES) - present)}"


def test_on_is_restored_from_yaml_true():
    assert "on" in load_workflow("pr.yml")
    assert True not in load_workflow("pr.yml")


def test_triggers(workflows):
    assert "pull_request" in workflows["pr.yml"]["on"]
    assert workflows["main.yml"]["on"] == {"push": {"branches": ["main"]}}
    drift_on = workflows["drift.yml"]["on"]
    assert drift_on["schedule"] == [{"cron": "0 */6 * * *"}]
    assert "workflow_dispatch" in drift_on


# --- make targets -------------------------------------------------------------------------


def test_every_make_target_called_exists_in_the_makefile(workflows):
    assert MAKEFILE.is_file(), "Makefile is missing"
    targets = makefile_targets()
    missing = sorted({(name, t) for name, wf in workflows.items()
                      for _, t, _ in make_calls(wf) if t not in targets})
    assert not missing, f"make targets called by workflows but not in the Makefile: {missing}"


def test_the_lifecycle_targets_are_all_used(workflows):
    used = {t for wf in workflows.values() for _, t, _ in make_calls(wf)}
    assert used >= REQUIRED_TARGETS, f"not called by any workflow: {REQUIRED_TARGETS - used}"


def test_env_arguments_name_known_environments(workflows, tmp_path):
    for name, wf in workflows.items():
        for job_id, target, variables in make_calls(wf):
            if "ENV" not in variables:
                continue
            value = variables["ENV"]
            if value == "@{matrix.env}":
                matrix = derived_matrix(wf, job_id, tmp_path=tmp_path)
                assert [e["env"] for e in matrix["include"]] == list(ENVS), (name, job_id)
            else:
                assert value in ENVS, (name, job_id, target, value)


@pytest.mark.parametrize(("name", "job_id"), [("pr.yml", "plan"), ("drift.yml", "drift")])
def test_every_environment_is_planned_as_its_own_planner(workflows, tmp_path, name, job_id):
    """The matrix is the model's (``python -m infra.cli envs --json``, run here as CI runs it),
    each environment with the repository variable its ``EnvConfig`` names for its planner."""
    matrix = derived_matrix(workflows[name], job_id, tmp_path=tmp_path)
    assert matrix == ci_matrix(ENVS)
    assert matrix == {"include": [{"env": env.name, "planner_variable": env.ci_planner_variable}
                                  for env in ENVS.values()]}
    job = workflows[name]["jobs"][job_id]
    [auth] = [s for s in job["steps"] if uses(s, "google-github-actions/auth")]
    assert auth["with"]["service_account"] == "${{ vars[matrix.planner_variable] }}"
    assert job["env"]["PLANNER"] == "${{ vars[matrix.planner_variable] }}"
    guard = step_named(workflows[name], job_id, "require the planner of this environment")
    assert job["steps"].index(guard) < job["steps"].index(auth)


@pytest.mark.parametrize("planner", ["", "sa@p.iam.gserviceaccount.com"])
def test_an_unset_planner_variable_stops_the_job_in_one_line(workflows, tmp_path, planner):
    step = step_named(workflows["pr.yml"], "plan", "require the planner of this environment")
    proc, _ = run_step(step["run"], tmp_path, {"PLANNER": planner, "TARGET_ENV": "dev",
                                               "PLANNER_VARIABLE": "GCP_PLAN_SERVICE_ACCOUNT_DEV"},
                       {})
    assert proc.returncode == (1 if not planner else 0)
    if not planner:
        assert proc.stdout == ("::error::repository variable GCP_PLAN_SERVICE_ACCOUNT_DEV "
                               "(ci_planner_variable of dev in infra/model/envs.py) is not set; "
                               "see docs/operating.md, In CI\n")


def test_no_workflow_lists_environments_or_picks_an_identity_by_name():
    """Environments and identities come from the model: no literal list, no ``matrix.env ==``
    choosing between planners (what made every new environment plan as dev)."""
    for name in NAMES:
        text = (WORKFLOWS / name).read_text()
        assert "matrix.env ==" not in text and "matrix.env !=" not in text, name
        assert not re.search(r"\[\s*'?dev'?\s*,", text), name
        assert "GCP_PLAN_SERVICE_ACCOUNT_" not in text, name


def test_ci_applies_exactly_the_environments_the_model_gives_a_deployer(workflows):
    deployed = {env.name: env.ci_deployer_variable for env in ENVS.values()
                if env.ci_deployer_variable}
    applied = {v["ENV"] for wf in workflows.values() for _, t, v in make_calls(wf)
               if t == "apply"}
    assert applied == set(deployed)
    job = workflows["main.yml"]["jobs"]["apply"]
    [env] = applied
    assert job["environment"] == env, "the deployer admits only jobs in that GitHub environment"
    [auth] = [s for s in job["steps"] if uses(s, "google-github-actions/auth")]
    assert auth["with"]["service_account"] == f"${{{{ vars.{deployed[env]} }}}}"


# --- authentication and permissions ----------------------------------------------------------


def test_no_service_account_keys_anywhere():
    for name in NAMES:
        text = (WORKFLOWS / name).read_text()
        assert "credentials_json" not in text, name
        assert "GOOGLE_CREDENTIALS" not in text, name


def test_google_auth_is_workload_identity_federation(workflows):
    auth_steps = [(name, step) for name, wf in workflows.items() for _, step in steps(wf)
                  if uses(step, "google-github-actions/auth")]
    assert {name for name, _ in auth_steps} == set(NAMES)
    for name, step in auth_steps:
        assert tag_of(step).startswith("v2."), name
        assert set(step["with"]) == {"workload_identity_provider", "service_account"}, name
        for value in step["with"].values():
            assert re.fullmatch(r"\$\{\{ vars(\.[A-Z_]+|\[matrix\.planner_variable\]) \}\}",
                                value), (name, value)


def test_jobs_that_authenticate_may_mint_id_tokens_and_no_others(workflows):
    for name, wf in workflows.items():
        assert "id-token" not in (wf.get("permissions") or {}), \
            f"{name}: grant id-token per job, not workflow-wide"
        for job_id, job in wf["jobs"].items():
            authenticates = any(uses(s, "google-github-actions/auth") for s in job["steps"])
            granted = (job.get("permissions") or {}).get("id-token")
            assert (granted == "write") == authenticates, (name, job_id, granted)


def test_top_level_permissions_are_read_only(workflows):
    for name, wf in workflows.items():
        assert wf["permissions"] == {"contents": "read"}, name


# --- toolchain versions ----------------------------------------------------------------------


def test_toolchain_versions(workflows):
    seen = set()
    for name, wf in workflows.items():
        for job_id, step in steps(wf):
            where = (name, job_id, step.get("name"))
            if uses(step, "actions/setup-python"):
                assert tag_of(step).startswith("v5."), where
                assert str(step["with"]["python-version"]) == "3.11", where
            elif uses(step, "actions/setup-node"):
                assert tag_of(step).startswith("v4."), where
                assert str(step["with"]["node-version"]) == "22", where
            elif uses(step, "hashicorp/setup-terraform"):
                assert tag_of(step).startswith("v3."), where
                version = step["with"]["terraform_version"]
                if version.startswith("${{"):
                    version = wf["env"]["TERRAFORM_VERSION"]
                assert re.fullmatch(r"~?1\.11(\.[0-9x]+)?", version), where
                assert step["with"]["terraform_wrapper"] is False, where
            else:
                continue
            seen.add(step["uses"].split("@")[0])
    assert seen == {"actions/setup-python", "actions/setup-node", "hashicorp/setup-terraform"}


def test_terraform_is_installed_wherever_make_runs_terraform(workflows):
    for name, wf in workflows.items():
        for job_id, job in wf["jobs"].items():
            calls = {t for j, t, _ in make_calls(wf) if j == job_id}
            if calls & {"plan", "apply", "drift"}:
                assert any(uses(s, "hashicorp/setup-terraform") for s in job["steps"]), \
                    (name, job_id)


# --- pr.yml ----------------------------------------------------------------------------------


def run_lines(job):
    return [line.strip() for s in job["steps"] for line in s.get("run", "").splitlines()]


PLAN_JOB_ENV = {"TARGET_ENV": "${{ matrix.env }}",
                "PLANNER_VARIABLE": "${{ matrix.planner_variable }}",
                "PLANNER": "${{ vars[matrix.planner_variable] }}"}


def test_pr_checks_then_plans_each_environment(workflows):
    jobs = workflows["pr.yml"]["jobs"]
    check_targets = [t for j, t, _ in make_calls(workflows["pr.yml"]) if j == "check"]
    assert [t for t in check_targets if t in {"lint", "test", "synth", "policy"}] == \
        ["lint", "synth", "policy", "test"]
    plan = jobs["plan"]
    assert plan["needs"] == "check"
    step, _ = matrix_source(workflows["pr.yml"], "plan")
    assert jobs["check"]["steps"].index(step) < min(
        i for i, s in enumerate(jobs["check"]["steps"]) if "make" in s.get("run", "")), \
        "computed before anything can fail, so the comment knows every environment"
    assert 'make plan ENV="$TARGET_ENV"' in run_lines(plan)
    assert plan["env"] == PLAN_JOB_ENV
    [upload] = [s for s in plan["steps"] if uses(s, "actions/upload-artifact")]
    assert upload["with"]["name"] == "plan-${{ matrix.env }}"
    uploaded = upload["with"]["path"].split()
    assert any(p.endswith("/plan.md") for p in uploaded)
    assert any(p.endswith("/plan.fingerprint") for p in uploaded)
    # plan files hold sensitive values in plain text: never an artifact
    assert not any(p.endswith((".tfplan", "plan.json")) for p in uploaded)


def test_pr_comment_posts_plan_summaries_and_the_policy_report(workflows):
    job = workflows["pr.yml"]["jobs"]["comment"]
    assert set(job["needs"]) == {"check", "plan"}
    assert job["permissions"] == {"pull-requests": "write"}
    [script] = [s["with"]["script"] for s in job["steps"] if uses(s, "actions/github-script")]
    assert "plan.md" in script
    assert "policy-report.md" in script
    assert "createComment" in script
    assert "updateComment" in script


# --- main.yml --------------------------------------------------------------------------------


def test_main_applies_only_the_reviewed_prod_plan_then_verifies(workflows):
    job = workflows["main.yml"]["jobs"]["apply"]
    lines = run_lines(job)
    order = ["make plan ENV=prod", "make apply ENV=prod", "make verify ENV=prod"]
    positions = [lines.index(line) for line in order]
    assert positions == sorted(positions)
    compare = lines.index('if [ "$reviewed" != "$fresh" ]; then')
    assert positions[0] < compare < positions[1], "the fingerprint check must sit between"
    [download] = [s for s in job["steps"] if uses(s, "actions/download-artifact")]
    assert download["with"]["name"] == "plan-prod"
    assert "steps.reviewed.outputs.run_id" in download["with"]["run-id"]
    assert job["permissions"]["actions"] == "read"
    assert workflows["main.yml"]["concurrency"]["cancel-in-progress"] is False


FAKE_GH = """#!/bin/bash
# fake gh: the merged PR's head, then the pr.yml run that planned it
case "$1 $2" in
  "api repos/"*) echo "${FAKE_HEAD_SHA}" ;;
  "run list") echo "${FAKE_RUN_ID}" ;;
esac
"""


def run_step(script, tmp_path, extra_env, fake_bins):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name, text in fake_bins.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    output = tmp_path / "github_output"
    output.write_text("")
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GITHUB_OUTPUT": str(output),
           "GITHUB_SHA": "abc123", "GITHUB_REPOSITORY": "org/repo", **extra_env}
    # GitHub runs `bash -e {0}` (with pipefail for the default shell)
    proc = subprocess.run(["bash", "-eo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, check=False)
    return proc, dict(line.split("=", 1) for line in output.read_text().splitlines() if line)


def step_named(workflow, job_id, name):
    return next(s for s in workflow["jobs"][job_id]["steps"] if s.get("name") == name)


def test_main_finds_the_run_that_reviewed_the_pr(workflows, tmp_path):
    step = step_named(workflows["main.yml"], "apply", "find the reviewed prod plan")
    proc, outputs = run_step(step["run"], tmp_path,
                             {"FAKE_HEAD_SHA": "f00d", "FAKE_RUN_ID": "4242"}, {"gh": FAKE_GH})
    assert proc.returncode == 0, proc.stderr
    assert outputs == {"run_id": "4242"}


def test_main_refuses_a_push_that_was_not_a_reviewed_pr(workflows, tmp_path):
    step = step_named(workflows["main.yml"], "apply", "find the reviewed prod plan")
    proc, outputs = run_step(step["run"], tmp_path, {"FAKE_HEAD_SHA": "", "FAKE_RUN_ID": ""},
                             {"gh": FAKE_GH})
    assert proc.returncode == 1
    assert "did not come from a merged pull request" in proc.stdout
    assert outputs == {}


@pytest.mark.parametrize(("reviewed", "fresh", "code"), [
    ("sha256:aa", "sha256:aa", 0),
    ("sha256:aa", "sha256:bb", 1),
])
def test_main_compares_fingerprints(workflows, tmp_path, reviewed, fresh, code):
    step = step_named(workflows["main.yml"], "apply", "require the reviewed plan")
    (tmp_path / "reviewed").mkdir()
    (tmp_path / "reviewed" / "plan.fingerprint").write_text(reviewed + "\n")
    stack = tmp_path / "cdktf.out" / "stacks" / "pipeline-prod"
    stack.mkdir(parents=True)
    (stack / "plan.fingerprint").write_text(fresh + "\n")
    proc, _ = run_step(step["run"], tmp_path, {}, {})
    assert proc.returncode == code, proc.stdout + proc.stderr


# --- drift.yml -------------------------------------------------------------------------------


def test_drift_runs_every_environment(workflows, tmp_path):
    job = workflows["drift.yml"]["jobs"]["drift"]
    matrix = derived_matrix(workflows["drift.yml"], "drift", tmp_path=tmp_path)
    assert [e["env"] for e in matrix["include"]] == list(ENVS)
    assert workflows["drift.yml"]["jobs"]["envs"]["permissions"] == {"contents": "read"}
    assert job["permissions"] == {"contents": "read", "id-token": "write", "issues": "write"}
    assert 'make drift ENV="$TARGET_ENV"' in run_lines(job)
    assert job["env"] == PLAN_JOB_ENV


def codes_in(condition):
    return {int(c) for c in re.findall(r"steps\.review\.outputs\.code == '(\d)'", condition)}


def test_drift_issue_opens_on_exit_2_and_3_only(workflows):
    job = workflows["drift.yml"]["jobs"]["drift"]
    [issue] = [s for s in job["steps"] if s.get("name") == "open or update the drift issue"]
    assert uses(issue, "actions/github-script")
    assert codes_in(issue["if"]) == {2, 3}
    assert "||" in issue["if"]
    assert "'drift'" in issue["with"]["script"]
    closer = step_named(workflows["drift.yml"], "drift", "close the drift issue when clean")
    assert codes_in(closer["if"]) == {0}
    failer = step_named(workflows["drift.yml"], "drift",
                        "fail on critical drift or a review that did not run")
    assert codes_in(failer["if"]) == {1, 3}


FAKE_MAKE = """#!/bin/bash
# fake make: write the wrapper's exit-code file, then fail the way make does (always 2)
env=${2#ENV=}
mkdir -p "cdktf.out/stacks/pipeline-$env"
if [ -n "$FAKE_REVIEW_CODE" ]; then
  echo "$FAKE_REVIEW_CODE" > "cdktf.out/stacks/pipeline-$env/drift.exitcode"
fi
if [ "${FAKE_REVIEW_CODE:-1}" = 0 ]; then exit 0; fi
echo "make: *** [Makefile:80: drift] Error $FAKE_REVIEW_CODE" >&2
exit 2
"""


@pytest.mark.parametrize(("review_code", "expected"), [("0", "0"), ("2", "2"), ("3", "3"),
                                                       ("", "1")])
def test_drift_review_step_reads_the_real_exit_code(workflows, tmp_path, review_code, expected):
    step = step_named(workflows["drift.yml"], "drift", "drift review")
    proc, outputs = run_step(step["run"], tmp_path,
                             {"FAKE_REVIEW_CODE": review_code, "TARGET_ENV": "prod"},
                             {"make": FAKE_MAKE})
    assert proc.returncode == 0, proc.stderr
    assert outputs == {"code": expected}


# --- the github-script steps, run in Node against a mocked API ---------------------------------

HARNESS = r"""
const calls = [];
const state = JSON.parse(process.env.HARNESS_STATE);
const issues = {
  listForRepo: async () => ({ data: state.issues }),
  listComments: async () => ({ data: state.comments }),
  create: async (p) => { calls.push(['create', p]); return { data: { number: 101 } }; },
  update: async (p) => { calls.push(['update', p]); return { data: {} }; },
  createComment: async (p) => { calls.push(['createComment', p]); return { data: {} }; },
  updateComment: async (p) => { calls.push(['updateComment', p]); return { data: {} }; },
};
const github = {
  rest: { issues },
  paginate: async (fn, params) => (await fn(params)).data,
};
const context = {
  serverUrl: 'https://github.com', repo: { owner: 'org', repo: 'repo' }, runId: 7,
  issue: { number: 12 }, payload: { pull_request: { head: { sha: '0123456789abcdef' } } },
};
const core = { notice: () => {} };
(async () => {
SCRIPT
})().then(() => console.log(JSON.stringify(calls)), (e) => { console.error(e); process.exit(1); });
"""

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def run_script(script, tmp_path, state, env):
    harness = tmp_path / "harness.js"
    harness.write_text(HARNESS.replace("SCRIPT", script))
    proc = subprocess.run(["node", str(harness)], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "HARNESS_STATE": json.dumps(state), **env},
                          check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def drift_script(workflows, name):
    return step_named(workflows["drift.yml"], "drift", name)["with"]["script"]


def write_report(tmp_path):
    path = tmp_path / "drift.md"
    path.write_text("# Drift review: `drift.json`\n\n**Verdict: CRITICAL**\n")
    return path


@needs_node
def test_drift_script_opens_a_critical_issue(workflows, tmp_path):
    report = write_report(tmp_path)
    calls = run_script(drift_script(workflows, "open or update the drift issue"), tmp_path,
                       {"issues": [], "comments": []},
                       {"DRIFT_ENV": "prod", "DRIFT_CODE": "3", "DRIFT_REPORT": str(report)})
    [(kind, params)] = calls
    assert kind == "create"
    assert params["title"] == "Drift in prod"
    assert params["labels"] == ["drift", "env:prod", "critical"]
    assert "**Critical drift**" in params["body"]
    assert "**Verdict: CRITICAL**" in params["body"]
    assert "make apply ENV=prod" in params["body"]


@needs_node
def test_drift_script_updates_the_open_issue(workflows, tmp_path):
    report = write_report(tmp_path)
    open_issues = [{"number": 5, "title": "Drift in dev"}, {"number": 9, "title": "Drift in prod"}]
    calls = run_script(drift_script(workflows, "open or update the drift issue"), tmp_path,
                       {"issues": open_issues, "comments": []},
                       {"DRIFT_ENV": "prod", "DRIFT_CODE": "2", "DRIFT_REPORT": str(report)})
    assert [kind for kind, _ in calls] == ["update", "createComment"]
    assert {params["issue_number"] for _, params in calls} == {9}
    assert calls[0][1]["labels"] == ["drift", "env:prod"]


@needs_node
def test_drift_script_closes_the_issue_when_clean(workflows, tmp_path):
    calls = run_script(drift_script(workflows, "close the drift issue when clean"), tmp_path,
                       {"issues": [{"number": 9, "title": "Drift in prod"},
                                   {"number": 5, "title": "Drift in dev"}], "comments": []},
                       {"DRIFT_ENV": "prod"})
    assert calls[-1] == ["update", {"owner": "org", "repo": "repo", "issue_number": 9,
                                    "state": "closed"}]
    assert {params["issue_number"] for _, params in calls} == {9}


def pr_script(workflows):
    job = workflows["pr.yml"]["jobs"]["comment"]
    return next(s for s in job["steps"] if uses(s, "actions/github-script"))["with"]["script"]


MATRIX = json.dumps(ci_matrix(ENVS))


@needs_node
def test_pr_comment_is_created_then_updated(workflows, tmp_path):
    for env in ENVS:
        folder = tmp_path / "reports" / f"plan-{env}"
        folder.mkdir(parents=True)
        (folder / "plan.md").write_text(f"# Plan summary {env}\n")
        (folder / "plan.fingerprint").write_text(f"sha256:{env}\n")
    (tmp_path / "reports" / "policy-report").mkdir()
    (tmp_path / "reports" / "policy-report" / "policy-report.md").write_text("# Policy: clean\n")
    env = {"CHECK_RESULT": "success", "PLAN_RESULT": "success", "ENVS_MATRIX": MATRIX}
    [(kind, params)] = run_script(pr_script(workflows), tmp_path,
                                  {"issues": [], "comments": []}, env)
    assert kind == "createComment"
    body = params["body"]
    for text in (*(f"# Plan summary {env}" for env in ENVS), "`sha256:prod`",
                 "# Policy: clean", "0123456"):
        assert text in body
    assert [line for line in body.splitlines() if line.startswith("### ")] == \
        [f"### {env}" for env in ENVS] + ["### Policy"]
    marker = body.splitlines()[0]
    existing = [{"id": 77, "user": {"type": "Bot"}, "body": f"{marker}\nold"},
                {"id": 78, "user": {"type": "User"}, "body": "looks good"}]
    [(kind, params)] = run_script(pr_script(workflows), tmp_path,
                                  {"issues": [], "comments": existing}, env)
    assert kind == "updateComment"
    assert params["comment_id"] == 77


@needs_node
def test_pr_comment_says_when_a_plan_is_missing(workflows, tmp_path):
    (tmp_path / "reports").mkdir()
    [(_, params)] = run_script(pr_script(workflows), tmp_path, {"issues": [], "comments": []},
                               {"CHECK_RESULT": "failure", "PLAN_RESULT": "skipped",
                                "ENVS_MATRIX": MATRIX})
    for env in ENVS:
        assert f"_No plan for {env} (plan jobs: skipped)" in params["body"]
    assert "_No policy report (checks: failure)" in params["body"]


@needs_node
def test_pr_comment_says_when_the_environments_are_unknown(workflows, tmp_path):
    (tmp_path / "reports").mkdir()
    [(_, params)] = run_script(pr_script(workflows), tmp_path, {"issues": [], "comments": []},
                               {"CHECK_RESULT": "failure", "PLAN_RESULT": "skipped",
                                "ENVS_MATRIX": ""})
    assert "_The environments could not be read from infra/model/envs.py (checks: failure)" \
        in params["body"]
    assert "_No policy report (checks: failure)" in params["body"]



# --- hardening: pinned actions, no persisted token, no template expansion in scripts -------

SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")


def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment():
    tags = pinned_tags()
    assert len(tags) >= 10
    for ref, tag in tags.items():
        assert SHA_PIN.match(ref), f"{ref}: pin to a full 40-hex commit SHA"
        assert tag and re.fullmatch(r"v\d+\.\d+\.\d+", tag), f"{ref}: add '# vX.Y.Z'"
    # one action, one pin: a second SHA for the same action is a pin that drifted
    by_action = {}
    for ref in tags:
        by_action.setdefault(ref.split("@")[0], set()).add(ref)
    assert {a: r for a, r in by_action.items() if len(r) > 1} == {}


def test_no_template_expansion_inside_run_scripts(workflows):
    for name, wf in workflows.items():
        for job_id, step in steps(wf):
            assert "${{" not in step.get("run", ""), (name, job_id, step.get("name"))


def run_tool(*args):
    return subprocess.run([str(ROOT / ".venv" / "bin" / args[0]), *args[1:]], cwd=ROOT,
                          capture_output=True, text=True, check=False)


LINT_COMMANDS = (
    ("zizmor", "--offline", "--quiet", "--min-severity", "low"),
    ("check-jsonschema", "--builtin-schema", "vendor.github-workflows"),
)


def test_make_lint_runs_zizmor_and_the_schema_check():
    recipe = re.search(r"(?ms)^lint:.*?(?=^\S)", MAKEFILE.read_text()).group(0)
    for command in LINT_COMMANDS:
        assert " ".join(command) in recipe, command


@pytest.mark.parametrize(("command", "text", "finding"), [
    (LINT_COMMANDS[0], "      - uses: actions/checkout@v4\n", "unpinned-uses"),
    (LINT_COMMANDS[0], "      - run: echo ${{ github.event.pull_request.title }}\n",
     "template-injection"),
    (LINT_COMMANDS[0], "      - uses: actions/checkout@08eba0b27e820071cde6df949e0beb9ba4906955 # v4.3.0\n",
     "artipacked"),
    (LINT_COMMANDS[1], "      - runs: make test\n", "runs"),
], ids=["unpinned", "template-injection", "persisted-credentials", "schema"])
def test_the_lint_tools_fail_on_a_bad_workflow(tmp_path, command, text, finding):
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    bad = folder / "bad.yml"
    bad.write_text("name: bad\non:\n  pull_request_target:\npermissions: {}\njobs:\n  j:\n"
                   "    runs-on: ubuntu-24.04\n    steps:\n" + text)
    proc = run_tool(*command, str(folder if command[0] == "zizmor" else bad))
    assert proc.returncode != 0
    assert finding in proc.stdout + proc.stderr
