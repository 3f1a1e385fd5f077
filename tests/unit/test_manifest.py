"""Every manifest validation rejects a bad manifest with the field, the value and the fix."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from infra.envs import Scaling, get_env
from infra.manifest import Manifest, ManifestError, Processor, Topic
from infra.pipeline import PIPELINE, load


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
     "processors[11].phase: invalid value 9"),
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
    with pytest.raises(ManifestError, match=r"unknown environment 'staging'; known: \['dev', 'prod'\]"):
        get_env("staging")
