"""What the verify tests share: the expected checks of the wiring, running the verifier on a
fake project, reading its output, and the broken projects of the seeds' failures."""

import sys

from infra.live.verify import ROLE_KINDS, Verifier
from infra.model.envs import get_env
from infra.model.permissions import PUBSUB_AGENT
from infra.model.pipeline import load
from infra.model.wiring import derive
from tests.live.fake_project import PROJECT_NUMBER, FakeProject
from tests.live.inventories import CLEAN

PROD = get_env("prod")
WIRING = derive(load(), PROD)

AGENT = f"serviceAccount:service-{PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com"
OLD_SYSTEM = ("removed", "deploy-path", "release-path")

# Where verify reads the IAM policy of each kind of grant target (a function's service and a
# Cloud Run service alike: the service's policy).
POLICY_FOLDERS = {"run.service": "service_iam", "function.service": "service_iam",
                  "pubsub.topic": "topic_iam", "pubsub.subscription": "subscription_iam",
                  "iam.serviceAccount": "service_account_iam", "bigquery.dataset": "datasets",
                  "project": "project_iam", "storage.bucket": "bucket_iam"}


def account_id(member: str) -> str:
    return "pubsub-agent" if member == PUBSUB_AGENT else member.split(":")[-1].split("@")[0]


def wiring_subjects(w=WIRING) -> list[tuple[str, str]]:
    """(kind, subject) of every check of the wiring, in verify's order."""
    return [*(("service", s) for s in w.services), *(("function", f) for f in w.functions),
            *(("trigger", t.function) for t in w.triggers),
            *(("subscription", e.subscription) for e in w.edges),
            *((ROLE_KINDS.get(g.role, "iam"), f"{account_id(g.member)} → {g.target.name}")
              for g in w.grants)]


def agent_grants(w=WIRING) -> int:
    return sum(1 for g in w.grants if g.member == PUBSUB_AGENT)


def run_verifier(reader, capsys, env=PROD):
    code = Verifier(load(), env, reader, CLEAN).run(sys.stdout)
    lines = capsys.readouterr().out.splitlines()
    return code, lines


def fails(lines):
    return [line for line in lines if line.startswith("FAIL")]


def only_failure(reader, capsys, env=PROD):
    """The one FAIL line of a run (the run exits 1); the test fails unless there is just one."""
    code, lines = run_verifier(reader, capsys, env)
    [line] = fails(lines)
    assert code == 1
    return line


def checks(lines):
    return [line for line in lines if line.startswith(("OK", "FAIL"))]


def subject_of(line: str) -> tuple[str, str]:
    """``OK   invoker      a → b: ...`` → ``("invoker", "a → b")``."""
    kind, rest = line[5:].split(" ", 1)
    return kind, rest.strip().split(": ", 1)[0]


# --- the broken projects: one thing broken on a copy of the healthy one -------------------


def invoker_stripped_by_redeploy(p: FakeProject) -> None:
    """The orchestrator's Cloud Run IAM policy after a `gcloud functions deploy` reset it: no
    `roles/run.invoker` for its trigger identity (failure 1 of the seeds)."""
    p.put("service_iam", "phase3-to-phase4-orchestrator", {"version": 1, "etag": "BwYkq3Yx0aE="})


def publisher_missing(p: FakeProject) -> None:
    """`nba-phase4-trigger`'s policy after a `set-iam-policy` kept only a viewer."""
    p.put("topic_iam", "nba-phase4-trigger", {"version": 1, "etag": "BwY23x2mRg==", "bindings": [
        {"role": "roles/pubsub.viewer", "members": ["group:nba-platform-oncall@example.com"]}]})


def token_creator_missing(p: FakeProject) -> None:
    """The Pub/Sub agent lost token creator on `nba-push-phase2-to-phase3`."""
    p.put("service_account_iam",
          "nba-push-phase2-to-phase3@nba-props-platform.iam.gserviceaccount.com",
          {"version": 1, "etag": "BwY06x2mRg=="})


def endpoint_wrong(p: FakeProject) -> None:
    """`nba-phase3-analytics-sub` pushes to `/process-date-range` instead of `/process`."""
    def wrong(sub):
        sub["push_config"]["push_endpoint"] = sub["push_config"]["push_endpoint"].replace(
            "/process", "/process-date-range")

    p.edit("subscriptions", "nba-phase3-analytics-sub", wrong)


def function_not_active(p: FakeProject) -> None:
    """The orchestrator's last deploy `FAILED` with "Container Healthcheck failed … PORT=8080"
    (failure 3 of the seeds)."""
    def failed(fn):
        fn["state"] = "FAILED"
        fn["state_messages"] = [{
            "severity": "ERROR", "type_": "CloudRunServiceUpdate",
            "message": "Could not create or update Cloud Run service "
                       "phase3-to-phase4-orchestrator, Container Healthcheck failed. Revision "
                       "'phase3-to-phase4-orchestrator-00008-vuh' is not ready and cannot serve "
                       "traffic. The user-provided container failed to start and listen on the "
                       "port defined provided by the PORT=8080 environment variable within the "
                       "allocated timeout."}]

    p.edit("functions", "phase3-to-phase4-orchestrator", failed)


BROKEN = {f.__name__: f for f in (invoker_stripped_by_redeploy, publisher_missing,
                                  token_creator_missing, endpoint_wrong, function_not_active)}


def broken(project: FakeProject, name: str) -> FakeProject:
    BROKEN[name](project)
    return project
