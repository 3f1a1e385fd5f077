"""The orchestrator's configuration, read from the environment the stack generates.

Everything the code needs comes from these variables (see ``Config.from_env``): no processor
or topic name is written in the function.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from functions._shared import config as shared
from functions._shared.completion import PROCESSOR_RE
from functions._shared.config import ConfigError

__all__ = ["Config", "ConfigError"]

_PHASE_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_BQ_TABLE_RE = re.compile(r"^(?:[a-z][a-z0-9-]{4,28}[a-z0-9]\.)?\w+\.[\w$-]+$")


def _json_names(environ: Mapping[str, str], name: str, pattern: re.Pattern[str]) -> list[str]:
    raw = shared.require_env(environ, name, "a JSON array of names")
    value = shared.parse_json(raw, f"environment variable {name}")
    if not shared.is_name_list(value, pattern):
        raise ConfigError(
            f"environment variable {name} must be a non-empty JSON array of names matching "
            f"{pattern.pattern}, got {raw!r}"
        )
    if len(set(value)) != len(value):
        raise ConfigError(f"environment variable {name} lists a name twice: {raw!r}")
    return value


@dataclass(frozen=True)
class Config:
    """The orchestrator's configuration, read from the environment on first use."""

    project: str
    """``GCP_PROJECT``: the project of its Firestore, the trigger topic and an unqualified
    ``bq_table``."""
    source_phase: str
    """``SOURCE_PHASE``, the phase id it gates on (``phase_3_analytics``): a message naming another
    phase is ignored, one naming none is taken as this phase's."""
    known_phases: tuple[str, ...]
    """``KNOWN_PHASES``: every phase id a message may name; a message naming another is malformed."""
    expected_processors: tuple[str, ...]
    """``EXPECTED_PROCESSORS``, sorted: the source phase's enabled, gated processors."""
    trigger_topic: str
    """``TRIGGER_TOPIC``: the id, not the path, of the topic it publishes once per date to
    (``nba-phase4-trigger``)."""
    collection: str
    """``COMPLETION_COLLECTION``: the Firestore collection of the date summaries
    (``phase3_completion``)."""
    ttl_days: int
    """``COMPLETION_TTL_DAYS``: every document it creates expires this many days later."""
    bq_table: str
    """``BQ_COMPLETIONS_TABLE`` of the dual write, ``dataset.table`` or ``project.dataset.table``;
    empty: no BigQuery write (as with the emulators)."""
    transition: str
    """``TRANSITION``, the transition key (``phase3-to-phase4``) its summaries, claims, rows and
    logs carry."""

    @property
    def trigger_topic_path(self) -> str:
        return f"projects/{self.project}/topics/{self.trigger_topic}"

    @property
    def bq_table_id(self) -> str:
        """``project.dataset.table``, or ``""`` when the BigQuery dual write is off."""
        if not self.bq_table or self.bq_table.count(".") == 2:
            return self.bq_table
        return f"{self.project}.{self.bq_table}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Config:
        """Read and validate the variables; raise ``ConfigError`` naming the first bad one."""
        project = shared.require_project(environ)
        known = _json_names(environ, "KNOWN_PHASES", _PHASE_RE)
        source = shared.require_env(environ, "SOURCE_PHASE", "the phase id this orchestrator gates on")
        if source not in known:
            raise ConfigError(f"SOURCE_PHASE {source!r} is not one of KNOWN_PHASES {known}")
        expected = _json_names(environ, "EXPECTED_PROCESSORS", PROCESSOR_RE)
        topic = shared.require_env(environ, "TRIGGER_TOPIC", "the trigger topic id (not its full path)")
        if not shared.PUBSUB_ID_RE.match(topic):
            raise ConfigError(
                f"TRIGGER_TOPIC {topic!r} is not a topic id; pass the id, the code builds "
                "projects/{GCP_PROJECT}/topics/{id}"
            )
        collection = shared.require_env(environ, "COMPLETION_COLLECTION", "a Firestore collection id")
        if "/" in collection:
            raise ConfigError(f"COMPLETION_COLLECTION {collection!r} must not contain '/'")
        ttl_days = shared.require_ttl_days(environ)
        if "BQ_COMPLETIONS_TABLE" not in environ:
            raise ConfigError(
                "environment variable BQ_COMPLETIONS_TABLE is not set: expected dataset.table "
                "(or empty to skip the BigQuery dual write, as with the emulators)"
            )
        bq_table = environ["BQ_COMPLETIONS_TABLE"].strip()
        if bq_table and not _BQ_TABLE_RE.match(bq_table):
            raise ConfigError(
                f"BQ_COMPLETIONS_TABLE {bq_table!r} must be dataset.table or project.dataset.table"
            )
        transition = shared.require_env(environ, "TRANSITION", "the transition name, e.g. a_to_b")
        return cls(
            project=project,
            source_phase=source,
            known_phases=tuple(known),
            expected_processors=tuple(sorted(expected)),
            trigger_topic=topic,
            collection=collection,
            ttl_days=ttl_days,
            bq_table=bq_table,
            transition=transition,
        )
