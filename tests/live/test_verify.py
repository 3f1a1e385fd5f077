"""Live verification (`infra.verify`) against recorded API responses.

The `Verifier` reads through a `CloudReader`; here `RecordedReader` serves the JSON files
under `recorded/` (see its README) exactly as `GoogleCloudReader` would return them. The
real reader is tested at its boundaries in `test_reader.py`.
"""

import json
import shutil
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import bigquery, functions_v2, pubsub_v1, run_v2
from google.iam.v1 import policy_pb2
from google.protobuf import json_format

from infra.live import verify
from infra.live.reader import ReadError, proto_to_dict
from infra.live.verify import Verifier
from infra.model.envs import get_env
from infra.model.pipeline import load
from infra.model.wiring import derive
from tests.live.inventories import CLEAN

RECORDED = Path(__file__).resolve().parent / "recorded"
HEALTHY = RECORDED / "healthy"
PROD = get_env("prod")

AGENT = "serviceAccount:service-733310264829@gcp-sa-pubsub.iam.gserviceaccount.com"

# 6 services + 2 functions + 1 trigger + 4 subscriptions + every grant of the wiring:
# the wiring's grants (invoker, publisher, subscriber, token creator, BigQuery, project, bucket);
# the old system: nothing removed live, no second deploy path, one release path
HEALTHY_CHECKS = 6 + 2 + 1 + 4 + 54 + 3


class RecordedReader:
    """A `CloudReader` serving recorded responses; later layers override earlier ones.

    A resource is found only when its file's `name` equals the requested full name, so a
    verifier asking for the wrong project, region or name gets "not found", like the API;
    an IAM policy (which names nothing) only in the recorded project.
    """

    project = "nba-props-platform"

    def __init__(self, *layers: Path) -> None:
        self.layers = layers
        self.calls: Counter[tuple[str, str]] = Counter()

    def _load(self, folder: str, name: str) -> dict | None:
        short = name.rsplit("/", 1)[-1]
        for layer in reversed(self.layers):
            path = layer / folder / f"{short}.json"
            if path.is_file():
                return json.loads(path.read_text())
        return None

    def _named(self, folder: str, name: str) -> dict | None:
        self.calls[(folder, name)] += 1
        data = self._load(folder, name)
        return data if data is not None and data.get("name") == name else None

    def get_service(self, name):
        return self._named("services", name)

    def get_function(self, name):
        return self._named("functions", name)

    def get_subscription(self, name):
        return self._named("subscriptions", name)

    def get_service_iam_policy(self, name):
        self.calls[("service_iam", name)] += 1
        service = self._load("services", name)
        if service is None or service.get("name") != name:
            return None
        return self._load("service_iam", name)

    def _policy(self, folder, name):
        self.calls[(folder, name)] += 1
        if not name.startswith((f"projects/{self.project}/", "projects/_/buckets/")) and (
                name != f"projects/{self.project}"):
            return None
        return self._load(folder, name)

    def get_topic_iam_policy(self, name):
        return self._policy("topic_iam", name)

    def get_subscription_iam_policy(self, name):
        return self._policy("subscription_iam", name)

    def get_service_account_iam_policy(self, name):
        return self._policy("service_account_iam", name)

    def get_project_iam_policy(self, name):
        return self._policy("project_iam", name)

    def get_bucket_iam_policy(self, name):
        return self._policy("bucket_iam", name)

    def get_project(self, name):
        self.calls[("projects", name)] += 1
        data = self._load("projects", name)
        return data if data is not None and f"projects/{data['projectId']}" == name else None

    def get_dataset(self, name):
        self.calls[("datasets", name)] += 1
        data = self._load("datasets", name)
        if data is None:
            return None
        ref = data["datasetReference"]
        return data if f"projects/{ref['projectId']}/datasets/{ref['datasetId']}" == name else None


def run_verifier(reader, capsys, env=PROD):
    code = Verifier(load(), env, reader, CLEAN).run(sys.stdout)
    lines = capsys.readouterr().out.splitlines()
    return code, lines


def fails(lines):
    return [line for line in lines if line.startswith("FAIL")]


def checks(lines):
    return [line for line in lines if line.startswith(("OK", "FAIL"))]


@pytest.fixture(scope="module")
def prod_stack(prod):
    """The prod stack as synthesized by the app (the session's shared synth)."""
    return prod


@pytest.fixture
def broken_copy(tmp_path):
    """A writable copy of the healthy set, to break one thing in a test."""

    def make() -> Path:
        target = tmp_path / "set"
        shutil.copytree(HEALTHY, target)
        return target

    return make


def edit(path: Path, change) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


# --- the recorded sets -----------------------------------------------------------------


def test_healthy_prod_passes_every_check(capsys):
    code, lines = run_verifier(RecordedReader(HEALTHY), capsys)
    assert code == 0
    assert len(checks(lines)) == HEALTHY_CHECKS
    assert fails(lines) == []
    assert lines[-1] == f"verify prod: {HEALTHY_CHECKS} checks, {HEALTHY_CHECKS} OK, all OK"


def test_healthy_lines_name_each_edge(capsys):
    _, lines = run_verifier(RecordedReader(HEALTHY), capsys)
    text = "\n".join(lines)
    for expected_line in (
        "OK   service      nba-phase3-analytics-processors: ready at "
        "https://nba-phase3-analytics-processors-733310264829.us-west2.run.app",
        "OK   function     phase3-to-phase4-orchestrator: ACTIVE, service "
        "phase3-to-phase4-orchestrator ready",
        "OK   trigger      phase3-to-phase4-orchestrator: nba-phase3-analytics-complete "
        "delivered as nba-trg-orch-p3p4",
        "OK   subscription nba-phase3-analytics-sub: nba-phase2-raw-complete → "
        "https://nba-phase3-analytics-processors-733310264829.us-west2.run.app/process as "
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


def test_each_resource_is_read_once(capsys):
    reader = RecordedReader(HEALTHY)
    run_verifier(reader, capsys)
    assert reader.calls, "nothing was read"
    assert max(reader.calls.values()) == 1, reader.calls.most_common(3)
    folders = Counter(folder for folder, _ in reader.calls)
    # every service's IAM policy (6 services + 2 function services), every subscription,
    # and the policy of everything the wiring grants on
    assert folders == {"services": 8, "service_iam": 8, "functions": 2, "subscriptions": 4,
                       "topic_iam": 9, "subscription_iam": 9, "service_account_iam": 5,
                       "datasets": 5, "projects": 1, "project_iam": 1, "bucket_iam": 1}


def test_invoker_stripped_by_redeploy_fails_one_edge(capsys):
    code, lines = run_verifier(RecordedReader(HEALTHY, RECORDED / "invoker_missing"), capsys)
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
    assert lines[-1] == f"verify prod: {HEALTHY_CHECKS} checks, {HEALTHY_CHECKS - 1} OK, 1 FAIL"


def test_publisher_missing_fails_one_grant(capsys):
    """The orchestrator cannot announce that Phase 4 may start: the gate never opens."""
    code, lines = run_verifier(RecordedReader(HEALTHY, RECORDED / "publisher_missing"), capsys)
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


def test_token_creator_missing_fails_one_grant(capsys):
    """Without it Pub/Sub cannot sign the push: every delivery on the edge is refused."""
    code, lines = run_verifier(RecordedReader(HEALTHY, RECORDED / "token_creator_missing"),
                               capsys)
    assert code == 1
    [line] = fails(lines)
    assert line.startswith(
        "FAIL token        pubsub-agent → nba-push-phase2-to-phase3@nba-props-platform.iam."
        f"gserviceaccount.com: roles/iam.serviceAccountTokenCreator for {AGENT} missing on "
        "serviceAccount nba-push-phase2-to-phase3@nba-props-platform.iam.gserviceaccount.com; "
        "needed: Pub/Sub mints OIDC tokens for nba-phase3-analytics-sub; fix: ")
    assert ("`gcloud iam service-accounts add-iam-policy-binding nba-push-phase2-to-phase3@"
            "nba-props-platform.iam.gserviceaccount.com --project nba-props-platform "
            f"--member {AGENT} --role roles/iam.serviceAccountTokenCreator`") in line


def test_wrong_push_endpoint_fails_the_subscription(capsys):
    code, lines = run_verifier(RecordedReader(HEALTHY, RECORDED / "endpoint_wrong"), capsys)
    assert code == 1
    [line] = fails(lines)
    uri = "https://nba-phase3-analytics-processors-733310264829.us-west2.run.app"
    assert line.startswith(f"FAIL subscription nba-phase3-analytics-sub: push endpoint is "
                           f"{uri}/process-date-range, expected {uri}/process; fix: ")
    assert "make drift ENV=prod" in line


def test_function_not_active_fails_with_the_deploy_error(capsys):
    code, lines = run_verifier(RecordedReader(HEALTHY, RECORDED / "function_not_active"),
                               capsys)
    assert code == 1
    [line] = fails(lines)
    assert line.startswith("FAIL function     phase3-to-phase4-orchestrator: state FAILED: "
                           "Could not create or update Cloud Run service")
    assert "PORT=8080" in line
    assert "make check-functions" in line


def test_recorded_files_are_real_api_messages():
    """Every recorded file parses into the real message class and round-trips unchanged."""
    types = {"services": run_v2.Service, "functions": functions_v2.Function,
             "subscriptions": pubsub_v1.types.Subscription}
    files = sorted(RECORDED.glob("*/*/*.json"))
    assert len(files) >= 55
    for path in files:
        data = json.loads(path.read_text())
        if path.parent.name.endswith("_iam"):
            message = json_format.ParseDict(data, policy_pb2.Policy())
        elif path.parent.name == "datasets":
            assert bigquery.Dataset.from_api_repr(data).to_api_repr() == data, path
            continue
        elif path.parent.name == "projects":
            assert set(data) >= {"name", "projectId", "state"}, path
            continue
        else:
            message = types[path.parent.name].from_json(json.dumps(data),
                                                        ignore_unknown_fields=False)
        assert proto_to_dict(message) == data, path


# --- broken variants built in the test ---------------------------------------------------


def test_missing_subscription_is_not_found(broken_copy, capsys):
    root = broken_copy()
    (root / "subscriptions" / "nba-phase5-predictions-sub.json").unlink()
    code, lines = run_verifier(RecordedReader(root), capsys)
    assert code == 1
    assert fails(lines) == [
        "FAIL subscription nba-phase5-predictions-sub: not found in project nba-props-platform; "
        "fix: the stack declares it: run `make plan ENV=prod` and `make apply ENV=prod`"
    ]


def test_default_compute_identity_on_a_push_edge_fails(broken_copy, capsys):
    root = broken_copy()
    compute = "733310264829-compute@developer.gserviceaccount.com"

    def use_compute(sub):
        sub["push_config"]["oidc_token"]["service_account_email"] = compute

    edit(root / "subscriptions" / "nba-phase2-raw-sub.json", use_compute)
    _, lines = run_verifier(RecordedReader(root), capsys)
    [line] = fails(lines)
    assert (f"FAIL subscription nba-phase2-raw-sub: OIDC identity is {compute}, expected "
            "nba-push-phase1-to-phase2@nba-props-platform.iam.gserviceaccount.com") in line


def test_dead_letter_policy_is_checked(broken_copy, capsys):
    root = broken_copy()

    def no_dead_letter(sub):
        del sub["dead_letter_policy"]

    edit(root / "subscriptions" / "nba-phase4-precompute-sub.json", no_dead_letter)
    _, lines = run_verifier(RecordedReader(root), capsys)
    [line] = fails(lines)
    assert ("dead-letter topic is unset, expected "
            "projects/nba-props-platform/topics/nba-phase4-precompute-sub-dlq") in line


def test_service_not_ready_names_the_condition(broken_copy, capsys):
    root = broken_copy()

    def failed(svc):
        svc["terminal_condition"] = {"type_": "Ready", "state": "CONDITION_FAILED",
                                     "message": "Revision 'x' is not ready"}

    edit(root / "services" / "prediction-worker.json", failed)
    _, lines = run_verifier(RecordedReader(root), capsys)
    [line] = fails(lines)
    assert line.startswith("FAIL service      prediction-worker: not ready (CONDITION_FAILED: "
                           "Revision 'x' is not ready); fix: read the revision logs")


def test_public_service_fails(broken_copy, capsys):
    root = broken_copy()

    def public(policy):
        policy["bindings"] = [{"role": "roles/run.invoker", "members": ["allUsers"]}]

    edit(root / "service_iam" / "nba-phase1-scrapers.json", public)
    _, lines = run_verifier(RecordedReader(root), capsys)
    [line] = fails(lines)
    assert line.startswith("FAIL service      nba-phase1-scrapers: public: roles/run.invoker "
                           "for allUsers; fix: remove the public binding")


def test_invoker_only_under_a_condition_fails(broken_copy, capsys):
    root = broken_copy()

    def conditional(policy):
        policy["bindings"][0]["condition"] = {"title": "office-hours",
                                              "expression": "request.time.getHours() < 18"}

    edit(root / "service_iam" / "prediction-worker.json", conditional)
    _, lines = run_verifier(RecordedReader(root), capsys)
    [line] = fails(lines)
    assert "only under an IAM condition on Cloud Run service prediction-worker" in line


@pytest.mark.parametrize("condition", [None, {"title": "any", "expression": "true"}])
def test_the_builders_object_grant_outside_its_condition_fails(broken_copy, capsys, condition):
    """Held project-wide without the source-bucket condition (or under another one): the
    build identity could write the raw files; verify names the condition it needs."""
    root = broken_copy()

    def widen(policy):
        for b in policy["bindings"]:
            if b["role"] == "roles/storage.objectUser":
                b.pop("condition")
                if condition:
                    b["condition"] = condition

    edit(root / "project_iam" / "nba-props-platform.json", widen)
    _, lines = run_verifier(RecordedReader(root), capsys)
    [line] = fails(lines)
    assert "roles/storage.objectUser for serviceAccount:nba-fn-builder@" in line
    assert "not under its condition (resource.name.startsWith(" in line


@pytest.mark.parametrize(("folder", "file", "drop", "failed"), [
    ("subscription_iam", "nba-phase4-precompute-sub", AGENT,
     "FAIL subscriber   pubsub-agent → nba-phase4-precompute-sub: roles/pubsub.subscriber for "
     f"{AGENT} missing on subscription nba-phase4-precompute-sub; needed: Pub/Sub "
     "acknowledges dead-lettered messages of nba-phase4-precompute-sub"),
    ("subscription_iam", "nba-phase2-raw-sub-dlq-sub",
     "serviceAccount:nba-fn-canary@nba-props-platform.iam.gserviceaccount.com",
     "FAIL subscriber   nba-fn-canary → nba-phase2-raw-sub-dlq-sub: roles/pubsub.subscriber "
     "for serviceAccount:nba-fn-canary@nba-props-platform.iam.gserviceaccount.com missing on "
     "subscription nba-phase2-raw-sub-dlq-sub; needed: pipeline-canary peeks at "
     "nba-phase2-raw-sub-dlq-sub to report failing pushes"),
    ("topic_iam", "nba-phase3-analytics-sub-dlq", AGENT,
     "FAIL publisher    pubsub-agent → nba-phase3-analytics-sub-dlq: roles/pubsub.publisher "
     f"for {AGENT} missing on topic nba-phase3-analytics-sub-dlq; needed: "
     "nba-phase3-analytics-sub dead-letters to nba-phase3-analytics-sub-dlq"),
    ("project_iam", "nba-props-platform",
     "serviceAccount:nba-fn-orch-p3p4@nba-props-platform.iam.gserviceaccount.com",
     "FAIL datastore    nba-fn-orch-p3p4 → nba-props-platform: roles/datastore.user for "
     "serviceAccount:nba-fn-orch-p3p4@nba-props-platform.iam.gserviceaccount.com missing on "
     "project nba-props-platform; needed: phase3-to-phase4-orchestrator tracks completions "
     "in Firestore"),
    ("bucket_iam", "nba-props-platform-nba-raw",
     "serviceAccount:nba-run-p1-scrapers@nba-props-platform.iam.gserviceaccount.com",
     "FAIL iam          nba-run-p1-scrapers → nba-props-platform-nba-raw: "
     "roles/storage.objectUser for serviceAccount:nba-run-p1-scrapers@nba-props-platform.iam."
     "gserviceaccount.com missing on bucket nba-props-platform-nba-raw; needed: "
     "nba-phase1-scrapers writes (and overwrites) nba-props-platform-nba-raw"),
])
def test_each_missing_grant_fails_alone(broken_copy, capsys, folder, file, drop, failed):
    root = broken_copy()

    def without(policy):
        for binding in policy["bindings"]:
            binding["members"] = [m for m in binding["members"] if m != drop]

    edit(root / folder / f"{file}.json", without)
    code, lines = run_verifier(RecordedReader(root), capsys)
    assert code == 1
    [line] = fails(lines)
    assert line.startswith(f"{failed}; fix: the stack declares it"), line


def test_missing_data_editor_on_a_dataset_fails(broken_copy, capsys):
    root = broken_copy()

    def without_writer(dataset):
        dataset["access"] = [a for a in dataset["access"] if "userByEmail" not in a]

    edit(root / "datasets" / "nba_orchestration.json", without_writer)
    _, lines = run_verifier(RecordedReader(root), capsys)
    [line] = fails(lines)
    assert line.startswith(
        "FAIL data-editor  nba-fn-orch-p3p4 → nba_orchestration: roles/bigquery.dataEditor for "
        "serviceAccount:nba-fn-orch-p3p4@nba-props-platform.iam.gserviceaccount.com missing on "
        "dataset nba_orchestration; needed: phase3-to-phase4-orchestrator dual-writes "
        "phase_completions; fix: the stack declares it: run `make plan ENV=prod` and "
        "`make apply ENV=prod`"), line
    assert "emergency" not in line


def test_dataset_writer_in_iam_form_or_reader_role(broken_copy, capsys):
    """An entry in IAM form counts; a reader role where the wiring wants a writer does not."""
    root = broken_copy()

    def iam_form(dataset):
        for a in dataset["access"]:
            if a.get("userByEmail", "").startswith("nba-run-p2-raw@"):
                a["role"] = "roles/bigquery.dataEditor"

    def reader(dataset):
        for a in dataset["access"]:
            if a.get("userByEmail", "").startswith("nba-run-p3-analytics@"):
                a["role"] = "READER"

    edit(root / "datasets" / "nba_raw.json", iam_form)
    edit(root / "datasets" / "nba_analytics.json", reader)
    _, lines = run_verifier(RecordedReader(root), capsys)
    assert [line.split(":")[0] for line in fails(lines)] == [
        "FAIL data-editor  nba-run-p3-analytics → nba_analytics"]


def test_agent_of_another_project_does_not_count(broken_copy, capsys):
    root = broken_copy()

    def other_number(project):
        project["name"] = "projects/111111111111"

    edit(root / "projects" / "nba-props-platform.json", other_number)
    _, lines = run_verifier(RecordedReader(root), capsys)
    agent_fails = [line for line in fails(lines) if "pubsub-agent →" in line]
    assert len(agent_fails) == len(fails(lines)) == 4 + 4 + 5
    assert all("service-111111111111@gcp-sa-pubsub" in line for line in agent_fails)


def test_missing_project_makes_the_agent_grants_uncheckable(broken_copy, capsys):
    root = broken_copy()
    (root / "projects" / "nba-props-platform.json").unlink()
    _, lines = run_verifier(RecordedReader(root), capsys)
    assert len(fails(lines)) == 13
    assert all("cannot check: project nba-props-platform not found, so the Pub/Sub agent's "
               "project number is unknown" in line for line in fails(lines))


def test_missing_dead_letter_subscription_fails_its_reader_grant(broken_copy, capsys):
    root = broken_copy()
    (root / "subscription_iam" / "nba-phase5-predictions-sub-dlq-sub.json").unlink()
    _, lines = run_verifier(RecordedReader(root), capsys)
    [line] = fails(lines)
    assert line.startswith("FAIL subscriber   nba-fn-canary → nba-phase5-predictions-sub-dlq-sub: "
                           "cannot check: subscription nba-phase5-predictions-sub-dlq-sub not "
                           "found; fix: the stack declares it")


def test_missing_function_fails_its_dependent_edges(broken_copy, capsys):
    root = broken_copy()
    (root / "functions" / "phase3-to-phase4-orchestrator.json").unlink()
    _, lines = run_verifier(RecordedReader(root), capsys)
    assert [line.split(":")[0] for line in fails(lines)] == [
        "FAIL function     phase3-to-phase4-orchestrator",
        "FAIL trigger      phase3-to-phase4-orchestrator",
        "FAIL invoker      nba-trg-orch-p3p4 → phase3-to-phase4-orchestrator",
    ]
    assert all("function phase3-to-phase4-orchestrator not found" in line
               or "not found in projects/" in line for line in fails(lines))


def test_unreadable_policy_fails_with_the_permission_fix(capsys):
    class Denied(RecordedReader):
        def get_service_iam_policy(self, name):
            if name.endswith("/nba-phase3-analytics-processors"):
                self.calls[("service_iam", name)] += 1
                raise ReadError(f"reading IAM policy of {name}: 403 Permission "
                                "'run.services.getIamPolicy' denied")
            return super().get_service_iam_policy(name)

    reader = Denied(HEALTHY)
    code, lines = run_verifier(reader, capsys)
    assert code == 1
    failed = fails(lines)
    # the service itself, its push identity and both backup jobs
    assert [line.split(":")[0] for line in failed] == [
        "FAIL service      nba-phase3-analytics-processors",
        "FAIL invoker      nba-push-phase2-to-phase3 → nba-phase3-analytics-processors",
        "FAIL invoker      nba-job-sd-p3 → nba-phase3-analytics-processors",
        "FAIL invoker      nba-job-sd-p3-tmrw → nba-phase3-analytics-processors",
    ]
    assert all("could not read: reading IAM policy" in line and
               "fix: give the verifying identity roles/run.viewer on nba-props-platform" in line
               for line in failed)
    assert max(reader.calls.values()) == 1


def test_unreadable_topic_policy_names_the_pubsub_viewer_role(capsys):
    class Denied(RecordedReader):
        def get_topic_iam_policy(self, name):
            raise ReadError(f"reading IAM policy of {name}: 403 Permission "
                            "'pubsub.topics.getIamPolicy' denied")

    _, lines = run_verifier(Denied(HEALTHY), capsys)
    assert len(fails(lines)) == 9
    assert all("give the verifying identity roles/pubsub.viewer" in line
               for line in fails(lines))


# --- expectations come from the wiring ----------------------------------------------------


def test_other_env_expects_its_own_names(capsys):
    code, lines = run_verifier(RecordedReader(HEALTHY), capsys, env=get_env("dev"))
    assert code == 1
    old_system = ("removed", "deploy-path", "release-path")
    assert not [line for line in checks(lines)
                if line.startswith("OK") and line.split()[1] not in old_system]
    assert "FAIL service      nba-phase1-scrapers: not found in " \
           "projects/nba-props-platform-dev/locations/us-west2" in "\n".join(lines)


def test_verifier_checks_the_wiring_of_its_env():
    verifier = Verifier(load(), replace(PROD, sport="mlb"), RecordedReader(HEALTHY), CLEAN)
    assert verifier.wiring == derive(load(), replace(PROD, sport="mlb"))
    assert {e.subscription for e in verifier.wiring.edges} == {
        "mlb-phase2-raw-sub", "mlb-phase3-analytics-sub", "mlb-phase4-precompute-sub",
        "mlb-phase5-predictions-sub",
    }


def test_expected_matches_the_synthesized_stack(prod_stack):
    """What verify expects is what the stack declares: every invoker member, every edge."""
    exp = derive(load(), PROD)
    stack = prod_stack

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


def test_main_healthy_exit_zero(capsys):
    assert verify.main(["--env", "prod"], reader=RecordedReader(HEALTHY), inventory=CLEAN) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("verify prod: project nba-props-platform, region "
                                          "us-west2: 6 services, 2 functions, 4 push "
                                          "subscriptions, 54 grants")


def test_main_missing_credentials_one_line_exit_2(capsys):
    class NoCredentials(RecordedReader):
        def get_service(self, name):
            raise DefaultCredentialsError("Your default credentials were not found.")

    assert verify.main(["--env", "prod"], reader=NoCredentials(HEALTHY), inventory=CLEAN) == 2
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
    assert verify.main(["--env", "staging"]) == 2
    [line] = capsys.readouterr().err.splitlines()
    assert line == ("verify: usage: argument --env: unknown environment 'staging'; known: "
                    "dev, prod")
