"""Every manifest validation rejects a bad manifest with the field, the value and the fix."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from infra.model.envs import Scaling, get_env
from infra.model.manifest import Manifest, ManifestError, Processor, Topic
from infra.model.pipeline import PIPELINE, load


def swap(items: tuple[Any, ...], attr: str, value: str, /, **changes: Any) -> tuple[Any, ...]:
    """Replace the item whose ``attr`` equals ``value`` with a modified copy."""
    assert any(getattr(i, attr) == value for i in items), f"no item {attr}={value}"
    return tuple(replace(i, **changes) if getattr(i, attr) == value else i for i in items)


def test_the_pipeline_is_valid() -> None:
    m = load()
    assert m.enabled_processors(2) == (
        "p2_bigdataball_pbp", "p2_nbacom_boxscores", "p2_nbacom_gamebook_pdf",
        "p2_odds_game_lines", "p2_odds_player_props",
    )
    assert len(m.enabled_processors(3)) == 5
    assert "p2_bdl_box_scores" in {p.name for p in m.processors}


BAD: list[tuple[str, Manifest, str]] = [
    ("unknown processor in trigger map",
     replace(PIPELINE, trigger_map={**PIPELINE.trigger_map, "nbac_schedule": ("no_such_proc",)}),
     "trigger_map['nbac_schedule']: invalid value 'no_such_proc'"),
    ("phase 2 processor in trigger map",
     replace(PIPELINE, trigger_map={"nbac_schedule": ("p2_odds_game_lines",)}),
     "declared Phase 3 processors"),
    ("topic nobody subscribes to",
     replace(PIPELINE, topics=(*PIPELINE.topics, Topic("phase9-orphan"))),
     "topics[5].key: invalid value 'phase9-orphan'; nobody subscribes"),
    ("removed topic re-declared",
     replace(PIPELINE, topics=(*PIPELINE.topics, Topic("phase3-trigger"))),
     "it is listed in removed"),
    ("gated transition without a function",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase3-to-phase4",
                                        function=None)),
     "transitions[2].function: invalid value None; a gated transition needs a function"),
    ("gated transition with an unknown function",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase3-to-phase4",
                                        function="ghost")),
     "transitions[2].function: invalid value 'ghost'"),
    ("direct transition with a function",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase2-to-phase3",
                                        function="phase3-to-phase4-orchestrator")),
     "a direct transition has no function"),
    ("unknown transition kind",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase2-to-phase3",
                                        kind="sideways")),
     "transitions[1].kind: invalid value 'sideways'"),
    ("transition to an unknown route",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase2-to-phase3",
                                        path="/nope")),
     "transitions[1].path: invalid value '/nope'"),
    ("duplicate processor names",
     replace(PIPELINE, processors=(*PIPELINE.processors, Processor("player_game_summary", 3))),
     "processors[].name: duplicate names ['player_game_summary']"),
    ("duplicate subscriptions",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase1-to-phase2",
                                        subscription="phase3-analytics-sub")),
     "transitions[].subscription: duplicate names ['phase3-analytics-sub']"),
    ("duplicate component keys",
     replace(PIPELINE, functions=swap(PIPELINE.functions, "key", "pipeline-canary",
                                      key="prediction-worker")),
     "duplicate names ['prediction-worker']"),
    ("invalid cron",
     replace(PIPELINE, jobs=swap(PIPELINE.jobs, "key", "same-day-phase3", schedule="30 25 * * *")),
     "jobs[0].schedule: invalid value '30 25 * * *'; a 5-field unix cron"),
    ("six-field cron",
     replace(PIPELINE, jobs=swap(PIPELINE.jobs, "key", "same-day-phase3",
                                 schedule="0 30 10 * * *")),
     "jobs[0].schedule: invalid value '0 30 10 * * *'"),
    ("invalid time zone",
     replace(PIPELINE, jobs=swap(PIPELINE.jobs, "key", "same-day-phase3",
                                 time_zone="America/Nowhere")),
     "jobs[0].time_zone: invalid value 'America/Nowhere'; an IANA time zone"),
    ("job to an unknown target",
     replace(PIPELINE, jobs=swap(PIPELINE.jobs, "key", "same-day-phase3", target="ghost")),
     "jobs[0].target: invalid value 'ghost'"),
    ("job to a cloudevent function",
     replace(PIPELINE, jobs=swap(PIPELINE.jobs, "key", "pipeline-canary",
                                 target="phase3-to-phase4-orchestrator")),
     "a scheduler calls HTTP functions only"),
    ("processor in an unknown phase",
     replace(PIPELINE, processors=(*PIPELINE.processors, Processor("p9_thing", 9))),
     "processors[13].phase: invalid value 9"),
    ("service publishing to an unknown topic",
     replace(PIPELINE, services=swap(PIPELINE.services, "key", "phase1-scrapers",
                                     publishes=("nope",))),
     "services[0].publishes: invalid value 'nope'"),
    ("function timeout beyond 540 s",
     replace(PIPELINE, functions=swap(PIPELINE.functions, "key", "phase3-to-phase4-orchestrator",
                                      timeout_seconds=900)),
     "functions[0].timeout_seconds: invalid value 900; 1..540"),
    ("orchestrator publishing beyond its trigger topic",
     replace(PIPELINE, functions=swap(PIPELINE.functions, "key", "phase3-to-phase4-orchestrator",
                                      publishes=("phase4-trigger", "phase2-raw-complete"))),
     "exactly ('phase4-trigger',)"),
    ("identity short too long",
     replace(PIPELINE, services=swap(PIPELINE.services, "key", "phase1-scrapers",
                                     short="a-very-long-short-name")),
     "services[0].short: invalid value 'a-very-long-short-name'"),
    ("table in an unknown dataset",
     replace(PIPELINE, tables=(*PIPELINE.tables,
                               replace(PIPELINE.tables[0], dataset="nowhere"))),
     "tables[4].dataset: invalid value 'nowhere'"),
    ("alert on an unknown component",
     replace(PIPELINE, alerts=(*PIPELINE.alerts, replace(PIPELINE.alerts[0], component="ghost"))),
     "alerts[3].component: invalid value 'ghost'"),
    ("gated phase with every processor disabled",
     replace(PIPELINE, processors=tuple(replace(p, enabled=False) if p.phase == 3 else p
                                        for p in PIPELINE.processors)),
     "a phase with at least one enabled processor"),
    ("bad phase id",
     replace(PIPELINE, phases=swap(PIPELINE.phases, "number", 2, id="raw")),
     "phases[1].id: invalid value 'raw'; expected phase_<n>_<name>"),
    ("duplicate phase numbers",
     replace(PIPELINE, phases=(*PIPELINE.phases, replace(PIPELINE.phases[0], id="phase_1_again"))),
     "phases[].number: duplicate names ['1']"),
    ("phase writing an undeclared dataset",
     replace(PIPELINE, phases=swap(PIPELINE.phases, "number", 2, dataset="nowhere")),
     "phases[1].dataset: invalid value 'nowhere'"),
    ("processor name not snake_case",
     replace(PIPELINE, processors=(*PIPELINE.processors, Processor("PlayerThing", 3))),
     "processors[13].name: invalid value 'PlayerThing'; use snake_case"),
    ("service route without a slash",
     replace(PIPELINE, services=swap(PIPELINE.services, "key", "phase1-scrapers",
                                     routes=("scrape",))),
     "services[0].routes: invalid value 'scrape'; routes start with /"),
    ("service invoking an unknown service",
     replace(PIPELINE, services=swap(PIPELINE.services, "key", "prediction-coordinator",
                                     invokes=("ghost",))),
     "services[4].invokes: invalid value 'ghost'"),
    ("service invoking itself",
     replace(PIPELINE, services=swap(PIPELINE.services, "key", "prediction-coordinator",
                                     invokes=("prediction-coordinator",))),
     "services[4].invokes: invalid value 'prediction-coordinator'"),
    ("removed component re-declared",
     replace(PIPELINE, functions=swap(PIPELINE.functions, "key", "pipeline-canary",
                                      key="phase2-to-phase3-orchestrator")),
     "functions[1].key: invalid value 'phase2-to-phase3-orchestrator'; it is listed in removed"),
    ("removed service re-declared",
     replace(PIPELINE, removed=(*PIPELINE.removed, "phase1-scrapers")),
     "services[0].key: invalid value 'phase1-scrapers'; it is listed in removed"),
    ("function source not a folder name",
     replace(PIPELINE, functions=swap(PIPELINE.functions, "key", "pipeline-canary",
                                      source="../etc")),
     "functions[1].source: invalid value '../etc'"),
    ("entry point not a Python name",
     replace(PIPELINE, functions=swap(PIPELINE.functions, "key", "pipeline-canary",
                                      entry_point="check-health")),
     "functions[1].entry_point: invalid value 'check-health'"),
    ("cloudevent function without a trigger topic",
     replace(PIPELINE, functions=swap(PIPELINE.functions, "key", "pipeline-canary",
                                      signature="cloudevent")),
     "functions[1].trigger_topic: invalid value None; cloudevent functions need a trigger topic"),
    ("function triggered by an unknown topic",
     replace(PIPELINE, functions=swap(PIPELINE.functions, "key", "phase3-to-phase4-orchestrator",
                                      trigger_topic="ghost")),
     "functions[0].trigger_topic: invalid value 'ghost'"),
    ("function publishing to an unknown topic",
     replace(PIPELINE, functions=swap(PIPELINE.functions, "key", "pipeline-canary",
                                      publishes=("ghost",))),
     "functions[1].publishes: invalid value 'ghost'"),
    ("odd function memory",
     replace(PIPELINE, functions=swap(PIPELINE.functions, "key", "pipeline-canary",
                                      memory_mb=300)),
     "functions[1].memory_mb: invalid value 300"),
    ("gated transition on a non-orchestrator function",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase3-to-phase4",
                                        function="pipeline-canary")),
     "transitions[2].function: invalid value 'pipeline-canary'; an orchestrator function"),
    ("gated transition without a trigger topic",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase3-to-phase4",
                                        trigger_topic=None)),
     "transitions[2].trigger_topic: invalid value None"),
    ("gated transition without a completion collection",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase3-to-phase4",
                                        completion_collection=None)),
     "transitions[2].completion_collection: invalid value None"),
    ("stall threshold out of range",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase3-to-phase4",
                                        stall_minutes=1)),
     "transitions[2].stall_minutes: invalid value 1; 5..1440"),
    ("transition from an unknown phase",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase1-to-phase2",
                                        source=7)),
     "transitions[0].source: invalid value 7"),
    ("transition on an unknown topic",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase1-to-phase2",
                                        topic="ghost")),
     "transitions[0].topic: invalid value 'ghost'"),
    ("transition to an unknown service",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase1-to-phase2",
                                        target_service="ghost")),
     "transitions[0].target_service: invalid value 'ghost'"),
    ("ack deadline beyond Pub/Sub's limit",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase1-to-phase2",
                                        ack_deadline_seconds=900)),
     "transitions[0].ack_deadline_seconds: invalid value 900; 10..600"),
    ("too few delivery attempts",
     replace(PIPELINE, transitions=swap(PIPELINE.transitions, "key", "phase1-to-phase2",
                                        max_delivery_attempts=2)),
     "transitions[0].max_delivery_attempts: invalid value 2; 5..100"),
    ("job path that is not a route of its target",
     replace(PIPELINE, jobs=swap(PIPELINE.jobs, "key", "same-day-phase3", path="/process-all")),
     "jobs[0].path: invalid value '/process-all'"),
    ("trigger map key not a table name",
     replace(PIPELINE, trigger_map={"Bad-Table": ("player_game_summary",)}),
     "trigger_map: invalid value 'Bad-Table'; keys are the output tables"),
    ("empty trigger map entry",
     replace(PIPELINE, trigger_map={"nbac_schedule": ()}),
     "trigger_map['nbac_schedule']: invalid value ()"),
    ("dataset key not snake_case",
     replace(PIPELINE, datasets=swap(PIPELINE.datasets, "key", "reference", key="Reference")),
     "datasets[5].key: invalid value 'Reference'"),
    ("table name not snake_case",
     replace(PIPELINE, tables=swap(PIPELINE.tables, "name", "phase_execution_log",
                                   name="Phase-Log")),
     "tables[1].name: invalid value 'Phase-Log'"),
    ("duplicate tables",
     replace(PIPELINE, tables=(*PIPELINE.tables, PIPELINE.tables[0])),
     "tables[] (dataset.name): duplicate names ['orchestration.phase_completions']"),
    ("output table not snake_case",
     replace(PIPELINE, processors=swap(PIPELINE.processors, "name", "p2_odds_game_lines",
                                       output_tables=("Odds-Lines",))),
     "processors[1].output_tables: invalid value 'Odds-Lines'"),
    ("TTL below a day",
     replace(PIPELINE, completion_ttl_days=0),
     "completion_ttl_days: invalid value 0; at least 1"),
    ("bad topic key",
     replace(PIPELINE, topics=swap(PIPELINE.topics, "key", "phase4-trigger", key="Phase4_Trigger")),
     "topics[3].key: invalid value 'Phase4_Trigger'"),
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
    prod = get_env("prod")
    images = {k: v for k, v in prod.images.items() if k != "prediction-worker"}
    with pytest.raises(ManifestError, match=r"envs\[prod\].images: no image for services "
                                            r"\['prediction-worker'\]"):
        replace(prod, images=images).validate(load())


@pytest.mark.parametrize("changes,expected", [
    ({"project_id": "Bad_Project"}, "envs[dev].project_id: invalid value 'Bad_Project'"),
    ({"sport": "basketball"}, "envs[dev].sport: invalid value 'basketball'"),
    ({"scaling": {"phase1-scrapers": Scaling(3, 1)}}, "invalid bounds 3..1"),
    ({"scaling": {"ghost": Scaling()}}, "scaling: unknown service key 'ghost'"),
])
def test_bad_env_config_is_rejected(changes: dict[str, Any], expected: str) -> None:
    with pytest.raises(ManifestError) as err:
        replace(get_env("dev"), **changes).validate(load())
    assert expected in str(err.value)


def test_unknown_environment_lists_known_ones() -> None:
    with pytest.raises(ManifestError, match=r"^env: unknown environment 'staging'; known: dev, prod$"):
        get_env("staging")


@pytest.mark.parametrize("lookup", ["service", "function"])
def test_an_undeclared_component_is_a_clear_key_error(lookup: str) -> None:
    manifest = load()
    with pytest.raises(KeyError, match=rf"{lookup} 'nba-phase3-analytcs' is not declared"):
        getattr(manifest, lookup)("nba-phase3-analytcs")
