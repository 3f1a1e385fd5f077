"""The wiring model: each edge, trigger, job and grant of one environment, decided once."""

from __future__ import annotations

import typing
from collections import Counter
from dataclasses import replace

import pytest

from infra.model import permissions, wiring
from infra.model.components import FunctionRole
from infra.model.envs import get_env
from infra.model.naming import Names
from infra.model.permissions import BUILDER_PROJECT_ROLES, Grant, Target
from infra.model.pipeline import load
from infra.model.wiring import derive

PROD = get_env("prod")


def sa(account_id: str, project: str = "nba-props-platform") -> str:
    return f"serviceAccount:{account_id}@{project}.iam.gserviceaccount.com"


@pytest.fixture(scope="module")
def prod():
    return derive(load(), PROD)


def rule_counts(m) -> dict[str, Counter]:
    """How many grants of each role each maker makes, by the rules of the module docstring,
    counted from the manifest alone."""
    edges, jobs = len(m.transitions), len(m.jobs)
    triggers = sum(1 for fn in m.functions if fn.trigger_topic is not None)
    access = [permissions.ROLE_ACCESS[fn.role] for fn in m.functions]
    svcs = m.services
    return {
        # per edge: the agent's publisher on its dead-letter topic, subscriber on the
        # subscription and token creator on the push identity; the push identity's invoker
        "push_edge": Counter({permissions.PUBLISHER: edges, permissions.SUBSCRIBER: edges,
                              permissions.TOKEN_CREATOR: edges, permissions.INVOKER: edges}),
        # per Pub/Sub trigger: the agent's token creator, the trigger identity's invoker
        "function": Counter({permissions.TOKEN_CREATOR: triggers, permissions.INVOKER: triggers}),
        "function_builder": Counter(BUILDER_PROJECT_ROLES),
        "scheduled_job": Counter({permissions.INVOKER: jobs}),
        # what each service and function does: publishes, calls, queries, reads, writes;
        # the functions' state by permissions.ROLE_ACCESS
        "stack": Counter({
            permissions.PUBLISHER: sum(len(s.publishes) for s in svcs)
            + sum(len(fn.publishes) for fn in m.functions),
            permissions.INVOKER: sum(len(s.invokes) for s in svcs),
            permissions.JOB_USER: sum(1 for s in svcs if s.runs_queries),
            permissions.DATA_VIEWER: sum(len(s.reads) for s in svcs),
            permissions.DATA_EDITOR: sum(len(s.writes) for s in svcs)
            + sum(1 for a in access if a.writes_completions),
            permissions.OBJECT_VIEWER: sum(len(s.reads_buckets) for s in svcs),
            permissions.OBJECT_USER: sum(len(s.writes_buckets) for s in svcs),
            permissions.SUBSCRIBER: sum(edges * a.reads_dead_letters
                            + len(m.gated()) * a.watches_announcements for a in access),
        }) + Counter(a.firestore_role for a in access),
    }


def test_prod_grants_by_role(prod):
    rules = rule_counts(load())
    assert len(prod.grants) == len(set(prod.grants)) == sum(
        sum(c.values()) for c in rules.values())
    assert Counter(g.role for g in prod.grants) == sum(rules.values(), Counter())


def test_who_makes_each_grant(prod):
    rules = rule_counts(load())
    for by, counts in rules.items():
        assert Counter(g.role for g in prod.grants_by(by)) == +counts, by
    assert {g.role for g in prod.grants_by("function")} == {permissions.INVOKER, permissions.TOKEN_CREATOR}
    assert {(g.role, g.target) for g in prod.grants_by("function_builder")} == {
        (r, Target("project", "nba-props-platform")) for r in BUILDER_PROJECT_ROLES}


def test_service_grants_come_from_what_the_manifest_says_they_do(prod):
    """Each service: jobUser, read on the previous phase's data, write on its own."""
    def of(account_id):
        return {(g.role, g.target) for g in prod.grants_of(sa(account_id))}

    project = Target("project", "nba-props-platform")
    assert of("nba-run-p3-analytics") == {
        (permissions.JOB_USER, project), (permissions.DATA_VIEWER, Target("bigquery.dataset", "nba_raw")),
        (permissions.DATA_EDITOR, Target("bigquery.dataset", "nba_analytics")),
        (permissions.PUBLISHER, Target("pubsub.topic", "nba-phase3-analytics-complete"))}
    raw = Target("storage.bucket", "nba-props-platform-nba-raw")
    assert (permissions.OBJECT_USER, raw) in of("nba-run-p1-scrapers")
    assert (permissions.OBJECT_VIEWER, raw) in of("nba-run-p2-raw")
    assert (permissions.OBJECT_VIEWER, raw) not in of("nba-run-p3-analytics")


def test_dropping_a_declaration_drops_its_grant():
    manifest = load()
    svc = manifest.service("phase3-analytics-processors")
    services = tuple(replace(s, runs_queries=False, reads=()) if s == svc else s
                     for s in manifest.services)
    w = derive(replace(manifest, services=services).validate(), PROD)
    roles = {g.role for g in w.grants_of(sa("nba-run-p3-analytics"))}
    assert permissions.JOB_USER not in roles and permissions.DATA_VIEWER not in roles


def test_edges_name_their_dead_letters_through_naming(prod):
    names = Names(PROD)
    for e in prod.edges:
        assert e.dead_letter_topic == names.dead_letter_topic(e.component)
        assert e.dead_letter_subscription == names.dead_letter_subscription(e.component)
        assert e.dead_letter_topic in prod.topics
    edge = prod.edge("nba-phase3-analytics-sub-dlq-sub")
    assert (edge.key, edge.topic, edge.target, edge.path, edge.member) == (
        "phase2-to-phase3", "nba-phase2-raw-complete",
        Target("run.service", "nba-phase3-analytics-processors"), "/process",
        sa("nba-push-phase2-to-phase3"))


def test_unknown_edge_names_the_declared_ones(prod):
    with pytest.raises(KeyError, match=r"subscription 'nba-x-sub' is no push edge's "
                                       r"\(edges: nba-phase2-raw-sub, "):
        prod.edge("nba-x-sub")


def test_every_function_role_has_one_access_decision():
    assert set(permissions.ROLE_ACCESS) == set(typing.get_args(FunctionRole))


def test_dead_letters_are_read_by_the_role_that_reports_them(prod):
    readers = {g.member for g in prod.grants
               if g.role == permissions.SUBSCRIBER and g.target.name.endswith("-dlq-sub")}
    assert readers == {sa("nba-fn-canary")}
    # every dead-letter subscription, and its own announcement subscription per gate
    assert len([g for g in prod.grants_of(sa("nba-fn-canary")) if g.role == permissions.SUBSCRIBER]) == \
        len(prod.edges) + len(prod.announcements)


def test_the_canary_pulls_its_own_subscription_of_each_gates_source_topic(prod):
    (feed,) = prod.announcements
    assert (feed.key, feed.subscription, feed.topic) == (
        "phase3-to-phase4", "nba-phase3-to-phase4-canary-sub", "nba-phase3-analytics-complete")
    assert feed.subscription == Names(PROD).canary_subscription("phase3-to-phase4")
    (trigger,) = prod.triggers
    assert feed.topic == trigger.topic  # what the orchestrator's trigger delivers, read apart
    readers = {g.member for g in prod.grants
               if g.target == Target("pubsub.subscription", feed.subscription)}
    assert readers == {sa("nba-fn-canary")}
    # It records what it pulled in its own collection: Firestore IAM is project-wide.
    assert (permissions.DATASTORE_USER, Target("project", "nba-props-platform")) in {
        (g.role, g.target) for g in prod.grants_of(sa("nba-fn-canary"))}


def test_no_canary_role_means_no_announcement_subscription(monkeypatch):
    changed = {**permissions.ROLE_ACCESS, "canary": replace(permissions.ROLE_ACCESS["canary"],
                                                watches_announcements=False)}
    monkeypatch.setattr(wiring, "ROLE_ACCESS", changed)
    without = derive(load(), PROD)
    assert without.announcements == ()
    assert not [g for g in without.grants if g.target.name.endswith("-canary-sub")]


def test_access_follows_the_role_not_the_function(prod, monkeypatch):
    """Deciding by role: a canary that stopped reading dead letters loses exactly those grants."""
    canary = replace(permissions.ROLE_ACCESS["canary"], reads_dead_letters=False)
    changed = {**permissions.ROLE_ACCESS, "canary": canary}
    monkeypatch.setattr(wiring, "ROLE_ACCESS", changed)
    without = derive(load(), PROD)
    monkeypatch.undo()
    lost = set(derive(load(), PROD).grants) - set(without.grants)
    assert {(g.member, g.role) for g in lost} == {(sa("nba-fn-canary"), permissions.SUBSCRIBER)}
    assert {g.target.name for g in lost} == {e.dead_letter_subscription for e in prod.edges}


def test_orchestrator_tracks_and_dual_writes(prod):
    orch = sa("nba-fn-orch-p3p4")
    assert {(g.role, g.target) for g in prod.grants_of(orch)} == {
        (permissions.PUBLISHER, Target("pubsub.topic", "nba-phase4-trigger")),
        (permissions.DATASTORE_USER, Target("project", "nba-props-platform")),
        (permissions.DATA_EDITOR, Target("bigquery.dataset", "nba_orchestration")),
    }


def test_pubsub_agent_grants_per_edge_and_trigger(prod):
    agent = prod.grants_of(permissions.PUBSUB_AGENT)
    edges, triggers = len(prod.edges), len(prod.triggers)
    assert Counter(g.role for g in agent) == {permissions.PUBLISHER: edges, permissions.SUBSCRIBER: edges,
                                              permissions.TOKEN_CREATOR: edges + triggers}
    assert Grant(permissions.PUBSUB_AGENT, permissions.TOKEN_CREATOR, Target(
        "iam.serviceAccount", "nba-trg-orch-p3p4@nba-props-platform.iam.gserviceaccount.com",
    )) in agent


def test_every_member_is_a_declared_identity(prod):
    assert {g.member for g in prod.grants} <= set(prod.identities)
    assert set(prod.slots.values()) <= set(prod.identities)


def test_jobs_and_triggers(prod):
    """One job per manifest job, in its order, under the live name and an identity of its own
    (``nba-job-<short>``), calling its target's route; e.g. the seeds' backup job."""
    manifest, names = load(), Names(PROD)
    assert [(j.key, j.path, j.schedule) for j in prod.jobs] == [
        (j.key, j.path, j.schedule) for j in manifest.jobs]
    for job, declared in zip(prod.jobs, manifest.jobs, strict=True):
        assert job.job == names.job(declared)
        assert job.member == sa(f"nba-job-{declared.short}")
        assert job.target.name in {*prod.services, *prod.functions}
    assert len({j.member for j in prod.jobs}) == len(prod.jobs)
    jobs = {j.job: j for j in prod.jobs}
    assert (jobs["same-day-phase3"].target.name, jobs["same-day-phase3"].member) == (
        "nba-phase3-analytics-processors", sa("nba-job-sd-p3"))
    [trigger] = prod.triggers
    assert (trigger.function, trigger.topic, trigger.member) == (
        "phase3-to-phase4-orchestrator", "nba-phase3-analytics-complete", sa("nba-trg-orch-p3p4"))


def test_dev_and_another_sport_name_their_own():
    dev = derive(load(), get_env("dev"))
    assert all(g.member == permissions.PUBSUB_AGENT or g.member.endswith(
        "@nba-props-platform-dev.iam.gserviceaccount.com") for g in dev.grants)
    mlb = derive(load(), replace(PROD, sport="mlb"))
    assert {e.subscription for e in mlb.edges} == {
        f"mlb-{t.subscription}" for t in load().transitions}


def test_cloud_names_and_their_keys_are_one_convention():
    from infra.model.naming import key_of, prefixed

    names = Names(PROD)
    assert names.topic("phase4-trigger") == prefixed("nba", "phase4-trigger")
    assert key_of("nba", names.subscription("phase2-raw-sub")) == "phase2-raw-sub"
    # a name the sport does not prefix (prediction-worker, eventarc subscriptions) is its key
    assert key_of("nba", "prediction-worker") == "prediction-worker"
    assert key_of("mlb", "nba-phase4-trigger") == "nba-phase4-trigger"
