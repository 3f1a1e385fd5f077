"""Every manifest validation rejects a bad manifest with the field, the value and the fix."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from infra.model.components import ManifestError, Processor, Topic
from infra.model.envs import ENVS, STACK_ENV, Scaling, get_env
from infra.model.manifest import Manifest
from infra.model.pipeline import PIPELINE, load


def swap(items: tuple[Any, ...], attr: str, value: str, /, **changes: Any) -> tuple[Any, ...]:
    """Replace the item whose ``attr`` equals ``value`` with a modified copy."""
    assert any(getattr(i, attr) == value for i in items), f"no item {attr}={value}"
    return tuple(replace(i, **changes) if getattr(i, attr) == value else i for i in items)


# How each collection's items are named in the cases below.
ITEM_KEY = {"phases": "number", "processors": "name", "tables": "name"}


def edited(collection: str, key: Any, changes: dict[str, Any]) -> Manifest:
    """The pipeline with the item ``key`` of ``collection`` changed."""
    items = getattr(PIPELINE, collection)
    return replace(PIPELINE, **{collection: swap(items, ITEM_KEY.get(collection, "key"), key,
                                                 **changes)})


def added(collection: str, item: Any) -> Manifest:
    """The pipeline with ``item`` appended to ``collection``."""
    return replace(PIPELINE, **{collection: (*getattr(PIPELINE, collection), item)})


def test_the_pipeline_is_valid() -> None:
    m = load()
    assert m.enabled_processors(2) == (
        "p2_bigdataball_pbp", "p2_nbacom_boxscores", "p2_nbacom_gamebook_pdf",
        "p2_odds_game_lines", "p2_odds_player_props",
    )
    assert set(m.enabled_processors(3)) == {p.name for p in m.processors
                                            if p.phase == 3 and p.enabled}
    assert "p2_bdl_box_scores" in {p.name for p in m.processors}


# One item of a collection changed: (case, the item's key, changes, expected error).
EDITED: dict[str, list[tuple[str, Any, dict[str, Any], str]]] = {
    "transitions": [
        ("gated transition without a function", "phase3-to-phase4", {"function": None},
         "transitions[2].function: invalid value None; a gated transition needs a function"),
        ("gated transition with an unknown function", "phase3-to-phase4", {"function": "ghost"},
         "transitions[2].function: invalid value 'ghost'"),
        ("direct transition with a function",
         "phase2-to-phase3", {"function": "phase3-to-phase4-orchestrator"},
         "a direct transition has no function"),
        ("unknown transition kind", "phase2-to-phase3", {"kind": "sideways"},
         "transitions[1].kind: invalid value 'sideways'"),
        ("transition to an unknown route", "phase2-to-phase3", {"path": "/nope"},
         "transitions[1].path: invalid value '/nope'"),
        ("duplicate subscriptions", "phase1-to-phase2", {"subscription": "phase3-analytics-sub"},
         "transitions[].subscription: duplicate names ['phase3-analytics-sub']"),
        ("gated transition on a non-orchestrator function",
         "phase3-to-phase4", {"function": "pipeline-canary"},
         "transitions[2].function: invalid value 'pipeline-canary'; an orchestrator function"),
        ("gated transition without a trigger topic", "phase3-to-phase4", {"trigger_topic": None},
         "transitions[2].trigger_topic: invalid value None"),
        ("gated transition without a completion collection",
         "phase3-to-phase4", {"completion_collection": None},
         "transitions[2].completion_collection: invalid value None"),
        ("stall threshold out of range", "phase3-to-phase4", {"stall_minutes": 1},
         "transitions[2].stall_minutes: invalid value 1; 5..1440"),
        ("transition from an unknown phase", "phase1-to-phase2", {"source": 7},
         "transitions[0].source: invalid value 7"),
        ("transition on an unknown topic", "phase1-to-phase2", {"topic": "ghost"},
         "transitions[0].topic: invalid value 'ghost'"),
        ("transition to an unknown service", "phase1-to-phase2", {"target_service": "ghost"},
         "transitions[0].target_service: invalid value 'ghost'"),
        ("ack deadline beyond Pub/Sub's limit", "phase1-to-phase2", {"ack_deadline_seconds": 900},
         "transitions[0].ack_deadline_seconds: invalid value 900; 10..600"),
        ("too few delivery attempts", "phase1-to-phase2", {"max_delivery_attempts": 2},
         "transitions[0].max_delivery_attempts: invalid value 2; 5..100"),
    ],
    "functions": [
        ("duplicate component keys", "pipeline-canary", {"key": "prediction-worker"},
         "duplicate names ['prediction-worker']"),
        ("function timeout beyond 540 s", "phase3-to-phase4-orchestrator", {"timeout_seconds": 900},
         "functions[0].timeout_seconds: invalid value 900; 1..540"),
        ("orchestrator publishing beyond its trigger topic",
         "phase3-to-phase4-orchestrator", {"publishes": ("phase4-trigger", "phase2-raw-complete")},
         "exactly ('phase4-trigger',)"),
        ("removed component re-declared", "pipeline-canary", {"key": "phase2-to-phase3-orchestrator"},
         "functions[1].key: invalid value 'phase2-to-phase3-orchestrator'; it is listed in removed"),
        ("function source not a folder name", "pipeline-canary", {"source": "../etc"},
         "functions[1].source: invalid value '../etc'"),
        ("entry point not a Python name", "pipeline-canary", {"entry_point": "check-health"},
         "functions[1].entry_point: invalid value 'check-health'"),
        ("cloudevent function without a trigger topic", "pipeline-canary", {"signature": "cloudevent"},
         "functions[1].trigger_topic: invalid value None; cloudevent functions need a trigger topic"),
        ("function triggered by an unknown topic",
         "phase3-to-phase4-orchestrator", {"trigger_topic": "ghost"},
         "functions[0].trigger_topic: invalid value 'ghost'"),
        ("function publishing to an unknown topic", "pipeline-canary", {"publishes": ("ghost",)},
         "functions[1].publishes: invalid value 'ghost'"),
        ("odd function memory", "pipeline-canary", {"memory_mb": 300},
         "functions[1].memory_mb: invalid value 300"),
    ],
    "jobs": [
        ("invalid cron", "same-day-phase3", {"schedule": "30 25 * * *"},
         "jobs[0].schedule: invalid value '30 25 * * *'; a 5-field unix cron"),
        ("six-field cron", "same-day-phase3", {"schedule": "0 30 10 * * *"},
         "jobs[0].schedule: invalid value '0 30 10 * * *'"),
        ("invalid time zone", "same-day-phase3", {"time_zone": "America/Nowhere"},
         "jobs[0].time_zone: invalid value 'America/Nowhere'; an IANA time zone"),
        ("job to an unknown target", "same-day-phase3", {"target": "ghost"},
         "jobs[0].target: invalid value 'ghost'"),
        ("job to a cloudevent function", "pipeline-canary", {"target": "phase3-to-phase4-orchestrator"},
         "a scheduler calls HTTP functions only"),
        ("job path that is not a route of its target", "same-day-phase3", {"path": "/process-all"},
         "jobs[0].path: invalid value '/process-all'"),
    ],
    "services": [
        ("service publishing to an unknown topic", "phase1-scrapers", {"publishes": ("nope",)},
         "services[0].publishes: invalid value 'nope'"),
        ("identity short too long", "phase1-scrapers", {"short": "a-very-long-short-name"},
         "services[0].short: invalid value 'a-very-long-short-name'"),
        ("service route without a slash", "phase1-scrapers", {"routes": ("scrape",)},
         "services[0].routes: invalid value 'scrape'; routes start with /"),
        ("service invoking an unknown service", "prediction-coordinator", {"invokes": ("ghost",)},
         "services[4].invokes: invalid value 'ghost'"),
        ("service invoking itself", "prediction-coordinator", {"invokes": ("prediction-coordinator",)},
         "services[4].invokes: invalid value 'prediction-coordinator'"),
    ],
    "phases": [
        ("bad phase id", 2, {"id": "raw"},
         "phases[1].id: invalid value 'raw'; expected phase_<n>_<name>"),
        ("phase writing an undeclared dataset", 2, {"dataset": "nowhere"},
         "phases[1].dataset: invalid value 'nowhere'"),
    ],
    "datasets": [
        ("dataset key not snake_case", "reference", {"key": "Reference"},
         "datasets[5].key: invalid value 'Reference'"),
    ],
    "tables": [
        ("table name not snake_case", "phase_execution_log", {"name": "Phase-Log"},
         "tables[1].name: invalid value 'Phase-Log'"),
    ],
    "processors": [
        ("output table not snake_case", "p2_odds_game_lines", {"output_tables": ("Odds-Lines",)},
         "processors[1].output_tables: invalid value 'Odds-Lines'"),
    ],
    "topics": [
        ("bad topic key", "phase4-trigger", {"key": "Phase4_Trigger"},
         "topics[3].key: invalid value 'Phase4_Trigger'"),
    ],
}

# An item appended to a collection: (case, collection, item, expected error).
ADDED: list[tuple[str, str, Any, str]] = [
    ("topic nobody subscribes to", "topics", Topic("phase9-orphan"),
     f"topics[{len(PIPELINE.topics)}].key: invalid value 'phase9-orphan'; nobody subscribes"),
    ("removed topic re-declared", "topics", Topic("phase3-trigger"), "it is listed in removed"),
    ("duplicate processor names", "processors", Processor("player_game_summary", 3),
     "processors[].name: duplicate names ['player_game_summary']"),
    ("processor in an unknown phase", "processors", Processor("p9_thing", 9),
     f"processors[{len(PIPELINE.processors)}].phase: invalid value 9"),
    ("table in an unknown dataset", "tables", replace(PIPELINE.tables[0], dataset="nowhere"),
     f"tables[{len(PIPELINE.tables)}].dataset: invalid value 'nowhere'"),
    ("alert on an unknown component", "alerts",
     replace(PIPELINE.alerts[0], component="ghost", display_name=None),
     f"alerts[{len(PIPELINE.alerts)}].component: invalid value 'ghost'"),
    ("duplicate phase numbers", "phases", replace(PIPELINE.phases[0], id="phase_1_again"),
     "phases[].number: duplicate names ['1']"),
    ("processor name not snake_case", "processors", Processor("PlayerThing", 3),
     f"processors[{len(PIPELINE.processors)}].name: invalid value 'PlayerThing'; use snake_case"),
    ("removed service re-declared", "removed", "phase1-scrapers",
     "services[0].key: invalid value 'phase1-scrapers'; it is listed in removed"),
    ("duplicate tables", "tables", PIPELINE.tables[0],
     "tables[] (dataset.name): duplicate names ['orchestration.phase_completions']"),
]

# A field of the manifest replaced: (case, field, value, expected error).
REPLACED: list[tuple[str, str, Any, str]] = [
    ("unknown processor in trigger map", "trigger_map",
     {**PIPELINE.trigger_map, "nbac_schedule": ("no_such_proc",)},
     "trigger_map['nbac_schedule']: invalid value 'no_such_proc'"),
    ("phase 2 processor in trigger map", "trigger_map", {"nbac_schedule": ("p2_odds_game_lines",)},
     "declared Phase 3 processors"),
    ("gated phase with every processor disabled", "processors",
     tuple(replace(p, enabled=False) if p.phase == 3 else p for p in PIPELINE.processors),
     "a phase with at least one enabled processor"),
    ("trigger map key not a table name", "trigger_map", {"Bad-Table": ("player_game_summary",)},
     "trigger_map: invalid value 'Bad-Table'; keys are the output tables"),
    ("empty trigger map entry", "trigger_map", {"nbac_schedule": ()},
     "trigger_map['nbac_schedule']: invalid value ()"),
    ("TTL below a day", "completion_ttl_days", 0,
     "completion_ttl_days: invalid value 0; at least 1"),
]

BAD: list[tuple[str, Manifest, str]] = [
    *((case, edited(collection, key, changes), expected)
      for collection, cases in EDITED.items() for case, key, changes, expected in cases),
    *((case, added(collection, item), expected) for case, collection, item, expected in ADDED),
    *((case, replace(PIPELINE, **{field: value}), expected)
      for case, field, value, expected in REPLACED),
]


@pytest.mark.parametrize("bad,expected", [(b[1], b[2]) for b in BAD], ids=[b[0] for b in BAD])
def test_bad_manifest_is_rejected_with_field_value_and_fix(bad: Manifest, expected: str) -> None:
    with pytest.raises(ManifestError) as err:
        bad.validate()
    assert expected in str(err.value)


def test_disabling_an_unknown_processor_names_it() -> None:
    with pytest.raises(ManifestError, match="processors: invalid value 'ghost'"):
        load().with_processor_enabled("ghost", False)


def test_env_config_must_cover_every_service() -> None:
    """Without a registry, each service needs an explicit image."""
    prod = get_env("prod")
    images = {s.key: prod.image_for(s.key) for s in load().services
              if s.key != "prediction-worker"}
    with pytest.raises(ManifestError, match=r"envs\[prod\].images: no image for services "
                                            r"\['prediction-worker'\]"):
        replace(prod, images=images, image_registry="").validate(load())


def test_a_new_service_takes_its_image_from_the_registry_convention() -> None:
    """Adding a service to the manifest needs no edit of the env config."""
    prod = get_env("prod")
    assert prod.image_for("phase9-new-service") == f"{prod.image_registry}/phase9-new-service:stable"
    pinned = replace(prod, images={"prediction-worker": "r.example/p/worker:v1"})
    assert pinned.image_for("prediction-worker") == "r.example/p/worker:v1"
    with pytest.raises(ManifestError, match=r"envs\[prod\].image_tag: invalid value 'Dev Build'"):
        replace(prod, image_tag="Dev Build").validate(load())


@pytest.mark.parametrize("changes,expected", [
    ({"project_id": "Bad_Project"}, "envs[dev].project_id: invalid value 'Bad_Project'"),
    ({"sport": "basketball"}, "envs[dev].sport: invalid value 'basketball'"),
    ({"scaling": {"phase1-scrapers": Scaling(3, 1)}},
     "envs[dev].scaling[phase1-scrapers].min_instances: invalid value 3"),
    ({"scaling": {"ghost": Scaling()}}, "scaling: unknown service key 'ghost'"),
    ({"service_env": {"ghost": {"A": "1"}}}, "service_env: unknown service key 'ghost'"),
    ({"service_env": {"phase1-scrapers": {"lower": "1"}}},
     "service_env[phase1-scrapers]: invalid name 'lower'"),
    ({"service_env": {"phase1-scrapers": {"SPORT": "mlb"}}},
     "service_env[phase1-scrapers]: invalid name 'SPORT'"),
    ({"service_env": {"phase1-scrapers": {"TOPIC_X": "t"}}},
     "service_env[phase1-scrapers]: invalid name 'TOPIC_X'"),
])
def test_bad_env_config_is_rejected(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ManifestError) as err:
        replace(get_env("dev"), **changes).validate(load())
    assert expected in str(err.value)


def test_unknown_environment_lists_known_ones() -> None:
    known = ", ".join(sorted(ENVS))
    with pytest.raises(ManifestError) as err:
        get_env("Not-An-Env")
    assert str(err.value) == f"env: unknown environment 'Not-An-Env'; known: {known}"


@pytest.mark.parametrize("name", ["Not-An-Env", "no_such env", "Prod", "x", "abcdefghijk",
                                  "9lives", "dev-2", ""])
def test_an_env_name_outside_the_rule_is_refused_on_construction(name: str) -> None:
    """Tests use such names as the unknown environment: none can ever be added."""
    with pytest.raises(ManifestError, match=r"\.name: invalid name .*2-10 lowercase letters"):
        replace(get_env("dev"), name=name)


@pytest.mark.parametrize("name", ["qa", "staging", "dev2", "abcdefghij"])
def test_an_env_name_inside_the_rule_is_accepted(name: str) -> None:
    assert replace(get_env("dev"), name=name).name == name


@pytest.mark.parametrize(("changes", "expected"), [
    ({"ci_planner_variable": "gcp_plan"}, "ci_planner_variable: invalid value 'gcp_plan'"),
    ({"ci_planner_variable": "GITHUB_TOKEN"}, "ci_planner_variable: invalid value"),
    ({"ci_deployer_variable": "GCP_PLAN_SERVICE_ACCOUNT_DEV"},
     "ci_deployer_variable: the planner's variable"),
])
def test_ci_identities_are_distinct_variable_names(changes: dict[str, Any],
                                                    expected: str) -> None:
    with pytest.raises(ManifestError, match=expected):
        replace(get_env("dev"), **changes)


def test_every_env_has_its_own_planner_and_only_prod_a_deployer() -> None:
    planners = [env.ci_planner_variable for env in ENVS.values()]
    assert len(set(planners)) == len(planners)
    assert {name for name, env in ENVS.items() if env.ci_deployer_variable} == {"prod"}
    assert all(name == env.name for name, env in ENVS.items())


@pytest.mark.parametrize("lookup", ["service", "function"])
def test_an_undeclared_component_is_a_clear_key_error(lookup: str) -> None:
    manifest = load()
    with pytest.raises(KeyError, match=rf"{lookup} 'nba-phase3-analytcs' is not declared"):
        getattr(manifest, lookup)("nba-phase3-analytcs")


def test_a_services_env_is_the_stacks_own_then_its_topics_then_its_declared_extras():
    env = replace(get_env("prod"), service_env={"phase1-scrapers": {"B": "2", "A": "1"}})
    got = env.service_vars("phase1-scrapers", {"phase1-complete": "nba-phase1-complete"})
    assert got == (("GCP_PROJECT", "nba-props-platform"), ("SPORT", "nba"),
                   ("TOPIC_PHASE1_COMPLETE", "nba-phase1-complete"), ("A", "1"), ("B", "2"))
    assert tuple(k for k, _ in got[:len(STACK_ENV)]) == STACK_ENV
