"""The nba-props-platform pipeline, declared once.

This is the only place the topology, the processors and the schedules are written down.
See ``infra/model/manifest.py`` for what each field means and the rules checked on load.
"""

from __future__ import annotations

import json
from functools import cache

from infra.model.components import (
    AlertPolicy,
    Bucket,
    Dataset,
    Function,
    Phase,
    Processor,
    ScheduledJob,
    Service,
    Table,
    Topic,
    Transition,
)
from infra.model.envs import ENVS
from infra.model.manifest import Manifest


def _backfill_body(start_date: str) -> str:
    return json.dumps(
        {
            "start_date": start_date,
            "processors": ["UpcomingPlayerGameContextProcessor"],
            "backfill_mode": True,
        }
    )


PIPELINE = Manifest(
    phases=(
        Phase(1, "phase_1_scrapers", "Scrapers (GCS raw files)"),
        Phase(2, "phase_2_raw", "Raw processors", dataset="raw"),
        Phase(3, "phase_3_analytics", "Analytics processors", dataset="analytics"),
        Phase(4, "phase_4_precompute", "Precompute processors", dataset="precompute"),
        Phase(5, "phase_5_predictions", "Predictions", dataset="predictions"),
    ),
    processors=(
        # output_tables: what each Phase 2 processor names in its completions (the trigger map's
        # keys). The seeds name the tables and the five expected processors but never say
        # which processor writes which table: every pairing here is inferred.
        Processor("p2_bigdataball_pbp", 2, output_tables=("bigdataball_play_by_play",)),
        Processor("p2_odds_game_lines", 2, output_tables=("odds_api_game_lines",)),
        Processor("p2_odds_player_props", 2, output_tables=("odds_api_player_points_props",)),
        Processor("p2_nbacom_gamebook_pdf", 2, output_tables=("nbac_gamebook_player_stats",)),
        Processor("p2_nbacom_boxscores", 2,
                  output_tables=("nbac_scoreboard_v2", "nbac_team_boxscore"),
                  inferred="writes nbac_team_boxscore (the seeds name the table, not its writer)"),
        Processor("p2_bdl_box_scores", 2, enabled=False, note="BDL scrapers are off",
                  output_tables=("bdl_player_boxscores",)),
        # The trigger map reads these two tables, but the seeds count exactly five expected
        # Phase 2 processors: their writers run and publish, and no gate waits for them.
        Processor("p2_nbacom_schedule", 2, output_tables=("nbac_schedule",), gated=False,
                  inferred="the seeds name the table nbac_schedule, not its processor"),
        Processor("p2_nbacom_injury_report", 2, output_tables=("nbac_injury_report",),
                  gated=False,
                  inferred="the seeds name the table nbac_injury_report, not its processor"),
        Processor("player_game_summary", 3),
        Processor("team_offense_game_summary", 3),
        Processor("team_defense_game_summary", 3),
        Processor("upcoming_player_game_context", 3),
        Processor("upcoming_team_game_context", 3),
    ),
    # What each service reads and writes is what its runtime identity is granted (and all it
    # is granted): the raw files in GCS, the previous phase's dataset (read), its own (write),
    # and BigQuery jobs for every processor that queries.
    services=(
        Service("phase1-scrapers", 1, "p1-scrapers", routes=("/scrape",),
                publishes=("phase1-scrapers-complete",), writes_buckets=("raw",),
                description="Scrapers to GCS"),
        Service("phase2-raw-processors", 2, "p2-raw", routes=("/process",),
                publishes=("phase2-raw-complete",), reads_buckets=("raw",), writes=("raw",),
                runs_queries=True, description="GCS → nba_raw"),
        Service("phase3-analytics-processors", 3, "p3-analytics",
                routes=("/process", "/process-date-range"),
                publishes=("phase3-analytics-complete",), reads=("raw",), writes=("analytics",),
                runs_queries=True, timeout_seconds=540, description="nba_raw → nba_analytics"),
        Service("phase4-precompute-processors", 4, "p4-precompute", routes=("/process",),
                publishes=("phase4-precompute-complete",), reads=("analytics",),
                writes=("precompute",), runs_queries=True,
                description="nba_analytics → nba_precompute"),
        Service("prediction-coordinator", 5, "p5-coordinator", routes=("/start",),
                invokes=("prediction-worker",), cloud_name="prediction-coordinator",
                reads=("precompute",), writes=("predictions",), runs_queries=True,
                description="Fans out prediction work"),
        Service("prediction-worker", 5, "p5-worker", routes=("/predict",),
                cloud_name="prediction-worker", reads=("precompute",), writes=("predictions",),
                runs_queries=True, description="Writes nba_predictions"),
    ),
    functions=(
        Function(
            "phase3-to-phase4-orchestrator",
            source="phase3_to_phase4",
            entry_point="handle_phase3_completion",
            role="orchestrator",
            short="orch-p3p4",
            trigger_topic="phase3-analytics-complete",
            publishes=("phase4-trigger",),
            timeout_seconds=540,
            memory_mb=512,
            cloud_name="phase3-to-phase4-orchestrator",
            description="Gates Phase 4 on all enabled Phase 3 processors",
        ),
        Function(
            "pipeline-canary",
            source="pipeline_canary",
            entry_point="check_pipeline_health",
            role="canary",
            short="canary",
            signature="http",
            timeout_seconds=120,
            memory_mb=256,
            max_instances=1,
            cloud_name="pipeline-canary",
            description="Reports stalls, drift and stale tracking",
        ),
    ),
    topics=(
        Topic("phase1-scrapers-complete", "Scraper runs finished"),
        Topic("phase2-raw-complete", "A Phase 2 processor wrote nba_raw"),
        Topic("phase3-analytics-complete", "A Phase 3 processor wrote nba_analytics"),
        Topic("phase4-trigger", "All enabled Phase 3 processors complete for a date"),
        Topic("phase4-precompute-complete", "A Phase 4 processor wrote nba_precompute"),
    ),
    transitions=(
        Transition("phase1-to-phase2", "direct", 1, 2, topic="phase1-scrapers-complete",
                   subscription="phase2-raw-sub", target_service="phase2-raw-processors"),
        Transition("phase2-to-phase3", "direct", 2, 3, topic="phase2-raw-complete",
                   subscription="phase3-analytics-sub",
                   target_service="phase3-analytics-processors"),
        Transition("phase3-to-phase4", "gated", 3, 4, topic="phase3-analytics-complete",
                   subscription="phase4-precompute-sub",
                   target_service="phase4-precompute-processors",
                   function="phase3-to-phase4-orchestrator", trigger_topic="phase4-trigger",
                   completion_collection="phase3_completion", stall_minutes=30),
        Transition("phase4-to-phase5", "direct", 4, 5, topic="phase4-precompute-complete",
                   subscription="phase5-predictions-sub", target_service="prediction-coordinator",
                   path="/start"),
    ),
    # Jobs keep the names they run under in the live project (see the seeds): a job's name
    # forces replacement, and a second job under a new name would fire every run twice.
    jobs=(
        ScheduledJob("same-day-phase3", "30 10 * * *", "phase3-analytics-processors",
                     short="sd-p3", path="/process-date-range", body=_backfill_body("TODAY"),
                     description="Backup trigger for today's Phase 3 context",
                     cloud_name="same-day-phase3"),
        ScheduledJob("same-day-phase3-tomorrow", "0 17 * * *", "phase3-analytics-processors",
                     short="sd-p3-tmrw", path="/process-date-range",
                     body=_backfill_body("TOMORROW"),
                     description="Backup trigger for tomorrow's Phase 3 context",
                     cloud_name="same-day-phase3-tomorrow"),
        ScheduledJob("pipeline-canary", "*/15 * * * *", "pipeline-canary", short="canary-job",
                     http_method="GET", description="Pipeline health every 15 minutes",
                     cloud_name="pipeline-canary-queries"),
    ),
    datasets=(
        Dataset("raw", "Phase 2 raw tables"),
        Dataset("analytics", "Phase 3 analytics tables"),
        Dataset("precompute", "Phase 4 precompute tables"),
        Dataset("predictions", "Phase 5 predictions"),
        Dataset("orchestration", "Completion and execution tracking"),
        Dataset("reference", "Processor run history"),
    ),
    tables=(
        Table("orchestration", "phase_completions", partition_field="game_date",
              description="One row per completion and per trigger (orchestrator dual write)"),
        Table("orchestration", "phase_execution_log", partition_field="game_date"),
        Table("orchestration", "scraper_execution_log", partition_field="game_date"),
        Table("reference", "processor_run_history", partition_field="data_date"),
    ),
    alerts=(
        # The live policies' display names (seed 004, "Active Alert Policies"), so adoption
        # imports them instead of creating a second policy beside each.
        AlertPolicy("phase3-to-phase4-orchestrator",
                    display_name="Phase 3 Orchestrator High Error Rate"),
        AlertPolicy("phase3-analytics-processors",
                    display_name="Phase 3 Analytics Processors High Error Rate"),
        AlertPolicy("pipeline-canary"),
    ),
    trigger_map={
        "nbac_gamebook_player_stats": (
            "team_offense_game_summary", "team_defense_game_summary", "player_game_summary",
        ),
        "nbac_scoreboard_v2": (
            "team_offense_game_summary", "team_defense_game_summary",
            "upcoming_team_game_context",
        ),
        "nbac_team_boxscore": ("team_defense_game_summary", "team_offense_game_summary"),
        "nbac_schedule": ("upcoming_team_game_context",),
        "nbac_injury_report": ("player_game_summary",),
        "odds_api_player_points_props": ("upcoming_player_game_context",),
    },
    removed=("phase2-to-phase3-orchestrator", "phase3-trigger"),
    buckets=(Bucket("raw", "Scraped raw files (Phase 1 writes, Phase 2 reads)"),),
)


@cache
def load() -> Manifest:
    """The validated pipeline manifest, checked against every environment's config."""
    manifest = PIPELINE.validate()
    for env in ENVS.values():
        env.validate(manifest)
    return manifest
