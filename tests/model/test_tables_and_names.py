"""Every trigger-map key is a declared Phase 2 table; cloud names are unique per kind."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from infra.model.components import ManifestError, Processor
from infra.model.envs import ENVS, get_env
from infra.model.manifest import Manifest
from infra.model.naming import check_cloud_names
from infra.model.pipeline import PIPELINE, load


def with_key(old: str, new: str) -> Manifest:
    mapping = {(new if k == old else k): v for k, v in PIPELINE.trigger_map.items()}
    return replace(PIPELINE, trigger_map=mapping)


def test_every_trigger_map_key_is_written_by_a_declared_phase2_processor() -> None:
    manifest = load()
    writers = manifest.output_tables(2)
    assert set(manifest.trigger_map) <= set(writers)
    assert writers["nbac_team_boxscore"] == "p2_nbacom_boxscores"
    assert writers["nbac_schedule"] == "p2_nbacom_schedule"
    assert writers["nbac_injury_report"] == "p2_nbacom_injury_report"


def test_inferred_writers_are_marked_and_no_gate_waits_for_the_extra_ones() -> None:
    manifest = load()
    by_name = {p.name: p for p in manifest.processors}
    for name in ("p2_nbacom_boxscores", "p2_nbacom_schedule", "p2_nbacom_injury_report"):
        assert by_name[name].inferred, name
    # They run and publish, but no gate waits for them (the seeds' expected Phase 2 set).
    for name in ("p2_nbacom_schedule", "p2_nbacom_injury_report"):
        assert by_name[name].enabled and not by_name[name].gated
        assert name not in manifest.enabled_processors(2)


@pytest.mark.parametrize(("old", "typo"), [
    ("nbac_gamebook_player_stats", "nbac_gamebook_player_stat"),
    ("nbac_schedule", "nbac_schedules"),
    ("odds_api_player_points_props", "odds_api_player_point_props"),
    ("nbac_injury_report", "player_game_summary"),  # a Phase 3 table is no Phase 2 key
    ("nbac_team_boxscore", "bdl_box_scores"),  # a processor name is no table
])
def test_a_trigger_map_key_typo_names_the_key_and_the_declared_tables(old: str,
                                                                      typo: str) -> None:
    with pytest.raises(ManifestError) as err:
        with_key(old, typo).validate()
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"trigger_map: invalid value {typo!r}; keys are the output "
                              "tables of declared Phase 2 processors")
    assert "'nbac_gamebook_player_stats'" in message and "'nbac_schedule'" in message


def test_removing_the_writer_of_a_key_is_caught() -> None:
    procs = tuple(p for p in PIPELINE.processors if p.name != "p2_nbacom_schedule")
    with pytest.raises(ManifestError, match=r"^trigger_map: invalid value 'nbac_schedule'"):
        replace(PIPELINE, processors=procs).validate()


def test_two_writers_of_one_table_are_refused() -> None:
    extra = Processor("p2_second_schedule", 2, output_tables=("nbac_schedule",), gated=False)
    with pytest.raises(ManifestError, match=r"output tables of phase 2 processors .*"
                                            r"duplicate names \['nbac_schedule'\]"):
        replace(PIPELINE, processors=(*PIPELINE.processors, extra)).validate()


def renamed(items: tuple, which: str, **changes: object) -> tuple:
    assert any(i.key == which for i in items), which
    return tuple(replace(i, **changes) if i.key == which else i for i in items)


def position(collection: str, key: str) -> str:
    """``jobs[2]``: where the manifest declares ``key`` in ``collection``, as messages say."""
    keys = [item.key for item in getattr(PIPELINE, collection)]
    return f"{collection}[{keys.index(key)}]"


DUPLICATES = [
    ("two services",
     lambda m: replace(m, services=renamed(m.services, "prediction-worker",
                                           cloud_name="prediction-coordinator")),
     position("services", "prediction-worker"), "'prediction-coordinator'", "Cloud Run service"),
    ("a service and the default name of another",
     lambda m: replace(m, services=renamed(m.services, "prediction-worker",
                                           cloud_name="nba-phase1-scrapers")),
     position("services", "prediction-worker"), "'nba-phase1-scrapers'", "Cloud Run service"),
    ("a function and a service",
     lambda m: replace(m, functions=renamed(m.functions, "pipeline-canary",
                                            cloud_name="prediction-worker")),
     position("functions", "pipeline-canary"), "'prediction-worker'", "Cloud Run service"),
    ("a job and another job",
     lambda m: replace(m, jobs=renamed(m.jobs, "pipeline-canary", cloud_name="same-day-phase3")),
     position("jobs", "pipeline-canary"), "'same-day-phase3'", "Cloud Scheduler job"),
    ("a topic and a dead-letter topic",
     lambda m: replace(m, topics=renamed(m.topics, "phase4-trigger",
                                         key="phase2-raw-sub-dlq")),
     "dead-letter topic", "'nba-phase2-raw-sub-dlq'", "Pub/Sub topic"),
    ("a subscription and a dead-letter subscription",
     lambda m: replace(m, transitions=renamed(m.transitions, "phase4-to-phase5",
                                              subscription="phase2-raw-sub-dlq-sub")),
     "transitions[0] dead-letter subscription", "'nba-phase2-raw-sub-dlq-sub'",
     "Pub/Sub subscription"),
]


@pytest.mark.parametrize(("mutate", "where", "name", "kind"), [d[1:] for d in DUPLICATES],
                         ids=[d[0] for d in DUPLICATES])
def test_duplicate_cloud_names_are_one_line_naming_both(mutate, where, name, kind) -> None:
    # The env check alone: a renamed topic breaks other references the manifest checks first.
    with pytest.raises(ManifestError) as err:
        get_env("prod").validate(mutate(PIPELINE))
    message = str(err.value)
    assert "\n" not in message
    assert where in message and name in message and kind in message
    assert "must be unique" in message


def test_loading_checks_cloud_names_after_the_manifest(monkeypatch) -> None:
    import infra.model.pipeline as pipeline

    bad = DUPLICATES[0][1](PIPELINE)
    monkeypatch.setattr(pipeline, "PIPELINE", bad)
    pipeline.load.cache_clear()
    try:
        where = re.escape(position("services", "prediction-worker"))
        with pytest.raises(ManifestError, match=rf"^{where}: invalid value "
                                                r"'prediction-coordinator'; the Cloud Run"):
            pipeline.load()
    finally:
        pipeline.load.cache_clear()


def test_the_declared_cloud_names_are_unique_in_every_env() -> None:
    for env in ENVS.values():
        check_cloud_names(load(), env)


def test_load_checks_the_env_configs() -> None:
    assert get_env("prod").validate(load()) is get_env("prod")
