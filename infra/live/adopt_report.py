"""The adoption plan of one environment and its Markdown report.

``plan_adoption`` is a pure function of the synthesized stack, the manifest, the env and the
recorded inventory and triggers; ``render`` turns its result into the report a reviewer pastes
into the PR; ``Adoption.exit_code`` is the command's exit code.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from infra.live.adopt_alerts import CHANNEL, POLICY, cannot_match_note, monitoring_duplicates
from infra.live.adopt_config import compare, configured
from infra.live.adopt_findings import (
    Finding,
    deploy_paths,
    duplicates,
    removed_but_live,
    undeclared,
)
from infra.live.adopt_inputs import BuildTrigger, Live
from infra.live.adopt_match import Blocked, Declared, declared_resources, match, owned
from infra.live.preflight import API_TYPE, from_inventory, problems
from infra.model.adoption import Change, Import, Kept
from infra.model.envs import EnvConfig
from infra.model.manifest import Manifest
from infra.model.naming import Names
from infra.stackjson.stack import StackJson

EXIT_ADOPTABLE = 0
EXIT_FINDINGS = 2
EXIT_BLOCKED = 3


# A table's schema and partitioning are not among the inventory's stable fields, yet the
# provider replaces a table whose `time_partitioning.field` differs (ForceNew) or whose schema
# changes other than by adding columns (resourceBigQueryTableSchemaCustomizeDiff,
# google/services/bigquery/resource_bigquery_table.go): `prevent_destroy` then refuses the plan.
TABLE_SCHEMA_NOTE = (
    "{count} BigQuery tables are imported: their schema and partition field are not in the "
    "inventory, and the provider replaces a table whose partition field differs or whose schema "
    "changes other than by added columns (prevent_destroy then refuses the plan). Compare each "
    "with its file in infra/model/schemas/ before `make plan`, e.g. "
    "`bq show --schema --format=prettyjson {example}`, and declare the live schema.")


# What a running pipeline cannot run without: its Cloud Run services (released by their own
# repos, so live before any take-over) and its data stores. An inventory that shows the
# pipeline is there (a declared resource other than an API is live, or a component the
# manifest removed) but holds fewer than this share of them is incomplete, not a new project:
# everything it misses would be "created" over what already runs.
CORE_TYPES = ("google_cloud_run_v2_service", "google_bigquery_dataset",
              "google_firestore_database", "google_storage_bucket")
CORE_SHARE = 0.5

INCOMPLETE_NOTE = (
    "The inventory looks incomplete: {live} of the {declared} declared resources other than "
    "APIs are live in {project} ({examples}), so the pipeline runs there, yet only {core_live} "
    "of its {core} Cloud Run services and data stores are, fewer than half of what a running "
    "pipeline cannot be without; adopting from it would create what already exists. Fix: "
    "record it again with `make inventory ENV={env}` and check the reading identity's roles "
    "(`roles/cloudasset.viewer` on {project}, and the viewer roles in docs/operating.md); a "
    "Cloud Asset API enabled minutes ago may still be indexing the project.")


def incomplete_inventory(env: EnvConfig, declared: Sequence[Declared],
                         matched: Sequence[Declared], removed: Sequence[Finding]) -> str | None:
    """The one-line finding when the inventory cannot be the whole running project (see
    ``CORE_TYPES``), else None. An empty project, or one holding only APIs, is new: None."""
    considered = [d for d in declared if d.type not in ("google_project_service",
                                                        "google_firestore_field")]
    live = sorted({d.address for d in matched if d.type not in ("google_project_service",
                                                                  "google_firestore_field")})
    if not live and not removed:
        return None
    core = {d.address for d in considered if d.type in CORE_TYPES}
    core_live = core & set(live)
    if not core or len(core_live) >= CORE_SHARE * len(core):
        return None
    examples = ", ".join(f"`{a}`" for a in live[:3]) + (" …" if len(live) > 3 else "")
    if not live:
        examples = "none, but " + ", ".join(f"`{f.name}`" for f in removed[:3]) + \
            (" …" if len(removed) > 3 else "") + ", which the manifest removed, " + \
            ("is" if len(removed) == 1 else "are") + " live"
    return INCOMPLETE_NOTE.format(live=len(live), declared=len(considered), examples=examples,
                                  project=env.project_id, core_live=len(core_live),
                                  core=len(core), env=env.name)


@dataclass(frozen=True)
class Adoption:
    env: EnvConfig
    imports: tuple[Import, ...]
    blocked: tuple[Blocked, ...]
    created: tuple[Declared, ...]
    removed: tuple[Finding, ...]
    second_deploy: tuple[Finding, ...]
    duplicates: tuple[Finding, ...]
    undeclared: tuple[Finding, ...]
    release_paths: tuple[Finding, ...]
    notes: tuple[str, ...]
    owned_count: int
    monitoring_note: str | None = None
    """What stable fields cannot match of live alert policies and channels (when any)."""
    kept: tuple[Kept, ...] = ()
    """Live values nobody decided: the record carries them, the next synth declares them."""
    changes: tuple[Change, ...] = ()
    """What the first apply changes on purpose (attributes the manifest owns)."""
    services: tuple[tuple[str, str], ...] = ()
    """(function address, live Cloud Run service) of imported functions."""
    unconfigured: tuple[str, ...] = ()
    """Imported addresses whose live configuration the inventory does not hold."""
    prerequisites: tuple[str, ...] = ()
    """What must exist before the first plan and does not (``infra.live.preflight``)."""
    incomplete: str | None = None
    """Why the inventory cannot be the whole running project (``incomplete_inventory``)."""

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.removed + self.second_deploy + self.duplicates + self.undeclared

    @property
    def exit_code(self) -> int:
        if self.blocked:
            return EXIT_BLOCKED
        return EXIT_FINDINGS if self.findings or self.prerequisites or self.incomplete \
            else EXIT_ADOPTABLE


def plan_adoption(stack: StackJson, manifest: Manifest, env: EnvConfig,
                  lives: Sequence[Live], triggers: Sequence[BuildTrigger]) -> Adoption:
    """Match, then classify every live resource the stack does not declare."""
    names = Names(env)
    foreign = sorted(x.name for x in lives if x.foreign)
    lives = [x for x in lives if not x.foreign]
    declared = declared_resources(stack)
    m = match(declared, lives, env.name)
    own = owned(lives, declared)
    rest = [x for x in lives if x.name not in m.matched]
    removed = removed_but_live(manifest, names, lives, own, triggers, m.matched)
    second, release = deploy_paths(manifest, names, triggers)
    removed_names = {(f.kind, f.name) for f in removed}
    beside = {x.name for _, x in m.extra_by_display_name}
    candidates = [x for x in rest if x.name not in own and x.name not in beside
                  and (x.asset_type, x.short) not in removed_names]
    dups, notes = duplicates(stack, declared, lives, candidates, m.extra_by_display_name, names)
    dups += monitoring_duplicates(manifest, names, declared, candidates)
    monitoring = any(x.asset_type in (POLICY, CHANNEL) for x in candidates)
    dup_names = {(f.kind, f.name) for f in dups}
    skip = {x.name for x in candidates if (x.asset_type, x.short) in dup_names}
    loose = undeclared(manifest, names, candidates, skip)
    by_name = {x.name: x for x in lives}
    kept: list[Kept] = []
    changes: list[Change] = []
    blocked = list(m.blocked)
    services: list[tuple[str, str]] = []
    unconfigured: list[str] = []
    imports: list[Import] = []
    for imp in m.imports:
        live = by_name.get(imp.live_name)
        d = m.matched.get(imp.live_name)
        if live is None or d is None or not configured(d.type, live):
            if d is not None and d.type != "google_firestore_field" and imp.type != \
                    "google_project_service":
                unconfigured.append(imp.address)
            imports.append(imp)
            continue
        diff = compare(d, live, stack, env.name)
        blocked += diff.blocked
        if diff.blocked:
            continue
        imports.append(imp)
        kept += diff.kept
        changes += diff.changes
        service = live.resource.get("serviceConfig", {}).get("service") \
            if imp.type == "google_cloudfunctions2_function" else None
        if isinstance(service, str) and service:
            services.append((imp.address, service.rsplit("/", 1)[-1]))
    tables = [i for i in imports if i.type == "google_bigquery_table"
              and i.address in unconfigured]
    if tables:
        _, project, _, dataset, _, table = tables[0].import_id.split("/")
        notes.append(TABLE_SCHEMA_NOTE.format(count=len(tables),
                                              example=f"{project}:{dataset}.{table}"))
    if foreign:
        notes.append(f"{len(foreign)} live resources of other projects than {env.project_id} "
                     f"ignored (never adopted, reported or deleted here): {', '.join(foreign)}")
    if unconfigured:
        notes.append(f"{len(unconfigured)} imported resources have no live configuration in "
                     "the inventory (no versionedResources), so only their names and locations "
                     "were compared: re-record with `make inventory` to compare every "
                     f"attribute ({', '.join(sorted(unconfigured))})")
    return Adoption(env, tuple(imports), tuple(blocked), m.created, tuple(removed),
                    tuple(second), tuple(dups), tuple(loose), tuple(release), tuple(notes),
                    sum(1 for x in rest if x.name in own),
                    cannot_match_note(env.project_id) if monitoring else None,
                    tuple(kept), tuple(changes), tuple(services), tuple(unconfigured),
                    _prerequisites(env, lives),
                    incomplete_inventory(env, declared, list(m.matched.values()), removed))


def _prerequisites(env: EnvConfig, lives: Sequence[Live]) -> tuple[str, ...]:
    """Preflight on the inventory, when it recorded API states (``make inventory`` does)."""
    if not any(x.asset_type == API_TYPE and x.state for x in lives):
        return ()
    return tuple(problems(env, from_inventory(lives, env.alert_channel_secret)))


def _value(value: object, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return f"`{_cell(text)}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(findings: Sequence[Finding], numbered: bool = False) -> list[str]:
    head = "| # | what | name | location | why | fix |" if numbered else \
        "| what | name | location | why | fix |"
    lines = [head, "|" + "---|" * (6 if numbered else 5)]
    for i, f in enumerate(findings, 1):
        cells = [f.kind.split("/")[-1], f"`{f.name}`", f.location, _cell(f.why),
                 f"`{_cell(f.fix)}`"]
        lines.append("| " + " | ".join(([str(i)] if numbered else []) + cells) + " |")
    return [*lines, ""]


def _findings(title: str, findings: Sequence[Finding], intro: str,
              numbered: bool = False) -> list[str]:
    """A section of findings: its heading, what to do about them, their table; nothing when
    there are none."""
    return [f"## {title}", "", intro, "", *_table(findings, numbered)] if findings else []


def render(a: Adoption, inventory: str, triggers: str | None) -> str:
    """The Markdown adoption report."""
    env = a.env
    verdict = {EXIT_BLOCKED: "**blocked**: adopting would replace a data store or a component",
               EXIT_FINDINGS: "adoptable, with findings to act on",
               EXIT_ADOPTABLE: "adoptable, nothing to act on"}[a.exit_code]
    if a.incomplete and a.exit_code == EXIT_FINDINGS:
        verdict = "**the inventory looks incomplete**: record it again before adopting"
    out = [f"# Adoption report: {env.name} ({env.project_id})", "",
           f"Inventory `{inventory}`; triggers `{triggers or 'none given'}`.", "",
           f"**{len(a.imports)} to import**, {len(a.created)} declared but not live (created "
           f"by the next apply), {len(a.blocked)} blocked, {len(a.findings)} findings; "
           f"{len(a.changes)} intended changes, {len(a.kept)} live settings kept; "
           f"{a.owned_count} live resources belong to something else and are left alone. "
           f"Verdict: {verdict}.", ""]
    if a.incomplete:
        out += ["## Incomplete inventory", "", a.incomplete, ""]
    if a.blocked:
        out += ["## Blocked: the declared value would replace the live resource", "",
                "Nothing was written. The fix is always to declare the live value, never to "
                "recreate.", "",
                "| resource | live | attribute | declared | live value | fix | provider |",
                "|---|---|---|---|---|---|---|"]
        for b in a.blocked:
            out.append(f"| `{b.declared.address}` | `{b.live.name}` | `{b.attribute}` | "
                       f"`{b.declared_value}` | `{b.live_value}` | {_cell(b.fix)} | "
                       f"[ForceNew]({b.source}) |")
        out.append("")
    if a.prerequisites:
        out += ["## Before the first plan", "", "The plan reads through these; it cannot "
                "create them (`make preflight ENV=" + env.name + "` checks them again).", ""]
        out += [f"- {p}" for p in a.prerequisites]
        out.append("")
    out += _findings("Removed but live", a.removed,
                     "Delete in this order (build triggers first so nothing redeploys, topics "
                     "last so no publisher fails). Phase 3 is triggered by its declared push "
                     "subscription, which none of these commands touches.", numbered=True)
    out += _findings("Second deploy path", a.second_deploy,
                     "These Cloud Build triggers deploy a function Terraform now owns; each "
                     "push would reset its IAM (the invoker binding) and its code. Delete them "
                     "before the apply.")
    out += _findings("Duplicates", a.duplicates,
                     "A live resource doing a declared one's job under another name: both would "
                     "fire. Delete the live one, or set its live name on the manifest entry "
                     "(`cloud_name`) to adopt it instead; for an alert policy or channel, delete "
                     "the old one once the declared one is live, or set its live display name on "
                     "the manifest's AlertPolicy (`display_name`) or the env's "
                     "`alert_channel_display_name` so it is imported.")
    if a.duplicates and a.monitoring_note:
        out += [a.monitoring_note, ""]
    out += _findings("Undeclared", a.undeclared,
                     "Live pipeline resources nothing declares. A data store (bucket, dataset, "
                     "table, Firestore database) is never deleted: declare it and adopt it, or "
                     "leave it.")
    if a.changes:
        out += ["## What the first apply changes", "",
                "Attributes the manifest decides (identities, endpoints, OIDC, schedules, "
                "generated configuration): the plan must show exactly these on imported "
                "resources (`python -m infra.plan_summary` flags any other).", "",
                "| resource | attribute | live | stack |", "|---|---|---|---|"]
        out += [f"| `{c.address}` | `{c.attribute}` | {_value(c.live)} | {_value(c.stack)} |"
                for c in a.changes]
        out.append("")
    if a.kept:
        out += ["## Kept from live", "",
                "Live settings nothing in the manifest decides: the record carries them and "
                "the next `make synth` declares them, so the first apply does not reset them.",
                "", "| resource | attribute | live value kept |", "|---|---|---|"]
        out += [f"| `{k.address}` | `{k.attribute}` | {_value(k.value)} |" for k in a.kept]
        out.append("")
    if a.imports:
        out += ["## Imports", "", f"Written to `infra/adoption/{env.name}.json`; the next "
                "`make synth` gives each an `import` block.", "",
                "| address | import id | live |", "|---|---|---|"]
        out += [f"| `{i.address}` | `{i.import_id}` | `{i.live_name}` |" for i in a.imports]
        out.append("")
    notes = [*a.notes, *([a.monitoring_note] if a.monitoring_note and not a.duplicates else [])]
    if a.release_paths or notes:
        out += ["## Information", ""]
        out += [f"- release path: `{f.name}` ({f.location}): {f.why}" for f in a.release_paths]
        out += [f"- {n}" for n in notes]
        out.append("")
    return "\n".join(out)
