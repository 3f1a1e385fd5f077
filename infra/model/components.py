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
    id: str
    title: str
    dataset: str | None = None
    """Dataset key the phase writes (``<sport>_<dataset>``); ``None`` when it writes none."""


@dataclass(frozen=True)
class Processor:
    """A processor that publishes a completion message when it has written its table.

    ``enabled=False`` keeps the processor declared (history, docs) but removes it from every
    expected set: the orchestrator must never wait for it.
    """

    name: str
    phase: int
    enabled: bool = True
    note: str = ""
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
    phase: int
    short: str
    routes: tuple[str, ...] = ("/process",)
    publishes: tuple[str, ...] = ()
    invokes: tuple[str, ...] = ()
    cloud_name: str | None = None
    """Full Cloud Run name; default ``<sport>-<key>``."""
    description: str = ""
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
    source: str
    entry_point: str
    role: FunctionRole
    short: str
    signature: SignatureType = "cloudevent"
    trigger_topic: str | None = None
    publishes: tuple[str, ...] = ()
    runtime: str = "python312"
    timeout_seconds: int = 60
    memory_mb: int = 256
    max_instances: int = 10
    cloud_name: str | None = None
    """Deployed function name; default ``<sport>-<key>``."""
    description: str = ""


@dataclass(frozen=True)
class Topic:
    key: str
    description: str = ""


@dataclass(frozen=True)
class Transition:
    """How phase ``source`` hands over to phase ``target``.

    ``direct``: a push subscription ``subscription`` on ``topic`` to ``target_service`` at
    ``path``. ``gated``: ``function`` consumes ``topic``, tracks completions of the source
    phase's enabled processors and publishes once to ``trigger_topic``; a push subscription
    ``subscription`` on the trigger topic carries it to ``target_service``.
    """

    key: str
    kind: TransitionKind
    source: int
    target: int
    topic: str
    subscription: str
    target_service: str
    path: str = "/process"
    function: str | None = None
    trigger_topic: str | None = None
    completion_collection: str | None = None
    stall_minutes: int = 30
    ack_deadline_seconds: int = 600
    max_delivery_attempts: int = 5


@dataclass(frozen=True)
class ScheduledJob:
    """A Cloud Scheduler job calling ``target`` (a service or an HTTP function) at ``path``."""

    key: str
    schedule: str
    target: str
    short: str
    path: str = "/"
    http_method: Literal["POST", "GET"] = "POST"
    body: str | None = None
    time_zone: str = "America/New_York"
    description: str = ""
    cloud_name: str | None = None
    """Full Cloud Scheduler job name; default ``<sport>-<key>``. Set it to the live name when
    a job already runs under another name: the provider replaces a job whose name changes."""


@dataclass(frozen=True)
class Table:
    """A BigQuery table whose schema is ``infra/model/schemas/<dataset>/<name>.json``."""

    dataset: str
    name: str
    partition_field: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Dataset:
    key: str
    description: str = ""


@dataclass(frozen=True)
class Bucket:
    """A Cloud Storage bucket of pipeline data; its cloud name is in the environment config
    (``EnvConfig.buckets``), since bucket names are global."""

    key: str
    description: str = ""


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
    display_name: str | None = None
    """The policy's display name; default ``ERROR logs: <cloud name>``. Set it to a live
    policy's display name to adopt that policy instead of creating a second one."""
