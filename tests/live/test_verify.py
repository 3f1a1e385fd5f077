"""Live verification (`infra.verify`) against a healthy live project generated from the stack.

The `Verifier` reads through a `CloudReader`; here a `FakeProject` (`tests/live/fake_project.py`)
answers as the project a clean apply of the session's synthesized prod stack leaves behind, in
the shapes `GoogleCloudReader` returns. What verify expects comes from the wiring, what the
project holds from the stack, so a healthy verdict is the proof that the stack declares every
edge and grant of the wiring. Each broken case breaks one thing on a copy of that project.
Expected counts are the wiring's, never today's numbers: adding a job, a service or a processor
changes the stack, the project and the expectations together. The real reader is tested at
its boundaries in `test_reader.py`.
"""

import json
from collections import Counter
from dataclasses import replace

import pytest
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import bigquery, functions_v2, pubsub_v1, run_v2
from google.iam.v1 import policy_pb2
from google.protobuf import json_format

from infra.live import verify
from infra.live.reader import proto_to_dict
from infra.live.verify import Verifier
from infra.model.envs import get_env
from infra.model.pipeline import load
from infra.model.wiring import derive
from tests.live.fake_project import PROJECT_NUMBER, FakeProject
from tests.live.inventories import CLEAN
from tests.live.verify_support import (
    AGENT,
    BROKEN,
    OLD_SYSTEM,
    POLICY_FOLDERS,
    PROD,
    WIRING,
    agent_grants,
    broken,
    checks,
    fails,
    only_failure,
    run_verifier,
    subject_of,
    wiring_subjects,
)

# --- the healthy project and the seeds' failures ----------------------------------------


def test_healthy_prod_passes_every_check_of_the_wiring_once_in_order(project, capsys):
    code, lines = run_verifier(project, capsys)
    assert code == 0
    assert fails(lines) == []
    wiring = [subject_of(line) for line in checks(lines) if subject_of(line)[0] not in OLD_SYSTEM]
    assert wiring == wiring_subjects()
    old = [subject_of(line)[0] for line in checks(lines) if subject_of(line)[0] in OLD_SYSTEM]
    assert old[:2] == ["removed", "deploy-path"] and set(old[2:]) <= {"release-path"}
    total = len(checks(lines))
    assert total == len(wiring_subjects()) + len(old)
    assert lines[-1] == f"verify prod: {total} checks, {total} OK, all OK"


def test_healthy_lines_name_each_edge(project, capsys):
    _, lines = run_verifier(project, capsys)
    text = "\n".join(lines)
    for expected_line in (
        "OK   service      nba-phase3-analytics-processors: ready at "
        f"https://nba-phase3-analytics-processors-{PROJECT_NUMBER}.us-west2.run.app",
        "OK   function     phase3-to-phase4-orchestrator: ACTIVE, service "
        "phase3-to-phase4-orchestrator ready",
        "OK   trigger      phase3-to-phase4-orchestrator: nba-phase3-analytics-complete "
        "delivered as nba-trg-orch-p3p4",
        "OK   subscription nba-phase3-analytics-sub: nba-phase2-raw-complete → "
        f"https://nba-phase3-analytics-processors-{PROJECT_NUMBER}.us-west2.run.app/process as "
        "nba-push-phase2-to-phase3, dead letters to nba-phase3-analytics-sub-dlq after 5 "
        "attempts",
        "OK   invoker      nba-push-phase2-to-phase3 → nba-phase3-analytics-processors: "
        "roles/run.invoker granted (nba-phase3-analytics-sub pushes to "
        "nba-phase3-analytics-processors/process)",
        "OK   invoker      nba-job-canary-job → pipeline-canary: roles/run.invoker granted "
        "(pipeline-canary-queries calls pipeline-canary/)",
        "OK   invoker      nba-run-p5-coordinator → prediction-worker: roles/run.invoker "
        "granted (prediction-coordinator calls prediction-worker directly)",
        "OK   publisher    nba-fn-orch-p3p4 → nba-phase4-trigger: roles/pubsub.publisher "
        "granted (phase3-to-phase4-orchestrator publishes nba-phase4-trigger)",
        "OK   publisher    pubsub-agent → nba-phase2-raw-sub-dlq: roles/pubsub.publisher "
        "granted (nba-phase2-raw-sub dead-letters to nba-phase2-raw-sub-dlq)",
        "OK   subscriber   nba-fn-canary → nba-phase3-analytics-sub-dlq-sub: "
        "roles/pubsub.subscriber granted (pipeline-canary peeks at "
        "nba-phase3-analytics-sub-dlq-sub to report failing pushes)",
        "OK   token        pubsub-agent → nba-trg-orch-p3p4@nba-props-platform.iam."
        "gserviceaccount.com: roles/iam.serviceAccountTokenCreator granted (Pub/Sub mints "
        "OIDC tokens for phase3-to-phase4-orchestrator's trigger)",
        "OK   data-editor  nba-run-p5-worker → nba_predictions: roles/bigquery.dataEditor "
        "granted (prediction-worker writes nba_predictions)",
        "OK   datastore    nba-fn-orch-p3p4 → nba-props-platform: roles/datastore.user granted "
        "(phase3-to-phase4-orchestrator tracks completions in Firestore)",
        "OK   iam          nba-fn-builder → nba-props-platform: roles/storage.objectUser "
        "granted (reads and writes the function source copy in gcf-v2-sources-<number>-<region> "
        "(conditioned on those buckets))",
        "OK   iam          nba-run-p3-analytics → nba-props-platform: roles/bigquery.jobUser "
        "granted (nba-phase3-analytics-processors runs BigQuery jobs)",
        "OK   iam          nba-run-p3-analytics → nba_raw: roles/bigquery.dataViewer granted "
        "(nba-phase3-analytics-processors reads nba_raw)",
        "OK   iam          nba-run-p2-raw → nba-props-platform-nba-raw: "
        "roles/storage.objectViewer granted (nba-phase2-raw-processors reads "
        "nba-props-platform-nba-raw)",
    ):
        assert expected_line in lines, f"missing line:\n{expected_line}\nin:\n{text}"


def test_each_resource_is_read_once(project, capsys):
    """Verify reads every service (and the service under each function) with its IAM
    policy, every function and push subscription, and the policy of each thing the wiring
    grants on: each once, and nothing else."""
    run_verifier(project, capsys)
    assert project.calls, "nothing was read"
    assert max(project.calls.values()) == 1, project.calls.most_common(3)
    folders = Counter(folder for folder, _ in project.calls)
    services = len(WIRING.services) + len(WIRING.functions)
    targets = Counter(POLICY_FOLDERS[t.kind] for t in {g.target for g in WIRING.grants}
                      if t.kind not in ("run.service", "function.service"))
    assert folders == {"services": services, "service_iam": services,
                       "functions": len(WIRING.functions), "subscriptions": len(WIRING.edges),
                       **targets, "projects": 1 if agent_grants() else 0}


def test_invoker_stripped_by_redeploy_fails_one_edge(project, capsys):
    code, lines = run_verifier(broken(project, "invoker_stripped_by_redeploy"), capsys)
    assert code == 1
    [line] = fails(lines)
    assert line.startswith("FAIL invoker      nba-trg-orch-p3p4 → phase3-to-phase4-orchestrator: "
                           "roles/run.invoker for serviceAccount:nba-trg-orch-p3p4@"
                           "nba-props-platform.iam.gserviceaccount.com missing on Cloud Run "
                           "service phase3-to-phase4-orchestrator; needed: the "
                           "nba-phase3-analytics-complete trigger delivers to "
                           "phase3-to-phase4-orchestrator; fix: ")
    assert "`make apply ENV=prod`" in line
    assert ("gcloud run services add-iam-policy-binding phase3-to-phase4-orchestrator "
            "--project nba-props-platform --region us-west2") in line
    total = len(checks(lines))
    assert lines[-1] == f"verify prod: {total} checks, {total - 1} OK, 1 FAIL"


def test_publisher_missing_fails_one_grant(project, capsys):
    """The orchestrator cannot announce that Phase 4 may start: the gate never opens."""
    code, lines = run_verifier(broken(project, "publisher_missing"), capsys)
    assert code == 1
    assert fails(lines) == [
        "FAIL publisher    nba-fn-orch-p3p4 → nba-phase4-trigger: roles/pubsub.publisher for "
        "serviceAccount:nba-fn-orch-p3p4@nba-props-platform.iam.gserviceaccount.com missing "
        "on topic nba-phase4-trigger; needed: phase3-to-phase4-orchestrator publishes "
        "nba-phase4-trigger; fix: the stack declares it: run `make plan ENV=prod` and "
        "`make apply ENV=prod` (emergency: `gcloud pubsub topics add-iam-policy-binding "
        "nba-phase4-trigger --project nba-props-platform --member serviceAccount:"
        "nba-fn-orch-p3p4@nba-props-platform.iam.gserviceaccount.com --role "
        "roles/pubsub.publisher`)"]


def test_token_creator_missing_fails_one_grant(project, capsys):
    """Without it Pub/Sub cannot sign the push: every delivery on the edge is refused."""
    line = only_failure(broken(project, "token_creator_missing"), capsys)
    assert line.startswith(
        "FAIL token        pubsub-agent → nba-push-phase2-to-phase3@nba-props-platform.iam."
        f"gserviceaccount.com: roles/iam.serviceAccountTokenCreator for {AGENT} missing on "
        "serviceAccount nba-push-phase2-to-phase3@nba-props-platform.iam.gserviceaccount.com; "
        "needed: Pub/Sub mints OIDC tokens for nba-phase3-analytics-sub; fix: ")
    assert ("`gcloud iam service-accounts add-iam-policy-binding nba-push-phase2-to-phase3@"
            "nba-props-platform.iam.gserviceaccount.com --project nba-props-platform "
            f"--member {AGENT} --role roles/iam.serviceAccountTokenCreator`") in line


def test_wrong_push_endpoint_fails_the_subscription(project, capsys):
    line = only_failure(broken(project, "endpoint_wrong"), capsys)
    uri = f"https://nba-phase3-analytics-processors-{PROJECT_NUMBER}.us-west2.run.app"
    assert line.startswith(f"FAIL subscription nba-phase3-analytics-sub: push endpoint is "
                           f"{uri}/process-date-range, expected {uri}/process; fix: ")
    assert "make drift ENV=prod" in line


def test_function_not_active_fails_with_the_deploy_error(project, capsys):
    line = only_failure(broken(project, "function_not_active"), capsys)
    assert line.startswith("FAIL function     phase3-to-phase4-orchestrator: state FAILED: "
                           "Could not create or update Cloud Run service")
    assert "PORT=8080" in line
    assert "make check-functions" in line


@pytest.mark.parametrize("variant", ["healthy", *BROKEN])
def test_every_answer_is_a_real_api_message(healthy_prod, variant):
    """Every answer of the project (healthy, and as each broken case leaves it) parses into
    the real message class with unknown fields rejected and round-trips unchanged: the shapes
    are `GoogleCloudReader`'s."""
    project = healthy_prod.copy()
    if variant != "healthy":
        BROKEN[variant](project)
    types = {"services": run_v2.Service, "functions": functions_v2.Function,
             "subscriptions": pubsub_v1.types.Subscription}
    seen = Counter()
    for folder, name, data in project.messages():
        seen[folder] += 1
        if folder.endswith("_iam"):
            message = json_format.ParseDict(data, policy_pb2.Policy())
        elif folder == "datasets":
            assert bigquery.Dataset.from_api_repr(data).to_api_repr() == data, name
            continue
        elif folder == "projects":
            assert set(data) >= {"name", "projectId", "state"}, name
            continue
        else:
            message = types[folder].from_json(json.dumps(data), ignore_unknown_fields=False)
        assert proto_to_dict(message) == data, name
    assert set(seen) == set(POLICY_FOLDERS.values()) | {"services", "functions",
                                                         "subscriptions", "projects"}


# --- expectations come from the wiring ----------------------------------------------------


def test_other_env_expects_its_own_names(project, capsys):
    code, lines = run_verifier(project, capsys, env=get_env("dev"))
    assert code == 1
    assert not [line for line in checks(lines)
                if line.startswith("OK") and line.split()[1] not in OLD_SYSTEM]
    assert "FAIL service      nba-phase1-scrapers: not found in " \
           "projects/nba-props-platform-dev/locations/us-west2" in "\n".join(lines)


def test_verifier_checks_the_wiring_of_its_env(project):
    verifier = Verifier(load(), replace(PROD, sport="mlb"), project, CLEAN)
    assert verifier.wiring == derive(load(), replace(PROD, sport="mlb"))
    assert {e.subscription for e in verifier.wiring.edges} == {
        "mlb-" + e.subscription.removeprefix("nba-") for e in WIRING.edges}


def test_expected_matches_the_synthesized_stack(prod):
    """What verify expects is what the stack declares: every invoker member, every edge."""
    exp = derive(load(), PROD)
    stack = prod

    def resolve_member(member: str) -> str:
        prefix, _, ref = member.partition(":")
        return f"{prefix}:{stack.resolve_attr(ref)}"

    declared = set()
    for res in stack.of_type("google_cloud_run_v2_service_iam_member"):
        assert res.body["role"] == "roles/run.invoker"
        target = stack.resources[stack.refs(res.body["name"])[0]]
        declared.add((target.body["name"], resolve_member(res.body["member"])))
    wanted = {(g.target.name, g.member) for g in exp.grants if g.role == "roles/run.invoker"}
    assert wanted == declared

    subs = {r.body["name"]: r.body for r in stack.of_type("google_pubsub_subscription")
            if "push_config" in r.body}
    assert set(subs) == {p.subscription for p in exp.edges}
    for push in exp.edges:
        body = subs[push.subscription]
        topic = stack.resources[stack.ref_address(body["topic"])].body["name"]
        dlq = stack.resources[stack.ref_address(body["dead_letter_policy"]["dead_letter_topic"])]
        oidc = body["push_config"]["oidc_token"]
        endpoint = body["push_config"]["push_endpoint"]
        target = stack.resources[stack.refs(endpoint)[0]].body["name"]
        assert (topic, dlq.body["name"], stack.resolve_attr(oidc["service_account_email"]),
                body["dead_letter_policy"]["max_delivery_attempts"], target,
                endpoint.rsplit("}", 1)[1]) == (
            push.topic, push.dead_letter_topic, push.member.split(":", 1)[1],
            push.max_delivery_attempts, push.target.name, push.path), push.subscription


# --- CLI -----------------------------------------------------------------------------------


def test_main_healthy_exit_zero(project, capsys):
    assert verify.main(["--env", "prod"], reader=project, inventory=CLEAN) == 0
    out = capsys.readouterr().out
    w = WIRING
    assert out.splitlines()[0].startswith(
        f"verify prod: project nba-props-platform, region us-west2: {len(w.services)} services, "
        f"{len(w.functions)} functions, {len(w.edges)} push subscriptions, {len(w.grants)} "
        "grants")


def test_main_missing_credentials_one_line_exit_2(healthy_prod, capsys):
    class NoCredentials(FakeProject):
        def get_service(self, name):
            raise DefaultCredentialsError("Your default credentials were not found.")

    reader = NoCredentials(PROD, healthy_prod.copy().answers)
    assert verify.main(["--env", "prod"], reader=reader, inventory=CLEAN) == 2
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("verify: no usable Google credentials (Your default credentials "
                           "were not found.); run `gcloud auth application-default login`")
    assert captured.out == ""


def test_main_with_the_real_clients_and_no_credentials(monkeypatch, tmp_path, capsys):
    """The official clients, created lazily, fail on the missing key file before any call."""
    missing = tmp_path / "missing-key.json"
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(missing))
    assert verify.main(["--env", "prod"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    [line] = captured.err.splitlines()
    assert line.startswith(f"verify: no usable Google credentials (File {missing} was not "
                           "found.)")


def test_main_usage_error_exit_2(capsys):
    from infra.model.envs import ENVS

    assert verify.main(["--env", "Not-An-Env"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == ("verify: usage: argument --env: unknown environment 'Not-An-Env'; known: "
                    f"{', '.join(sorted(ENVS))}")
