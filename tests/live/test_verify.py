"""Live verification (`infra.verify`) against recorded API responses.

The `Verifier` reads through a `CloudReader`; here `RecordedReader` serves the JSON files
under `recorded/` (see its README) exactly as `GoogleCloudReader` would return them. The
real reader is tested at its boundaries: conversion of the real message classes, error
translation, and the credentials failure without network.
"""

import json
import shutil
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
from google.api_core.exceptions import NotFound, PermissionDenied
from google.auth.exceptions import DefaultCredentialsError
from google.cloud import functions_v2, pubsub_v1, run_v2
from google.iam.v1 import policy_pb2
from google.protobuf import json_format

from infra.live import verify
from infra.live.verify import (
    GoogleCloudReader,
    ReadError,
    Verifier,
    dead_letter_topic_name,
    expected,
    proto_to_dict,
)
from infra.model.envs import get_env
from infra.model.pipeline import load

RECORDED = Path(__file__).resolve().parent / "recorded"
HEALTHY = RECORDED / "healthy"
PROD = get_env("prod")

# 6 services + 2 functions + 1 trigger + 4 subscriptions
# + invokers: 4 push identities, 1 trigger identity, 3 scheduler jobs, 1 service→service
HEALTHY_CHECKS = 6 + 2 + 1 + 4 + 9


class RecordedReader:
    """A `CloudReader` serving recorded responses; later layers override earlier ones.

    A resource is found only when its file's `name` equals the requested full name, so a
    verifier asking for the wrong project, region or name gets "not found", like the API.
    """

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


def run_verifier(reader, capsys, env=PROD):
    code = Verifier(load(), env, reader).run(sys.stdout)
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
        "roles/run.invoker granted (push subscription nba-phase3-analytics-sub)",
        "OK   invoker      nba-job-canary-job → pipeline-canary: roles/run.invoker granted "
        "(scheduler job nba-pipeline-canary)",
        "OK   invoker      nba-run-p5-coordinator → prediction-worker: roles/run.invoker "
        "granted (service prediction-coordinator)",
    ):
        assert expected_line in lines, f"missing line:\n{expected_line}\nin:\n{text}"


def test_each_resource_is_read_once(capsys):
    reader = RecordedReader(HEALTHY)
    run_verifier(reader, capsys)
    assert reader.calls, "nothing was read"
    assert max(reader.calls.values()) == 1, reader.calls.most_common(3)
    # every service's IAM policy (6 services + 2 function services) and every subscription
    assert sum(1 for folder, _ in reader.calls if folder == "service_iam") == 8
    assert sum(1 for folder, _ in reader.calls if folder == "subscriptions") == 4


def test_invoker_stripped_by_redeploy_fails_one_edge(capsys):
    code, lines = run_verifier(RecordedReader(HEALTHY, RECORDED / "invoker_missing"), capsys)
    assert code == 1
    [line] = fails(lines)
    assert line.startswith("FAIL invoker      nba-trg-orch-p3p4 → phase3-to-phase4-orchestrator: "
                           "roles/run.invoker for serviceAccount:nba-trg-orch-p3p4@"
                           "nba-props-platform.iam.gserviceaccount.com missing on "
                           "phase3-to-phase4-orchestrator; Pub/Sub trigger of "
                           "phase3-to-phase4-orchestrator cannot deliver; fix: ")
    assert "`make apply ENV=prod`" in line
    assert ("gcloud run services add-iam-policy-binding phase3-to-phase4-orchestrator "
            "--project nba-props-platform --region us-west2") in line
    assert lines[-1] == f"verify prod: {HEALTHY_CHECKS} checks, {HEALTHY_CHECKS - 1} OK, 1 FAIL"


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
    assert len(files) >= 25
    for path in files:
        data = json.loads(path.read_text())
        if path.parent.name == "service_iam":
            message = json_format.ParseDict(data, policy_pb2.Policy())
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
    assert "only under an IAM condition on prediction-worker" in line


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


# --- expectations come from the manifest and the env -------------------------------------


def test_other_env_expects_its_own_names(capsys):
    code, lines = run_verifier(RecordedReader(HEALTHY), capsys, env=get_env("dev"))
    assert code == 1
    assert not [line for line in checks(lines) if line.startswith("OK")]
    assert "FAIL service      nba-phase1-scrapers: not found in " \
           "projects/nba-props-platform-dev/locations/us-west2" in "\n".join(lines)


def test_expected_follows_the_sport_prefix():
    exp = expected(load(), replace(PROD, sport="mlb"))
    assert {s.subscription for s in exp.subscriptions} == {
        "mlb-phase2-raw-sub", "mlb-phase3-analytics-sub", "mlb-phase4-precompute-sub",
        "mlb-phase5-predictions-sub",
    }
    assert all(e.account.startswith("mlb-") for e in exp.invokers)
    assert {t.topic for t in exp.triggers} == {"mlb-phase3-analytics-complete"}


def test_expected_matches_the_synthesized_stack(prod_stack):
    """What verify expects is what the stack declares: every invoker member, every edge."""
    exp = expected(load(), PROD)
    stack = prod_stack

    def resolve_member(member: str) -> str:
        prefix, _, ref = member.partition(":")
        return f"{prefix}:{stack.resolve_attr(ref)}"

    declared = set()
    for res in stack.of_type("google_cloud_run_v2_service_iam_member"):
        assert res.body["role"] == "roles/run.invoker"
        target = stack.resources[stack.refs(res.body["name"])[0]]
        declared.add((target.body["name"], resolve_member(res.body["member"])))
    wanted = {(e.target.cloud_name, f"serviceAccount:{e.account}") for e in exp.invokers}
    assert wanted == declared

    subs = {r.body["name"]: r.body for r in stack.of_type("google_pubsub_subscription")
            if "push_config" in r.body}
    assert set(subs) == {p.subscription for p in exp.subscriptions}
    for push in exp.subscriptions:
        body = subs[push.subscription]
        topic = stack.resources[stack.ref_address(body["topic"])].body["name"]
        dlq = stack.resources[stack.ref_address(body["dead_letter_policy"]["dead_letter_topic"])]
        oidc = body["push_config"]["oidc_token"]
        endpoint = body["push_config"]["push_endpoint"]
        target = stack.resources[stack.refs(endpoint)[0]].body["name"]
        assert (topic, dlq.body["name"], stack.resolve_attr(oidc["service_account_email"]),
                body["dead_letter_policy"]["max_delivery_attempts"], target,
                endpoint.rsplit("}", 1)[1]) == (
            push.topic, push.dead_letter_topic, push.account, push.max_delivery_attempts,
            push.target.cloud_name, push.path), push.subscription


def test_dead_letter_topic_name():
    assert dead_letter_topic_name("nba-phase3-analytics-sub") == "nba-phase3-analytics-sub-dlq"


# --- the real reader, at its boundaries --------------------------------------------------


class FakeRunClient:
    def __init__(self):
        self.requests = []

    def get_service(self, name):
        self.requests.append(("get_service", name))
        data = json.loads((HEALTHY / "services" / f"{name.rsplit('/', 1)[-1]}.json").read_text())
        return run_v2.Service.from_json(json.dumps(data))

    def get_iam_policy(self, request):
        self.requests.append(("get_iam_policy", request["resource"]))
        if request["resource"].endswith("/gone"):
            raise NotFound("Service gone not found")
        if request["resource"].endswith("/secret"):
            raise PermissionDenied("Permission 'run.services.getIamPolicy' denied on resource")
        short = request["resource"].rsplit("/", 1)[-1]
        return json_format.ParseDict(
            json.loads((HEALTHY / "service_iam" / f"{short}.json").read_text()),
            policy_pb2.Policy())


def test_google_reader_converts_real_messages():
    reader = GoogleCloudReader()
    fake = FakeRunClient()
    reader._run = fake
    name = f"projects/{PROD.project_id}/locations/{PROD.region}/services/prediction-worker"
    assert reader.get_service(name) == json.loads(
        (HEALTHY / "services" / "prediction-worker.json").read_text())
    assert reader.get_service_iam_policy(name) == json.loads(
        (HEALTHY / "service_iam" / "prediction-worker.json").read_text())
    assert fake.requests == [("get_service", name), ("get_iam_policy", name)]


def test_google_reader_maps_not_found_and_api_errors():
    reader = GoogleCloudReader()
    reader._run = FakeRunClient()
    assert reader.get_service_iam_policy("projects/p/locations/r/services/gone") is None
    with pytest.raises(ReadError, match=r"^reading IAM policy of projects/p/locations/r/"
                                        r"services/secret: 403 Permission"):
        reader.get_service_iam_policy("projects/p/locations/r/services/secret")


def test_google_reader_converts_functions_and_subscriptions():
    fn_data = json.loads((HEALTHY / "functions" / "pipeline-canary.json").read_text())
    sub_data = json.loads((HEALTHY / "subscriptions" / "nba-phase2-raw-sub.json").read_text())

    class Functions:
        def get_function(self, name):
            assert name == fn_data["name"]
            return functions_v2.Function.from_json(json.dumps(fn_data))

    class Subscriber:
        def get_subscription(self, subscription):
            assert subscription == sub_data["name"]
            return pubsub_v1.types.Subscription.from_json(json.dumps(sub_data))

    reader = GoogleCloudReader()
    reader._functions = Functions()
    reader._pubsub = Subscriber()
    assert reader.get_function(fn_data["name"]) == fn_data
    assert reader.get_subscription(sub_data["name"]) == sub_data


# --- CLI -----------------------------------------------------------------------------------


def test_main_healthy_exit_zero(capsys):
    assert verify.main(["--env", "prod"], reader=RecordedReader(HEALTHY)) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("verify prod: project nba-props-platform, region "
                                          "us-west2: 6 services, 2 functions, 4 push "
                                          "subscriptions, 9 invoker edges")


def test_main_missing_credentials_one_line_exit_2(capsys):
    class NoCredentials(RecordedReader):
        def get_service(self, name):
            raise DefaultCredentialsError("Your default credentials were not found.")

    assert verify.main(["--env", "prod"], reader=NoCredentials(HEALTHY)) == 2
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
    assert line.startswith("verify: usage: argument --env: invalid choice: 'staging'")
