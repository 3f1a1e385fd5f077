"""The grant data (iam.grants) and the graph's resolution of members and targets."""

from __future__ import annotations

from collections import Counter

import pytest

from iam.grants import expected
from infra.model.envs import get_env
from infra.model.permissions import (
    INVOKER,
    PUBLISHER,
    PUBSUB_AGENT,
    SUBSCRIBER,
    TOKEN_CREATOR,
    Grant,
    Target,
    short_member,
)
from infra.model.pipeline import load
from infra.stackjson.graph import StackGraph
from infra.stackjson.stack import StackJson

PROD = "nba-props-platform"


def sa(account_id: str, project: str = PROD) -> str:
    return f"serviceAccount:{account_id}@{project}.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def data():
    return expected(load(), get_env("prod"))


def test_push_identity_invokes_its_target_only(data):
    push = sa("nba-push-phase2-to-phase3")
    assert data.grants_of(push) == {
        Grant(push, INVOKER, Target("run.service", "nba-phase3-analytics-processors"))}


def test_trigger_and_job_identities_invoke_their_targets(data):
    trigger = sa("nba-trg-orch-p3p4")
    assert {(g.role, g.target) for g in data.grants_of(trigger)} == {
        (INVOKER, Target("function.service", "phase3-to-phase4-orchestrator"))}
    canary_job = sa("nba-job-canary-job")
    assert {(g.role, g.target) for g in data.grants_of(canary_job)} == {
        (INVOKER, Target("function.service", "pipeline-canary"))}


def test_runtime_identities_publish_where_the_manifest_says(data):
    publishers = {(short_member(g.member), g.target.name) for g in data.grants
                  if g.role == PUBLISHER and g.member != PUBSUB_AGENT}
    assert publishers == {
        ("nba-run-p1-scrapers@nba-props-platform", "nba-phase1-scrapers-complete"),
        ("nba-run-p2-raw@nba-props-platform", "nba-phase2-raw-complete"),
        ("nba-run-p3-analytics@nba-props-platform", "nba-phase3-analytics-complete"),
        ("nba-run-p4-precompute@nba-props-platform", "nba-phase4-precompute-complete"),
        ("nba-fn-orch-p3p4@nba-props-platform", "nba-phase4-trigger"),
    }


def test_pubsub_agent_grants_per_push_edge(data):
    agent = Counter(g.role for g in data.grants_of(PUBSUB_AGENT))
    edges = len(data.edges)
    assert edges == len(load().transitions)
    # token creator on each push identity and on each function's trigger identity
    assert agent == {PUBLISHER: edges, SUBSCRIBER: edges,
                     TOKEN_CREATOR: edges + len(data.triggers)}


def test_canary_reads_only_dead_letters_and_its_announcement_subscriptions(data):
    canary = sa("nba-fn-canary")
    subs = {g.target.name for g in data.grants_of(canary) if g.role == SUBSCRIBER}
    assert subs == {f"{e.subscription}-dlq-sub" for e in data.edges} | {
        "nba-phase3-to-phase4-canary-sub"}


def test_no_primitive_or_admin_roles(data):
    roles = {g.role for g in data.grants}
    assert not roles & {"roles/owner", "roles/editor", "roles/viewer"}
    assert not [r for r in roles if r.endswith("admin")]


def test_every_slot_has_its_own_identity_except_builds(data):
    acting = Counter(m for slot, m in data.slots.items() if slot.kind != "function.build")
    assert max(acting.values()) == 1


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_data_matches_the_stacks_grant_for_grant(stack_json, env):
    """Same count both ways: every *_iam_member of the stack is one grant of the data."""
    data = expected(load(), get_env(env))
    stack = StackJson(stack_json[env])
    members = [r for r in stack.resources.values() if r.type.endswith("_iam_member")]
    assert len(members) == len(data.grants)


def test_grants_cli_prints_the_table():
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.run([sys.executable, "-m", "iam.grants", "--env", "prod"],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True,
                          text=True, check=True)
    count = len(expected(load(), get_env("prod")).grants)
    assert proc.stdout.startswith(f"Grants of `prod` (nba-props-platform): {count}\n")
    assert proc.stdout.count("\n| `") == count
    assert ("| `nba-push-phase2-to-phase3@nba-props-platform` | `roles/run.invoker` | "
            "run.service nba-phase3-analytics-processors | nba-phase3-analytics-sub pushes to "
            "nba-phase3-analytics-processors/process |") in proc.stdout


def test_dev_names_its_own_project():
    data = expected(load(), get_env("dev"))
    assert sa("nba-push-phase2-to-phase3", "nba-props-platform-dev") in data.identities


def test_disabling_a_processor_changes_no_grant():
    manifest = load()
    off = manifest.with_processor_enabled("player_game_summary", False)
    assert expected(off, get_env("prod")).grants == expected(manifest, get_env("prod")).grants


@pytest.mark.parametrize(("value", "kind"), [
    ("serviceAccount:${google_service_account.phase2_raw_sub__push_identity.email}", "account"),
    ("${google_service_account.phase2_raw_sub__push_identity.email}", "account"),
    ("projects/nba-props-platform/serviceAccounts/"
     "nba-push-phase1-to-phase2@nba-props-platform.iam.gserviceaccount.com", "account"),
    ("serviceAccount:nba-push-phase1-to-phase2@nba-props-platform.iam.gserviceaccount.com",
     "account"),
    ("serviceAccount:service-${data.google_project.project.number}"
     "@gcp-sa-pubsub.iam.gserviceaccount.com", "pubsub_agent"),
    ("allUsers", "public"),
    ("allAuthenticatedUsers", "public"),
    ("serviceAccount:123456789-compute@developer.gserviceaccount.com", "default"),
    ("serviceAccount:nba-props-platform@appspot.gserviceaccount.com", "default"),
    ("${data.google_compute_default_service_account.default.email}", "default"),
    ("serviceAccount:service-123@gcp-sa-pubsub.iam.gserviceaccount.com", "unresolved"),
    ("serviceAccount:nba-push-phase1-to-phase2@other-project.iam.gserviceaccount.com",
     "unresolved"),
    ("serviceAccount:${google_service_account.gone.email}", "unresolved"),
    ("user:someone@example.com", "unresolved"),
])
def test_principal_resolution(stack_json, value, kind):
    graph = StackGraph(StackJson(stack_json["prod"]))
    p = graph.principal(value)
    assert p.kind == kind, p
    if kind == "account":
        assert p.member == sa("nba-push-phase1-to-phase2")
        assert p.address == "google_service_account.phase2_raw_sub__push_identity"


@pytest.mark.parametrize("value", [
    "${google_pubsub_topic.phase4_trigger__topic.id}",
    "${google_pubsub_topic.phase4_trigger__topic.name}",
    "projects/nba-props-platform/topics/nba-phase4-trigger",
    "nba-phase4-trigger",
])
def test_topic_resolution(stack_json, value):
    graph = StackGraph(StackJson(stack_json["prod"]))
    assert graph.topic(value) == "google_pubsub_topic.phase4_trigger__topic"


def test_function_service_endpoint_and_invoker_target(stack_json):
    graph = StackGraph(StackJson(stack_json["prod"]))
    ep = graph.endpoint(
        "${google_cloudfunctions2_function.pipeline_canary__function.service_config[0].uri}")
    assert ep.target is not None
    assert ep.target.target == Target("function.service", "pipeline-canary")
    assert ep.path == "/"
    entry = next(e for e in graph.iam
                 if e.address.endswith("pipeline_canary__invoker_pipeline_canary_job_identity"))
    assert entry.target is not None
    assert entry.target.address == "google_cloudfunctions2_function.pipeline_canary__function"
