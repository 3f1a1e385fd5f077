"""Live verification (`infra.verify`): broken variants of the healthy project built in each
test (`tests/live/fake_project.py`), each failing exactly the checks it breaks."""

import pytest

from infra.live.reader import ReadError
from infra.model.permissions import INVOKER, Target
from tests.live.fake_project import PROJECT_NUMBER, FakeProject
from tests.live.verify_support import (
    AGENT,
    PROD,
    WIRING,
    account_id,
    agent_grants,
    fails,
    only_failure,
    run_verifier,
)

# --- broken variants built in the test ---------------------------------------------------


def test_missing_subscription_is_not_found(project, capsys):
    project.drop("subscriptions", "nba-phase5-predictions-sub")
    code, lines = run_verifier(project, capsys)
    assert code == 1
    assert fails(lines) == [
        "FAIL subscription nba-phase5-predictions-sub: not found in project nba-props-platform; "
        "fix: the stack declares it: run `make plan ENV=prod` and `make apply ENV=prod`"
    ]


COMPUTE = f"{PROJECT_NUMBER}-compute@developer.gserviceaccount.com"


DELETE = object()


def _set(path, value):
    """A mutation setting the value at ``path`` (keys and indexes), or deleting it (``DELETE``)."""
    def mutate(data):
        *parents, last = path
        for step in parents:
            data = data[step]
        if value is DELETE:
            del data[last]
        else:
            data[last] = value
    return mutate


@pytest.mark.parametrize(("folder", "name", "break_it", "failure"), [
    pytest.param("subscriptions", "nba-phase2-raw-sub",
                 _set(("push_config", "oidc_token", "service_account_email"), COMPUTE),
                 f"FAIL subscription nba-phase2-raw-sub: OIDC identity is {COMPUTE}, expected "
                 "nba-push-phase1-to-phase2@nba-props-platform.iam.gserviceaccount.com",
                 id="default compute identity on a push edge"),
    pytest.param("subscriptions", "nba-phase4-precompute-sub", _set(("dead_letter_policy",), DELETE),
                 "dead-letter topic is unset, expected "
                 "projects/nba-props-platform/topics/nba-phase4-precompute-sub-dlq",
                 id="no dead-letter policy"),
    pytest.param("services", "prediction-worker",
                 _set(("terminal_condition",), {"type_": "Ready", "state": "CONDITION_FAILED",
                                                "message": "Revision 'x' is not ready"}),
                 "FAIL service      prediction-worker: not ready (CONDITION_FAILED: "
                 "Revision 'x' is not ready); fix: read the revision logs",
                 id="service not ready names the condition"),
    pytest.param("service_iam", "nba-phase1-scrapers",
                 _set(("bindings",), [{"role": "roles/run.invoker", "members": ["allUsers"]}]),
                 "FAIL service      nba-phase1-scrapers: public: roles/run.invoker "
                 "for allUsers; fix: remove the public binding",
                 id="public service"),
    pytest.param("service_iam", "prediction-worker",
                 _set(("bindings", 0, "condition"), {"title": "office-hours",
                                                     "expression": "request.time.getHours() < 18"}),
                 "only under an IAM condition on Cloud Run service prediction-worker",
                 id="invoker only under a condition"),
])
def test_one_broken_setting_fails_alone(project, capsys, folder, name, break_it, failure):
    project.edit(folder, name, break_it)
    line = only_failure(project, capsys)
    assert failure in line, line


@pytest.mark.parametrize("condition", [None, {"title": "any", "expression": "true"}])
def test_the_builders_object_grant_outside_its_condition_fails(project, capsys, condition):
    """Held project-wide without the source-bucket condition (or under another one): the
    build identity could write the raw files; verify names the condition it needs."""

    def widen(policy):
        for b in policy["bindings"]:
            if b["role"] == "roles/storage.objectUser":
                b.pop("condition")
                if condition:
                    b["condition"] = condition

    project.edit("project_iam", "nba-props-platform", widen)
    line = only_failure(project, capsys)
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
def test_each_missing_grant_fails_alone(project, capsys, folder, file, drop, failed):
    def without(policy):
        for binding in policy["bindings"]:
            binding["members"] = [m for m in binding["members"] if m != drop]

    project.edit(folder, file, without)
    line = only_failure(project, capsys)
    assert line.startswith(f"{failed}; fix: the stack declares it"), line


def test_missing_data_editor_on_a_dataset_fails(project, capsys):
    def without_writer(dataset):
        dataset["access"] = [a for a in dataset["access"] if "userByEmail" not in a]

    project.edit("datasets", "nba_orchestration", without_writer)
    line = only_failure(project, capsys)
    assert line.startswith(
        "FAIL data-editor  nba-fn-orch-p3p4 → nba_orchestration: roles/bigquery.dataEditor for "
        "serviceAccount:nba-fn-orch-p3p4@nba-props-platform.iam.gserviceaccount.com missing on "
        "dataset nba_orchestration; needed: phase3-to-phase4-orchestrator dual-writes "
        "phase_completions; fix: the stack declares it: run `make plan ENV=prod` and "
        "`make apply ENV=prod`"), line
    assert "emergency" not in line


def test_dataset_writer_in_iam_form_or_reader_role(project, capsys):
    """An entry in IAM form counts; a reader role where the wiring wants a writer does not."""

    def iam_form(dataset):
        for a in dataset["access"]:
            if a.get("userByEmail", "").startswith("nba-run-p2-raw@"):
                a["role"] = "roles/bigquery.dataEditor"

    def reader(dataset):
        for a in dataset["access"]:
            if a.get("userByEmail", "").startswith("nba-run-p3-analytics@"):
                a["role"] = "READER"

    project.edit("datasets", "nba_raw", iam_form)
    project.edit("datasets", "nba_analytics", reader)
    _, lines = run_verifier(project, capsys)
    assert [line.split(":")[0] for line in fails(lines)] == [
        "FAIL data-editor  nba-run-p3-analytics → nba_analytics"]


def test_agent_of_another_project_does_not_count(project, capsys):
    def other_number(data):
        data["name"] = "projects/111111111111"

    project.edit("projects", "nba-props-platform", other_number)
    _, lines = run_verifier(project, capsys)
    agent_fails = [line for line in fails(lines) if "pubsub-agent →" in line]
    assert len(agent_fails) == len(fails(lines)) == agent_grants()
    assert all("service-111111111111@gcp-sa-pubsub" in line for line in agent_fails)


def test_missing_project_makes_the_agent_grants_uncheckable(project, capsys):
    project.drop("projects", "nba-props-platform")
    _, lines = run_verifier(project, capsys)
    assert len(fails(lines)) == agent_grants()
    assert all("cannot check: project nba-props-platform not found, so the Pub/Sub agent's "
               "project number is unknown" in line for line in fails(lines))


def test_missing_dead_letter_subscription_fails_its_reader_grant(project, capsys):
    project.drop("subscription_iam", "nba-phase5-predictions-sub-dlq-sub")
    line = only_failure(project, capsys)
    assert line.startswith("FAIL subscriber   nba-fn-canary → nba-phase5-predictions-sub-dlq-sub: "
                           "cannot check: subscription nba-phase5-predictions-sub-dlq-sub not "
                           "found; fix: the stack declares it")


def test_missing_function_fails_its_dependent_edges(project, capsys):
    project.drop("functions", "phase3-to-phase4-orchestrator")
    _, lines = run_verifier(project, capsys)
    assert [line.split(":")[0] for line in fails(lines)] == [
        "FAIL function     phase3-to-phase4-orchestrator",
        "FAIL trigger      phase3-to-phase4-orchestrator",
        "FAIL invoker      nba-trg-orch-p3p4 → phase3-to-phase4-orchestrator",
    ]
    assert all("function phase3-to-phase4-orchestrator not found" in line
               or "not found in projects/" in line for line in fails(lines))


def test_unreadable_policy_fails_with_the_permission_fix(healthy_prod, capsys):
    service = "nba-phase3-analytics-processors"

    class Denied(FakeProject):
        def get_service_iam_policy(self, name):
            if name.endswith(f"/{service}"):
                self.calls[("service_iam", name)] += 1
                raise ReadError(f"reading IAM policy of {name}: 403 Permission "
                                "'run.services.getIamPolicy' denied")
            return super().get_service_iam_policy(name)

    reader = Denied(PROD, healthy_prod.copy().answers)
    code, lines = run_verifier(reader, capsys)
    assert code == 1
    failed = fails(lines)
    # the service itself and every invoker on it (its push identity, the jobs calling it)
    invokers = [g for g in WIRING.grants if g.target == Target("run.service", service)]
    assert [g.role for g in invokers] == [INVOKER] * len(invokers) and len(invokers) >= 2
    assert [line.split(":")[0] for line in failed] == [
        f"FAIL service      {service}",
        *(f"FAIL invoker      {account_id(g.member)} → {service}" for g in invokers)]
    assert all("could not read: reading IAM policy" in line and
               "fix: give the verifying identity roles/run.viewer on nba-props-platform" in line
               for line in failed)
    assert max(reader.calls.values()) == 1


def test_unreadable_topic_policy_names_the_pubsub_viewer_role(healthy_prod, capsys):
    class Denied(FakeProject):
        def get_topic_iam_policy(self, name):
            raise ReadError(f"reading IAM policy of {name}: 403 Permission "
                            "'pubsub.topics.getIamPolicy' denied")

    _, lines = run_verifier(Denied(PROD, healthy_prod.copy().answers), capsys)
    assert len(fails(lines)) == sum(1 for g in WIRING.grants if g.target.kind == "pubsub.topic")
    assert all("give the verifying identity roles/pubsub.viewer" in line
               for line in fails(lines))
