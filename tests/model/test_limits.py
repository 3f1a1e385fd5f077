"""Load refuses what Google would refuse, and the drift that passes Google but breaks the pipeline.

Each case is a realistic wrong edit built with ``dataclasses.replace`` on ``load()``'s manifest
or an ``ENVS`` config; each must be refused with one line that starts with the field path and
the value (``<path>: invalid value <value>``) and says what is accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from infra.model import limits
from infra.model.components import AlertPolicy, ManifestError, Processor, Topic
from infra.model.envs import ENVS, EnvConfig, Scaling
from infra.model.manifest import Manifest
from infra.model.naming import named_resources
from infra.model.pipeline import load

M = load()
# Positions as the manifest has them today, so adding a job or a transition edits no test.
CANARY_JOB = next(i for i, j in enumerate(M.jobs) if j.target == "pipeline-canary")
GATED = next(i for i, t in enumerate(M.transitions) if t.kind == "gated")
PROD = ENVS["prod"]


def swap(items: tuple[Any, ...], attr: str, value: Any, /, **changes: Any) -> tuple[Any, ...]:
    assert any(getattr(i, attr) == value for i in items), f"no item {attr}={value}"
    return tuple(replace(i, **changes) if getattr(i, attr) == value else i for i in items)


def edit(collection: str, which: Any, attr: str = "key", /, **changes: Any) -> Manifest:
    """The manifest with the item of ``collection`` whose ``attr`` is ``which`` changed."""
    return replace(M, **{collection: swap(getattr(M, collection), attr, which, **changes)})


def service(which: str, /, **changes: Any) -> Manifest:
    return edit("services", which, **changes)


def function(which: str, /, **changes: Any) -> Manifest:
    return edit("functions", which, **changes)


def job(which: str, /, **changes: Any) -> Manifest:
    return edit("jobs", which, **changes)


def env(**changes: Any) -> EnvConfig:
    return replace(PROD, **changes)


def one_line(check: Callable[[], object]) -> str:
    with pytest.raises(ManifestError) as err:
        check()
    message = str(err.value)
    assert "\n" not in message, message
    return message


def refused_manifest(bad: Manifest) -> str:
    """The message, whether ``validate()`` or the env checks of ``load()`` refuse ``bad``."""
    def check() -> None:
        bad.validate()
        for config in ENVS.values():
            config.validate(bad)
    return one_line(check)


def refused_env(bad: EnvConfig) -> str:
    return one_line(lambda: bad.validate(M))


def assert_names(message: str, path: str, value: object, *accepted: str) -> None:
    assert message.startswith(f"{path}: invalid value {value!r}"), message
    for text in accepted:
        assert text in message, message


# ----- the real pipeline ---------------------------------------------------------------------


def test_the_real_manifest_and_every_env_pass() -> None:
    assert M.validate() is M
    for name, config in ENVS.items():
        assert config.validate(M) is config, name
    assert limits.longest_gap_minutes((("*/15 * * * *", "America/New_York"),)) == 15


def test_every_derived_cloud_name_is_checked() -> None:
    names = {name for _, _, name, _ in named_resources(M, PROD)}
    assert {"nba-phase1-scrapers-complete", "nba-phase2-raw-sub-dlq-sub", "nba-push-phase1-to-phase2",
            "nba-fn-builder", "nba-props-platform-function-sources", "nba_raw",
            "pipeline-canary-queries", "prediction-coordinator"} <= names


# ----- Cloud Scheduler cron ------------------------------------------------------------------

CRON_REFUSED = [
    ("30 10 L * *", "day of month item 'L'"),      # croniter accepts it; Cloud Scheduler does not
    ("30 10 * * 1#2", "day of week item '1#2'"),   # likewise
    ("*/0 * * * *", "minute step '*/0'"),
    ("60 * * * *", "minute item '60' is out of range 0-59"),
    ("30 10 ? * *", "day of month item '?'"),
    ("30 10 15W * *", "day of month item '15W'"),
    ("0 30 10 * * *", "this one has 6 fields"),
    ("30 10 * *", "this one has 4 fields"),
    ("0 12-8 * * *", "hour range '12-8' runs backwards"),
    ("0 0 * 13 *", "month item '13' is out of range 1-12"),
    ("0 0 * * mon", "day of week item 'mon'"),
    ("0 5/15 * * *", "needs '*' or a range"),
    ("0 0 31 2 *", "it never runs"),
]


@pytest.mark.parametrize(("schedule", "why"), CRON_REFUSED, ids=[c[0] for c in CRON_REFUSED])
def test_a_cron_cloud_scheduler_refuses_is_refused(schedule: str, why: str) -> None:
    message = refused_manifest(job("same-day-phase3", schedule=schedule))
    accepted = "5-field unix cron" if why != "it never runs" else ""
    assert_names(message, "jobs[0].schedule", schedule, why, accepted)


@pytest.mark.parametrize("schedule", ["0 9-17 * * MON-FRI", "0 0 1 JAN,JUL *", "0 0 * * 7",
                                      "0 0-12/2 * * *", "5,35 10 1-7 * SUN"])
def test_the_documented_cron_forms_are_accepted(schedule: str) -> None:
    assert limits.cron_problem(schedule) is None
    job("same-day-phase3", schedule=schedule).validate()


# ----- regions and locations -----------------------------------------------------------------


@pytest.mark.parametrize(("field", "value", "accepted"), [
    ("region", "us-west-2", "Cloud Run / Cloud Functions region"),
    ("region", "europe-west99", "e.g. europe-central2"),
    ("region", "US", "Cloud Run / Cloud Functions region"),
    ("bigquery_location", "us", "BigQuery location"),
    ("bigquery_location", "nam5", "multi-region US or EU"),
    ("firestore_location", "US", "Firestore location"),
    ("firestore_location", "nam6", "nam5, nam7 or eur3"),
])
def test_a_location_google_does_not_offer_is_refused(field: str, value: str,
                                                     accepted: str) -> None:
    assert_names(refused_env(env(**{field: value})), f"envs[prod].{field}", value, accepted)


def test_a_default_location_is_reported_against_the_region_it_comes_from() -> None:
    message = refused_env(env(region="us-west2", bigquery_location=None,
                              firestore_location="me-central9"))
    assert_names(message, "envs[prod].firestore_location", "me-central9")


@pytest.mark.parametrize(("field", "value"), [("bigquery_location", "US"),
                                               ("bigquery_location", "EU"),
                                               ("firestore_location", "nam5"),
                                               ("region", "europe-west1")])
def test_multi_regions_and_regions_are_accepted_where_google_offers_them(field: str,
                                                                         value: str) -> None:
    env(**{field: value}).validate(M)


# ----- function runtime, timeout and scaling -------------------------------------------------


@pytest.mark.parametrize("runtime", ["python3.12", "python2.7", "python39", "nodejs20", "Python312"])
def test_a_runtime_cloud_functions_does_not_deploy_is_refused(runtime: str) -> None:
    message = refused_manifest(function("pipeline-canary", runtime=runtime))
    assert_names(message, "functions[1].runtime", runtime, "python312", "python313")


def test_an_http_function_may_run_an_hour_and_the_message_says_which_kind() -> None:
    function("pipeline-canary", timeout_seconds=900).validate()  # the canary
    assert_names(refused_manifest(function("pipeline-canary", timeout_seconds=3601)),
                 "functions[1].timeout_seconds", 3601, "1..3600 for HTTP gen2 functions")
    assert_names(refused_manifest(function("phase3-to-phase4-orchestrator", timeout_seconds=900)),
                 "functions[0].timeout_seconds", 900, "1..540 for event-driven (Pub/Sub)")


def test_a_service_timeout_beyond_cloud_runs_is_refused() -> None:
    assert_names(refused_manifest(service("phase1-scrapers", timeout_seconds=3601)),
                 "services[0].timeout_seconds", 3601, "1..3600")


@pytest.mark.parametrize("value", [0, -1, 1001])
def test_function_max_instances_out_of_cloud_runs_bounds_is_refused(value: int) -> None:
    assert_names(refused_manifest(function("pipeline-canary", max_instances=value)),
                 "functions[1].max_instances", value, "1..1000")


@pytest.mark.parametrize(("scaling", "path", "value", "accepted"), [
    (Scaling(0, 0), "max_instances", 0, "1..1000"),
    (Scaling(5, 2), "min_instances", 5, "0..max_instances (2)"),
    (Scaling(-1, 2), "min_instances", -1, "0..max_instances"),
    (Scaling(0, 5000), "max_instances", 5000, "quota"),
])
def test_service_scaling_out_of_cloud_runs_bounds_is_refused(scaling: Scaling, path: str,
                                                             value: int, accepted: str) -> None:
    message = refused_env(env(scaling={"prediction-worker": scaling}))
    assert_names(message, f"envs[prod].scaling[prediction-worker].{path}", value, accepted)


# ----- names, as they will be in the cloud ---------------------------------------------------

LONG = "a" + "-b" * 34  # 69 characters


@pytest.mark.parametrize(("bad", "path", "value", "accepted"), [
    (service("prediction-coordinator", cloud_name="Prediction-Coordinator"),
     "services[4].cloud_name", "Prediction-Coordinator", "lowercase letters"),
    (service("prediction-coordinator", cloud_name="p" * 70), "services[4].cloud_name", "p" * 70,
     "1-63 characters (this one has 70)"),
    (service("prediction-coordinator", cloud_name="p" * 64), "services[4].cloud_name", "p" * 64,
     "(this one has 64)"),
    (service("prediction-coordinator", cloud_name="coordinator-"), "services[4].cloud_name",
     "coordinator-", "not ending with '-'"),
    (service("prediction-coordinator", cloud_name="9-coordinator"), "services[4].cloud_name",
     "9-coordinator", "starting with a letter"),
    # The key changed is named, not another service's invokes that refers to it.
    (service("prediction-worker", key="Prediction-Worker"), "services[5].key",
     "Prediction-Worker", "lowercase letters"),
    (service("phase1-scrapers", key=LONG), "services[0].key", LONG, "at most 63"),
    (function("pipeline-canary", cloud_name="pipeline_canary"), "functions[1].cloud_name",
     "pipeline_canary", "(no '_')"),
    (function("pipeline-canary", cloud_name="pc"), "functions[1].cloud_name", "pc",
     "4-63 characters"),
    (function("phase3-to-phase4-orchestrator", key="phase3_to_phase4"), "functions[0].key",
     "phase3_to_phase4", "lowercase letters, digits and '-'"),
    (job("same-day-phase3", cloud_name="same day phase3"), "jobs[0].cloud_name",
     "same day phase3", "Cloud Scheduler job name"),
    (job("same-day-phase3", cloud_name="j" * 501), "jobs[0].cloud_name", "j" * 501,
     "at most 500"),
    (edit("topics", "phase4-trigger", key="t" * 256), "topics[3].key", "t" * 256,
     "Pub/Sub topic or subscription name is at most 255"),
    (edit("transitions", "phase1-to-phase2", subscription="s" * 252),
     "transitions[0].subscription", "s" * 252, "cloud name 'nba-sss"),
    # The push identity '<sport>-push-<transition key>' is a service account id: 6-30.
    (edit("transitions", "phase1-to-phase2", key="phase1-to-phase2-the-long-way"),
     "transitions[0].key", "phase1-to-phase2-the-long-way", "service account id is 6-30"),
    (edit("transitions", "phase1-to-phase2", key="p" * 31), "transitions[0].key", "p" * 31,
     "service account id is at most 30"),
    (edit("datasets", "reference", key="r" * 1025), "datasets[5].key", "r" * 1025,
     "BigQuery dataset id is 1-1024"),
    (edit("tables", "phase_execution_log", "name", name="t" * 1025), "tables[1].name",
     "t" * 1025, "BigQuery table id is 1-1024"),
    (function("pipeline-canary", short="builder"), "functions[1].short", "builder",
     "'nba-fn-builder' is already used by envs[dev].sport (the function builder's account)"),
])
def test_a_name_google_refuses_is_refused_where_it_was_written(bad: Manifest, path: str,
                                                               value: str, accepted: str) -> None:
    assert_names(refused_manifest(bad), path, value, accepted)


def test_a_key_whose_cloud_name_is_too_long_is_named_with_that_cloud_name() -> None:
    # '<sport>-<key>' is 64 characters although the key alone fits in 63.
    key = "p" * 60
    bad = service("phase1-scrapers", key=key)
    message = one_line(lambda: PROD.validate(bad))
    assert_names(message, "services[0].key", key, f"(cloud name 'nba-{key}' in envs[prod])",
                 "a Cloud Run service name is 1-63 characters (this one has 64)")


def test_a_sport_that_makes_names_start_with_goog_is_refused_at_the_first_such_name() -> None:
    message = refused_env(env(sport="goog"))
    assert_names(message, "topics[0].key", "phase1-scrapers-complete",
                 "cloud name 'goog-phase1-scrapers-complete' in envs[prod]", "'goog'")


@pytest.mark.parametrize(("field", "value", "accepted"), [
    ("state_bucket", "NBA_Props tfstate", "Cloud Storage bucket name"),
    ("state_bucket", "ab", "3-222 characters"),
    ("state_bucket", "goog-tfstate", "must not start with 'goog'"),
    ("state_bucket", "nba-google-tfstate", "must not contain 'google'"),
    ("state_bucket", "b" * 64, "a name without dots is at most 63"),
    ("state_bucket", "192.168.1.1", "must not be an IP address"),
    ("state_bucket", "tfstate-", "ending with a letter or digit"),
    ("alert_channel_secret", "pipeline alerts", "Secret Manager secret id"),
    ("project_id", "NBA_Props", "project id"),
    ("project_id", "nba-props-", "project id"),
])
def test_an_env_name_google_refuses_is_refused(field: str, value: str, accepted: str) -> None:
    assert_names(refused_env(env(**{field: value})), f"envs[prod].{field}", value, accepted)


def test_a_data_bucket_name_google_refuses_is_refused() -> None:
    assert_names(refused_env(env(buckets={"raw": "NBA_Raw"})), "envs[prod].buckets[raw]",
                 "NBA_Raw", "Cloud Storage bucket name")


def test_a_data_bucket_named_like_the_state_bucket_is_refused() -> None:
    message = refused_env(env(buckets={"raw": PROD.state_bucket}))
    assert_names(message, "envs[prod].buckets[raw]", PROD.state_bucket,
                 "already used by envs[prod].state_bucket")


# ----- time zones ----------------------------------------------------------------------------


@pytest.mark.parametrize("tz", ["America/NewYork", "Mars/Olympus", "EST+5", "", "../etc/passwd"])
def test_an_env_time_zone_outside_the_tz_database_is_refused(tz: str) -> None:
    assert_names(refused_env(env(time_zone=tz)), "envs[prod].time_zone", tz,
                 "an IANA time zone name")


@pytest.mark.parametrize("tz", ["America/NewYork", "Mars/Olympus"])
def test_a_job_time_zone_outside_the_tz_database_is_refused(tz: str) -> None:
    assert_names(refused_manifest(job("same-day-phase3", time_zone=tz)), "jobs[0].time_zone", tz,
                 "an IANA time zone name")


# ----- container images ----------------------------------------------------------------------

REGISTRY = "us-west2-docker.pkg.dev/nba-props-platform/pipeline"


@pytest.mark.parametrize(("image", "why"), [
    (f"{REGISTRY}/phase1-scrapers:Dev Build", "tag 'Dev Build'"),
    ("Registry/x:tag", "'Registry' is not a registry host"),
    ("phase1-scrapers:stable", "is not a registry host"),
    (f"{REGISTRY}/Phase1-Scrapers:stable", "path part 'Phase1-Scrapers'"),
    (f"{REGISTRY}/phase1-scrapers", "no tag"),
    (f"{REGISTRY}/phase1-scrapers:-dev", "tag '-dev'"),
    (f"{REGISTRY}/phase1-scrapers:" + "t" * 129, "is not a valid tag"),
    (f"{REGISTRY}/phase1--scrapers_:stable", "path part 'phase1--scrapers_'"),
    (f"{REGISTRY}/phase1-scrapers@sha256:xyz", "digest 'sha256:xyz'"),
])
def test_an_image_reference_outside_the_docker_grammar_is_refused(image: str, why: str) -> None:
    images = {"phase1-scrapers": image}
    assert_names(refused_env(env(images=images)), "envs[prod].images[phase1-scrapers]", image,
                 why, "registry/path:tag")


@pytest.mark.parametrize("image", [
    f"{REGISTRY}/phase1-scrapers:v1.2.3_rc-1",
    f"{REGISTRY}/phase1-scrapers@sha256:" + "a" * 64,
    "localhost:5000/phase1.scrapers__x:latest",
    "docker.io/library/python:3.12-slim",
])
def test_docker_references_are_accepted(image: str) -> None:
    assert limits.image_problem(image) is None


# ----- configuration drift -------------------------------------------------------------------


def test_a_new_phase3_processor_no_trigger_map_entry_reaches_is_refused() -> None:
    bad = replace(M, processors=(*M.processors, Processor("player_shot_zone_analysis", 3)))
    assert_names(refused_manifest(bad), f"processors[{len(M.processors)}].name",
                 "player_shot_zone_analysis",
                 "no trigger_map entry", "wait for it forever")


def test_it_is_accepted_once_an_entry_reaches_it_or_no_gate_waits_for_it() -> None:
    new = Processor("player_shot_zone_analysis", 3)
    reached = {**M.trigger_map, "nbac_gamebook_player_stats":
               (*M.trigger_map["nbac_gamebook_player_stats"], new.name)}
    replace(M, processors=(*M.processors, new), trigger_map=reached).validate()
    replace(M, processors=(*M.processors, replace(new, gated=False))).validate()


def test_an_entry_keyed_by_a_disabled_processors_table_never_fires() -> None:
    """Declared but not active: the derived map drops it (disabling stays one edit)."""
    m = replace(M, trigger_map={**M.trigger_map,
                                "bdl_player_boxscores": ("player_game_summary",)}).validate()
    assert "bdl_player_boxscores" in m.trigger_map
    assert "bdl_player_boxscores" not in m.active_trigger_map()


def test_a_disabled_target_is_dropped_from_the_active_map_in_one_edit() -> None:
    off = edit("processors", "upcoming_team_game_context", "name", enabled=False).validate()
    assert all("upcoming_team_game_context" not in t for t in off.active_trigger_map().values())
    assert "nbac_schedule" not in off.active_trigger_map()  # its only target
    assert off.trigger_map == M.trigger_map, "the declaration itself is untouched"
    assert off == M.with_processor_enabled("upcoming_team_game_context", False)


def test_a_trigger_map_key_no_processor_writes_is_refused() -> None:
    bad = replace(M, trigger_map={**M.trigger_map, "nbac_no_such_table": ("player_game_summary",)})
    assert_names(refused_manifest(bad), "trigger_map", "nbac_no_such_table",
                 "output tables of declared Phase 2 processors")


def test_a_trigger_map_target_that_is_not_a_phase3_processor_is_refused() -> None:
    bad = replace(M, trigger_map={**M.trigger_map, "nbac_schedule": ("p2_odds_game_lines",)})
    assert_names(refused_manifest(bad), "trigger_map['nbac_schedule']", "p2_odds_game_lines",
                 "declared Phase 3 processors")


def test_disabling_the_only_writer_a_gated_processor_is_reached_from_is_refused() -> None:
    message = one_line(lambda: M.with_processor_enabled("p2_odds_player_props", False))
    assert_names(message, "processors[11].name", "upcoming_player_game_context",
                 "no trigger_map entry")


@pytest.mark.parametrize(("schedule", "gap"), [("0 0 1 1 *", 525600), ("0 * * * *", 60),
                                               ("0,45 * * * *", 45),
                                               ("*/15 0-22 * * *", 75)])
def test_a_canary_running_less_often_than_its_stall_limit_is_refused(schedule: str,
                                                                     gap: int) -> None:
    message = refused_manifest(job("pipeline-canary", schedule=schedule))
    assert_names(message, f"jobs[{CANARY_JOB}].schedule", schedule,
                 f"runs up to {gap} minutes apart",
                 f"transitions[{GATED}].stall_minutes = 30", "at least every 30 minutes")


def test_the_canary_cadence_follows_the_stall_limit() -> None:
    slow = edit("transitions", "phase3-to-phase4", stall_minutes=60)
    replace(slow, jobs=swap(slow.jobs, "key", "pipeline-canary", schedule="0 * * * *")).validate()


def test_two_canary_jobs_are_read_together() -> None:
    half = swap(M.jobs, "key", "pipeline-canary", schedule="0 * * * *")
    other = replace(M.jobs[CANARY_JOB], key="pipeline-canary-half", cloud_name="pipeline-canary-half",
                    short="canary-half", schedule="30 * * * *")
    replace(M, jobs=(*half, other)).validate()


def test_a_canary_no_job_runs_is_refused() -> None:
    bad = replace(M, jobs=tuple(j for j in M.jobs if j.target != "pipeline-canary"))
    assert_names(refused_manifest(bad), "functions[1].key", "pipeline-canary",
                 "runs only from a scheduler job", "every 30 minutes")


def test_the_longest_gap_counts_daylight_saving_changes() -> None:
    # 02:30 does not exist in New York on the spring change: the job skips a day.
    assert limits.longest_gap_minutes((("30 2 * * *", "America/New_York"),)) == 47 * 60
    # The repeated hour in autumn is run through, not skipped.
    assert limits.longest_gap_minutes((("*/15 * * * *", "Europe/London"),)) == 15
    assert limits.longest_gap_minutes((("0 0 29 2 *", "UTC"),)) > 366 * 24 * 60


# ----- duplicate declarations: one line at load, never a traceback at synth ------------------

DUPLICATES = [
    ("an alert declared twice", replace(M, alerts=(*M.alerts, AlertPolicy("pipeline-canary"))),
     "alerts[].component: duplicate names ['pipeline-canary']"),
    ("two alerts with one display name",
     replace(M, alerts=(*M.alerts[:2], AlertPolicy("pipeline-canary",
                                                   display_name=M.alerts[0].display_name))),
     "alerts[].display_name: duplicate names ['Phase 3 Orchestrator High Error Rate']"),
    ("two jobs with one key", replace(M, jobs=(*M.jobs, replace(M.jobs[0], short="sd-p3-again"))),
     "jobs[].key: duplicate names ['same-day-phase3']"),
    ("two jobs with one cloud name",
     job("pipeline-canary", cloud_name="same-day-phase3"),
     f"jobs[{CANARY_JOB}]: invalid value 'same-day-phase3'; the Cloud Scheduler job name is "
     "already used"),
    ("two processors", replace(M, processors=(*M.processors, M.processors[0])),
     "processors[].name: duplicate names ['p2_bigdataball_pbp']"),
    ("two services", replace(M, services=(*M.services, M.services[0])),
     "component keys (services[].key + functions[].key): duplicate names ['phase1-scrapers']"),
    ("two topics", replace(M, topics=(*M.topics, Topic("phase4-trigger"))),
     "topics[].key: duplicate names ['phase4-trigger']"),
    ("two transitions", replace(M, transitions=(*M.transitions, M.transitions[0])),
     "transitions[].key: duplicate names ['phase1-to-phase2']"),
    ("two datasets", replace(M, datasets=(*M.datasets, M.datasets[0])),
     "datasets[].key: duplicate names ['raw']"),
    ("a route listed twice", service("phase1-scrapers", routes=("/scrape", "/scrape")),
     "services[0].routes: duplicate names ['/scrape']"),
    ("a topic published twice", service("phase1-scrapers", publishes=(
        "phase1-scrapers-complete", "phase1-scrapers-complete")),
     "services[0].publishes: duplicate names ['phase1-scrapers-complete']"),
    ("a trigger target listed twice",
     replace(M, trigger_map={**M.trigger_map, "nbac_schedule": ("upcoming_team_game_context",
                                                                "upcoming_team_game_context")}),
     "trigger_map['nbac_schedule']: duplicate names ['upcoming_team_game_context']"),
]


@pytest.mark.parametrize(("bad", "expected"), [d[1:] for d in DUPLICATES],
                         ids=[d[0] for d in DUPLICATES])
def test_a_duplicate_declaration_is_one_line_at_load(bad: Manifest, expected: str) -> None:
    message = refused_manifest(bad)
    assert message.startswith(expected), message


def test_a_duplicate_names_where_it_is_declared() -> None:
    message = refused_manifest(replace(M, alerts=(*M.alerts, AlertPolicy("pipeline-canary"))))
    assert "'pipeline-canary' is declared 2 times, at positions [2, 3]" in message


# ----- every rule cites its page -------------------------------------------------------------


def test_every_name_rule_cites_google_documentation() -> None:
    rules = [v for v in vars(limits).values() if isinstance(v, limits.NameRule)]
    assert len(rules) >= 10
    assert all(r.url.startswith("https://cloud.google.com/") for r in rules)
