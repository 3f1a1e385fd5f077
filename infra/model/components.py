"""The parts a manifest is made of (phases, processors, services, functions, topics,
transitions, jobs, data stores, alerts), each a frozen dataclass, and the error every check
raises. ``infra.model.manifest`` assembles and validates them (and re-exports them)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

KEY_RE = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
PROCESSOR_RE = re.compile(r"^[a-z][a-z0-9_]*$")
PHASE_ID_RE = re.compile(r"^phase_[1-9]_[a-z]+$")
SHORT_RE = re.compile(r"^[a-z][a-z0-9-]{1,14}$")
ROUTE_RE = re.compile(r"^/[a-z0-9/_-]*$")

TransitionKind = Literal["direct", "gated"]
SignatureType = Literal["cloudevent", "http"]
FunctionRole = Literal["orchestrator", "canary"]


class ManifestError(ValueError):
    """A manifest that cannot be rendered: the message names field, value and the fix."""


def invalid_value(field_path: str, value: object, allowed: str) -> ManifestError:
    """The error every manifest and environment check raises: ``<field>: invalid value <value
    repr>; <what is allowed>``."""
    return ManifestError(f"{field_path}: invalid value {value!r}; {allowed}")


@dataclass(frozen=True)
class Phase:
    """A pipeline phase. ``id`` is what completion messages carry in ``phase``."""

    number: int
    """What processors, services and transitions name the phase by (1 scrapers .. 5 predictions)."""
    id: str
    """``phase_<n>_<name>`` (``phase_2_raw``); the orchestrator gets the known ids as ``KNOWN_PHASES``."""
    title: str
    """A label for readers of the manifest (``Raw processors``); nothing derived shows it."""
    dataset: str | None = None
    """Dataset key the phase writes (``<sport>_<dataset>``); ``None`` when it writes none."""


@dataclass(frozen=True)
class Processor:
    """A processor that publishes a completion message when it has written its table.

    ``enabled=False`` keeps the processor declared (history, docs) but removes it from every
    expected set: the orchestrator must never wait for it.
    """

    name: str
    """snake_case (``player_game_summary``): the completion record's id and what the expected
    sets (``EXPECTED_PROCESSORS``) and the trigger map list."""
    phase: int
    """``Phase.number`` of the phase it belongs to."""
    enabled: bool = True
    note: str = ""
    """Why it is disabled (``BDL scrapers are off``), shown in the README table and in
    config-drift findings."""
    output_tables: tuple[str, ...] = ()
    """Tables its completion messages name (``output_table``); default:
    the name without its ``p<n>_`` prefix. Phase 2 tables are the only valid trigger-map keys."""
    gated: bool = True
    """``False``: it runs and publishes, but no completion gate waits for it (it is in no
    expected set). Default: every enabled processor of a gated phase is expected."""
    inferred: str = ""
    """What the seeds imply but do not name about this processor; default: nothing inferred."""

    @property
    def tables(self) -> tuple[str, ...]:
        return self.output_tables or (re.sub(r"^p\d_", "", self.name),)

    @property
    def table(self) -> str:
        """The first table it writes (the one its primary completion names)."""
        return self.tables[0]


@dataclass(frozen=True)
class Service:
    """A Cloud Run service this repo deploys (the image comes from the environment config).

    ``routes`` are the paths other components may call; ``publishes`` the topic keys it
    announces completions on; ``invokes`` the services it calls directly.

    What its code does with the pipeline's data, from which its runtime identity's grants are
    derived (``infra.model.wiring``; nothing else grants a service data access): ``reads`` and
    ``writes`` are dataset keys (a written dataset is readable too), ``reads_buckets`` and
    ``writes_buckets`` bucket keys (writes may overwrite), ``runs_queries`` whether it runs
    BigQuery jobs (queries, loads: ``roles/bigquery.jobUser`` on the project). Default: none.
    """

    key: str
    """``phase3-analytics-processors``: what transitions, jobs and ``invokes`` name it by."""
    phase: int
    """``Phase.number`` of the phase it runs."""
    short: str
    """Ends its runtime identity's account id, ``<sport>-run-<short>`` (2-15 chars, ``p3-analytics``)."""
    routes: tuple[str, ...] = ("/process",)
    publishes: tuple[str, ...] = ()
    invokes: tuple[str, ...] = ()
    cloud_name: str | None = None
    """Full Cloud Run name; default ``<sport>-<key>``."""
    description: str = ""
    """For readers of the manifest (``GCS → nba_raw``); the synthesized service carries none."""
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    reads_buckets: tuple[str, ...] = ()
    writes_buckets: tuple[str, ...] = ()
    runs_queries: bool = False
    timeout_seconds: int = 540
    """Request timeout (Cloud Run allows 1..3600); schedulers calling it wait at least this
    long. Default 540 s."""


@dataclass(frozen=True)
class Function:
    """A Cloud Function (gen2) whose code lives in ``functions/<source>/``.

    ``trigger_topic`` set: a Pub/Sub (CloudEvent) function; ``None``: an HTTP function that
    a scheduler job calls. ``publishes`` are the only topics it may publish to.
    """

    key: str
    """``phase3-to-phase4-orchestrator``: what transitions, jobs and alerts name it by."""
    source: str
    """The folder under ``functions/`` bundled as its code (``phase3_to_phase4``)."""
    entry_point: str
    """The Python function in the source's ``main.py`` that functions-framework calls."""
    role: FunctionRole
    """What it does, and so which pipeline state it may touch (``ROLE_ACCESS``) and which
    environment it gets (``infra.model.function_config``)."""
    short: str
    """Ends its identities' account ids, ``<sport>-fn-<short>`` and ``<sport>-trg-<short>`` (2-15 chars)."""
    signature: SignatureType = "cloudevent"
    trigger_topic: str | None = None
    """Key of the topic whose messages it receives; set exactly when the signature is cloudevent."""
    publishes: tuple[str, ...] = ()
    runtime: str = "python312"
    """A Cloud Functions Python runtime id (``limits.FUNCTION_RUNTIMES``)."""
    timeout_seconds: int = 60
    """Request timeout: 1..540 for a cloudevent function, 1..3600 for an HTTP one (a kept live
    value of an adopted function wins)."""
    memory_mb: int = 256
    """One of Cloud Functions' sizes, 128 .. 8192 MiB (``limits.FUNCTION_MEMORY_MB``)."""
    max_instances: int = 10
    """At most this many instances at once (the service's ``max_instance_count``)."""
    cloud_name: str | None = None
    """Deployed function name; default ``<sport>-<key>``."""
    description: str = ""
    """The deployed function's description (none when empty)."""


@dataclass(frozen=True)
class Topic:
    key: str
    """``phase3-analytics-complete``; the topic's cloud name is ``<sport>-<key>``."""
    description: str = ""
    """For readers of the manifest; a Pub/Sub topic has no description to carry it."""


@dataclass(frozen=True)
class Transition:
    """How phase ``source`` hands over to phase ``target``.

    ``direct``: a push subscription ``subscription`` on ``topic`` to ``target_service`` at
    ``path``. ``gated``: ``function`` consumes ``topic``, tracks completions of the source
    phase's enabled processors and publishes once to ``trigger_topic``; a push subscription
    ``subscription`` on the trigger topic carries it to ``target_service``.
    """

    key: str
    """``phase3-to-phase4``; also ends its push identity's account id, ``<sport>-push-<key>``."""
    kind: TransitionKind
    source: int
    """``Phase.number`` of the announcing phase (likewise ``target``, the phase handed over to)."""
    target: int
    topic: str
    """Key of the source phase's completion topic."""
    subscription: str
    """Key of the push subscription (``phase4-precompute-sub``); its dead-letter topic is
    ``<sport>-<key>-dlq``."""
    target_service: str
    """Key of the service the push delivers to."""
    path: str = "/process"
    """One of the target service's ``routes``."""
    function: str | None = None
    """Gated only: key of the orchestrator function triggered by ``topic``."""
    trigger_topic: str | None = None
    """Gated only: key of the one topic the function publishes to once the set is complete."""
    completion_collection: str | None = None
    """Gated only: the snake_case Firestore collection of its completion documents
    (``phase3_completion``; layout in ``functions._shared.completion``)."""
    stall_minutes: int = 30
    """Gated only: how long the expected set may stay complete without a published trigger
    before the canary reports a stall (5..1440); the canary's job must run at least this often."""
    ack_deadline_seconds: int = 600
    """The push subscription's acknowledgement deadline (10..600 s)."""
    max_delivery_attempts: int = 5
    """Deliveries of a message before Pub/Sub moves it to the dead-letter topic (5..100)."""


@dataclass(frozen=True)
class ScheduledJob:
    """A Cloud Scheduler job calling ``target`` (a service or an HTTP function) at ``path``."""

    key: str
    """``pipeline-canary``; the job's cloud name is ``<sport>-<key>`` unless ``cloud_name``."""
    schedule: str
    """Cron in ``time_zone`` (``*/15 * * * *``); a schedule that never fires is refused."""
    target: str
    """Key of a service or of an HTTP function."""
    short: str
    """Ends its identity's account id, ``<sport>-job-<short>`` (2-15 chars)."""
    path: str = "/"
    """A route of the target service (a function is called at this path too)."""
    http_method: Literal["POST", "GET"] = "POST"
    body: str | None = None
    """The JSON request body (POST only); ``None``: no body and no content type."""
    time_zone: str = "America/New_York"
    """The IANA time zone the schedule is read in."""
    description: str = ""
    """The job's description in Cloud Scheduler."""
    cloud_name: str | None = None
    """Full Cloud Scheduler job name; default ``<sport>-<key>``. Set it to the live name when
    a job already runs under another name: the provider replaces a job whose name changes."""


@dataclass(frozen=True)
class Table:
    """A BigQuery table whose schema is ``infra/model/schemas/<dataset>/<name>.json``."""

    dataset: str
    """Key of its dataset (``orchestration``), not the ``<sport>_<key>`` id."""
    name: str
    """The snake_case table id (``phase_completions``), also its schema file's name."""
    partition_field: str | None = None
    """A column of its schema the table is partitioned on by day; ``None``: not partitioned."""
    description: str = ""
    """The table's description in BigQuery (none when empty)."""


@dataclass(frozen=True)
class Dataset:
    key: str
    """snake_case; the dataset id is ``<sport>_<key>`` (``nba_raw``)."""
    description: str = ""
    """The dataset's description in BigQuery (none when empty)."""


@dataclass(frozen=True)
class Bucket:
    """A Cloud Storage bucket of pipeline data; its cloud name is in the environment config
    (``EnvConfig.buckets``), since bucket names are global."""

    key: str
    """What services' ``reads_buckets`` and ``writes_buckets`` name; ``EnvConfig.buckets`` maps it
    to the cloud name."""
    description: str = ""
    """For readers of the manifest; the bucket resource carries none."""


DEFAULT_AUTO_CLOSE_SECONDS = 3600
"""How long an incident stays open once its condition stops being met (or its data stops):
every alert policy of the stack closes its incidents after this, the ERROR-log policies of
``AlertPolicy`` (unless one sets its own) and the derived monitoring policies
(``infra.synth.constructs.monitoring``)."""


@dataclass(frozen=True)
class AlertPolicy:
    """ERROR logs of ``component`` (a service or function key) notify the alert channel."""

    component: str
    auto_close_seconds: int = DEFAULT_AUTO_CLOSE_SECONDS
    """Seconds an incident stays open once its ERROR logs stop (default ``DEFAULT_AUTO_CLOSE_SECONDS``)."""
    display_name: str | None = None
    """The policy's display name; default ``ERROR logs: <cloud name>``. Set it to a live
    policy's display name to adopt that policy instead of creating a second one."""
