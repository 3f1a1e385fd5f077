"""``infra.live.rest_config``: which REST API each declared type is read from, and what is
masked before anything is written."""

import json

import pytest
import requests

from infra.live import rest_config
from infra.live.inventory import READ_ROLES
from infra.live.rest_config import (
    CONFIG_ROLES,
    MASK,
    MIRRORED_VERSION,
    MIRRORS,
    RestError,
    UnexpectedName,
    config_url,
    get_json,
    masked,
    service_state,
    service_url,
)
from infra.model.permissions import PRIMITIVE_ROLES
from infra.model.provider.resources import KINDS

P = "nba-props-platform"

URLS = [
    ("run.googleapis.com/Service",
     f"//run.googleapis.com/projects/{P}/locations/us-west2/services/nba-phase1-scrapers",
     f"https://run.googleapis.com/v2/projects/{P}/locations/us-west2/services/nba-phase1-scrapers"),
    ("cloudfunctions.googleapis.com/Function",
     f"//cloudfunctions.googleapis.com/projects/{P}/locations/us-west2/functions/phase2-to-phase3",
     f"https://cloudfunctions.googleapis.com/v2/projects/{P}/locations/us-west2/functions/"
     "phase2-to-phase3"),
    ("cloudfunctions.googleapis.com/CloudFunction",
     f"//cloudfunctions.googleapis.com/projects/{P}/locations/us-west2/functions/old-gen1",
     f"https://cloudfunctions.googleapis.com/v2/projects/{P}/locations/us-west2/functions/old-gen1"),
    ("pubsub.googleapis.com/Topic", f"//pubsub.googleapis.com/projects/{P}/topics/nba-phase4-trigger",
     f"https://pubsub.googleapis.com/v1/projects/{P}/topics/nba-phase4-trigger"),
    ("pubsub.googleapis.com/Subscription",
     f"//pubsub.googleapis.com/projects/{P}/subscriptions/nba-phase3-analytics-sub",
     f"https://pubsub.googleapis.com/v1/projects/{P}/subscriptions/nba-phase3-analytics-sub"),
    ("cloudscheduler.googleapis.com/Job",
     f"//cloudscheduler.googleapis.com/projects/{P}/locations/us-west2/jobs/same-day-phase3",
     f"https://cloudscheduler.googleapis.com/v1/projects/{P}/locations/us-west2/jobs/same-day-phase3"),
    ("bigquery.googleapis.com/Dataset", f"//bigquery.googleapis.com/projects/{P}/datasets/nba_raw",
     f"https://bigquery.googleapis.com/bigquery/v2/projects/{P}/datasets/nba_raw"),
    ("bigquery.googleapis.com/Table",
     f"//bigquery.googleapis.com/projects/{P}/datasets/nba_orchestration/tables/phase_completions",
     f"https://bigquery.googleapis.com/bigquery/v2/projects/{P}/datasets/nba_orchestration/tables/"
     "phase_completions"),
    ("firestore.googleapis.com/Database", f"//firestore.googleapis.com/projects/{P}/databases/(default)",
     f"https://firestore.googleapis.com/v1/projects/{P}/databases/(default)"),
    ("storage.googleapis.com/Bucket", "//storage.googleapis.com/nba-props-platform-nba-raw",
     "https://storage.googleapis.com/storage/v1/b/nba-props-platform-nba-raw"),
    ("storage.googleapis.com/Bucket",
     "//storage.googleapis.com/projects/_/buckets/nba-props-platform-nba-raw",
     "https://storage.googleapis.com/storage/v1/b/nba-props-platform-nba-raw"),
    ("monitoring.googleapis.com/AlertPolicy",
     f"//monitoring.googleapis.com/projects/{P}/alertPolicies/9367779177730658196",
     f"https://monitoring.googleapis.com/v3/projects/{P}/alertPolicies/9367779177730658196"),
    ("monitoring.googleapis.com/NotificationChannel",
     f"//monitoring.googleapis.com/projects/{P}/notificationChannels/4418093204431937114",
     f"https://monitoring.googleapis.com/v3/projects/{P}/notificationChannels/4418093204431937114"),
    ("iam.googleapis.com/ServiceAccount",
     f"//iam.googleapis.com/projects/{P}/serviceAccounts/nba-fn@{P}.iam.gserviceaccount.com",
     f"https://iam.googleapis.com/v1/projects/{P}/serviceAccounts/nba-fn@{P}.iam.gserviceaccount.com"),
    ("secretmanager.googleapis.com/Secret",
     "//secretmanager.googleapis.com/projects/756957797294/secrets/pipeline-alerts-slack-token",
     "https://secretmanager.googleapis.com/v1/projects/756957797294/secrets/"
     "pipeline-alerts-slack-token"),
]


@pytest.mark.parametrize(("asset_type", "name", "url"), URLS, ids=[f"{t}:{n}" for t, n, _ in URLS])
def test_each_declared_type_is_read_from_the_api_its_terraform_resource_mirrors(asset_type, name, url):
    assert config_url(asset_type, name) == url


def test_the_table_covers_every_type_and_version_the_brief_lists():
    assert {t for t, _, _ in URLS} == set(MIRRORS)
    assert dict(MIRRORED_VERSION) == {
        "run.googleapis.com/Service": "v2", "cloudfunctions.googleapis.com/Function": "v2",
        "cloudfunctions.googleapis.com/CloudFunction": "v2",
        "pubsub.googleapis.com/Topic": "v1", "pubsub.googleapis.com/Subscription": "v1",
        "cloudscheduler.googleapis.com/Job": "v1", "bigquery.googleapis.com/Dataset": "v2",
        "bigquery.googleapis.com/Table": "v2", "firestore.googleapis.com/Database": "v1",
        "storage.googleapis.com/Bucket": "v1", "monitoring.googleapis.com/AlertPolicy": "v3",
        "monitoring.googleapis.com/NotificationChannel": "v3",
        "iam.googleapis.com/ServiceAccount": "v1", "secretmanager.googleapis.com/Secret": "v1"}


def test_every_asset_type_adoption_matches_has_a_mirrored_api():
    """A declared type adoption imports must have its live configuration recorded; Service
    Usage states are recorded apart (one per pipeline API)."""
    matched = {t for kind in KINDS.values() for t in kind.asset_types}
    missing = matched - set(MIRRORS) - {rest_config.SERVICE_USAGE_TYPE}
    assert missing == set()


@pytest.mark.parametrize("asset_type", [
    "run.googleapis.com/Revision", "artifactregistry.googleapis.com/Repository",
    "serviceusage.googleapis.com/Service", "cloudresourcemanager.googleapis.com/Project",
    "eventarc.googleapis.com/Trigger", "secretmanager.googleapis.com/SecretVersion", "",
])
def test_unknown_asset_types_get_no_configuration(asset_type):
    assert config_url(asset_type, f"//run.googleapis.com/projects/{P}/locations/l/services/s") is None


@pytest.mark.parametrize(("asset_type", "name"), [
    # another host than the type's API
    ("run.googleapis.com/Service", f"//cloudfunctions.googleapis.com/projects/{P}/locations/l/services/s"),
    # a revision listed under the service type: one segment too many
    ("run.googleapis.com/Service", f"//run.googleapis.com/projects/{P}/locations/l/services/s/revisions/r"),
    # no location segment
    ("cloudscheduler.googleapis.com/Job", f"//cloudscheduler.googleapis.com/projects/{P}/jobs/j"),
    # a secret's version (its payload is never read): not a secret name
    ("secretmanager.googleapis.com/Secret",
     f"//secretmanager.googleapis.com/projects/{P}/secrets/s/versions/latest"),
    ("secretmanager.googleapis.com/Secret", f"//secretmanager.googleapis.com/projects/{P}/secrets/s:access"),
    ("storage.googleapis.com/Bucket", "//storage.googleapis.com/projects/p/buckets/b"),
    ("pubsub.googleapis.com/Topic", f"//pubsub.googleapis.com/projects/{P}/topics/a%2Fb"),
    ("storage.googleapis.com/Bucket", "//storage.googleapis.com/b/o"),
    ("pubsub.googleapis.com/Topic", "pubsub.googleapis.com/projects/p/topics/t"),
    ("pubsub.googleapis.com/Topic", ""),
])
def test_a_name_the_api_cannot_read_is_refused_not_guessed(asset_type, name):
    with pytest.raises(UnexpectedName, match=r"not a .* name the"):
        config_url(asset_type, name)


def test_reading_needs_per_api_viewer_roles_never_a_primitive_one():
    assert not set(READ_ROLES) & PRIMITIVE_ROLES
    assert set(CONFIG_ROLES) | {rest_config.SERVICE_USAGE_ROLE} <= set(READ_ROLES)
    assert set(CONFIG_ROLES) == {
        "roles/run.viewer", "roles/cloudfunctions.viewer", "roles/pubsub.viewer",
        "roles/cloudscheduler.viewer", "roles/bigquery.metadataViewer", "roles/datastore.viewer",
        "roles/storage.bucketViewer", "roles/monitoring.viewer", "roles/iam.serviceAccountViewer",
        "roles/secretmanager.viewer"}
    assert "roles/storage.admin" not in READ_ROLES
    assert READ_ROLES[:2] == ("roles/cloudasset.viewer", "roles/cloudbuild.builds.viewer")


def test_service_usage_url_and_state():
    assert service_url(P, "run.googleapis.com") == \
        f"https://serviceusage.googleapis.com/v1/projects/{P}/services/run.googleapis.com"
    for project, api in ((P, "run"), (P, "run.googleapis.com/x"), ("", "run.googleapis.com"),
                         ("a/b", "run.googleapis.com")):
        with pytest.raises(ValueError, match="not a project and an API"):
            service_url(project, api)
    body = {"name": "projects/756957797294/services/run.googleapis.com", "state": "DISABLED",
            "parent": "projects/756957797294", "config": {"title": "Cloud Run Admin API"}}
    assert service_state(body) == {"name": body["name"], "state": "DISABLED"}
    assert service_state({"state": 3}) == {}


# --- masking -----------------------------------------------------------------------------

SLACK_TOKEN = "xoxb-1111-2222-abcdefSECRETVALUE"
ENV_SECRET = "hunter2-env-secret-value"


def _leaks(value: object, *secrets: str) -> list[str]:
    text = json.dumps(value)
    return [s for s in secrets if s in text]


def test_a_notification_channel_token_is_masked_its_other_labels_kept():
    body = {"name": f"projects/{P}/notificationChannels/1", "type": "slack",
            "labels": {"channel_name": "#nba-pipeline-alerts", "auth_token": SLACK_TOKEN},
            "sensitiveLabels": {"authToken": SLACK_TOKEN, "password": "pw-value-9"}}
    assert _leaks(body, SLACK_TOKEN, "pw-value-9")  # the input does hold them
    out = masked("monitoring.googleapis.com/NotificationChannel", body)
    assert _leaks(out, SLACK_TOKEN, "pw-value-9") == []
    assert out["labels"] == {"channel_name": "#nba-pipeline-alerts", "auth_token": MASK}
    assert out["sensitiveLabels"] == {"authToken": MASK, "password": MASK}
    assert body["labels"]["auth_token"] == SLACK_TOKEN  # a copy: the input is untouched


def test_resource_labels_of_other_types_are_kept():
    body = {"labels": {"api_key_owner": "team-a"}}
    assert masked("storage.googleapis.com/Bucket", body) == body


def test_run_and_function_env_values_named_like_credentials_are_masked():
    run = {"template": {"containers": [{"image": "i", "env": [
        {"name": "API_SECRET", "value": ENV_SECRET},
        {"name": "slack_token", "value": ENV_SECRET},
        {"name": "DB_PASSWORD", "value": ENV_SECRET},
        {"name": "ODDS_API_KEY", "value": ENV_SECRET},
        {"name": "GCP_PROJECT", "value": P},
        {"name": "SLACK_TOKEN_REF", "valueSource": {"secretKeyRef": {
            "secret": "pipeline-alerts-slack-token", "version": "latest"}}},
    ]}]}}
    out = masked("run.googleapis.com/Service", run)
    assert _leaks(run, ENV_SECRET) and _leaks(out, ENV_SECRET) == []
    env = out["template"]["containers"][0]["env"]
    assert [e.get("value") for e in env] == [MASK, MASK, MASK, MASK, P, None]
    assert env[-1]["valueSource"]["secretKeyRef"]["secret"] == "pipeline-alerts-slack-token"
    knative = {"spec": {"template": {"spec": {"containers": [{"env": [
        {"name": "SECRET_X", "value": ENV_SECRET}, "PLAIN=1", f"A_TOKEN={ENV_SECRET}"]}]}}}}
    assert _leaks(masked("run.googleapis.com/Service", knative), ENV_SECRET) == []
    function = {"serviceConfig": {
        "environmentVariables": {"SPORT": "nba", "WEBHOOK_SECRET": ENV_SECRET},
        "secretEnvironmentVariables": [{"key": "SLACK_TOKEN", "projectId": P,
                                        "secret": "pipeline-alerts-slack-token",
                                        "version": "latest", "value": ENV_SECRET}],
        "secretVolumes": [{"mountPath": "/s", "secret": "x", "data": ENV_SECRET}]},
        "buildConfig": {"environmentVariables": {"GOOGLE_NODE_RUN_SCRIPTS": "", "KEY": ENV_SECRET}}}
    out = masked("cloudfunctions.googleapis.com/Function", function)
    assert _leaks(function, ENV_SECRET) and _leaks(out, ENV_SECRET) == []
    assert out["serviceConfig"]["environmentVariables"] == {"SPORT": "nba", "WEBHOOK_SECRET": MASK}
    assert out["serviceConfig"]["secretEnvironmentVariables"] == [
        {"key": "SLACK_TOKEN", "projectId": P, "secret": "pipeline-alerts-slack-token",
         "version": "latest"}]
    assert out["serviceConfig"]["secretVolumes"] == [{"mountPath": "/s", "secret": "x"}]


def test_scheduler_authorization_headers_are_masked():
    job = {"httpTarget": {"uri": "https://x.run.app/p", "headers": {
        "Authorization": "Bearer abc.def", "Content-Type": "application/json"}}}
    out = masked("cloudscheduler.googleapis.com/Job", job)
    assert out["httpTarget"]["headers"] == {"Authorization": MASK,
                                            "Content-Type": "application/json"}
    # Field names that only look like credentials are configuration, kept as read.
    push = {"pushConfig": {"oidcToken": {"serviceAccountEmail": "a@b", "audience": "x"}}}
    assert masked("pubsub.googleapis.com/Subscription", push) == push


# --- the default reader ------------------------------------------------------------------

class FakeResponse:
    def __init__(self, status: int, body: object = None, text: str = "") -> None:
        self.status_code, self._body, self.text, self.reason = status, body, text, "Reason"

    def json(self) -> object:
        if self._body is None:
            raise ValueError("no JSON")
        return self._body


class FakeSession:
    def __init__(self, answer: object) -> None:
        self.answer, self.asked = answer, []

    def get(self, url: str, timeout: float) -> FakeResponse:
        self.asked.append(url)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.fixture
def session(monkeypatch):
    def use(answer: object) -> FakeSession:
        fake = FakeSession(answer)
        monkeypatch.setattr(rest_config, "authorized_session", lambda: fake)
        return fake
    return use


URL = f"https://pubsub.googleapis.com/v1/projects/{P}/topics/t"


def test_the_default_reader_returns_the_json_object(session):
    fake = session(FakeResponse(200, {"name": "projects/p/topics/t"}))
    assert get_json(URL) == {"name": "projects/p/topics/t"}
    assert fake.asked == [URL]


@pytest.mark.parametrize(("answer", "status", "message"), [
    (FakeResponse(403, {"error": {"code": 403, "message": "Permission 'pubsub.topics.get' denied\n"
                                                         "on resource"}}),
     403, "403 Permission 'pubsub.topics.get' denied"),
    (FakeResponse(404, None, text="Not Found"), 404, "404 Not Found"),
    (FakeResponse(200, ["not", "an", "object"]), 200, "not a JSON object"),
    (FakeResponse(200, None), 200, "not JSON"),
    (requests.ConnectionError("connection refused"), 0, "connection refused"),
])
def test_the_default_reader_fails_with_the_http_status(session, answer, status, message):
    session(answer)
    with pytest.raises(RestError) as caught:
        get_json(URL)
    assert caught.value.status == status and message in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("url", [
    f"https://secretmanager.googleapis.com/v1/projects/{P}/secrets/s/versions/latest:access",
    f"https://secretmanager.googleapis.com/v1/projects/{P}/secrets/s/versions/1",
    "http://pubsub.googleapis.com/v1/projects/p/topics/t",
])
def test_the_default_reader_never_reads_a_secret_payload(session, url):
    fake = session(FakeResponse(200, {"payload": {"data": "c2VjcmV0"}}))
    with pytest.raises(ValueError, match="not a configuration read"):
        get_json(url)
    assert fake.asked == []
