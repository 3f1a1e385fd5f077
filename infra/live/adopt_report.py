"""The adoption plan of one environment and its Markdown report.

``plan_adoption`` is a pure function of the synthesized stack, the manifest, the env and the
recorded inventory and triggers; ``render`` turns its result into the report a reviewer pastes
into the PR; ``Adoption.exit_code`` is the command's exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from infra.live.adopt_alerts import CHANNEL, POLICY, cannot_match_note, monitoring_duplicates
from infra.live.adopt_findings import (
    Finding,
    deploy_paths,
    duplicates,
    removed_but_live,
    undeclared,
)
from infra.live.adopt_inputs import BuildTrigger, Live
from infra.live.adopt_match import Blocked, Declared, declared_resources, match, owned
from infra.live.adopt_record import Import
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

    @property
    def findings(self) -> tuple[Finding, ...]:
        return self.removed + self.second_deploy + self.duplicates + self.undeclared

    @property
    def exit_code(self) -> int:
        if self.blocked:
            return EXIT_BLOCKED
        return EXIT_FINDINGS if self.findings else EXIT_ADOPTABLE


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
    tables = [i for i in m.imports if i.type == "google_bigquery_table"]
    if tables:
        _, project, _, dataset, _, table = tables[0].import_id.split("/")
        notes.append(TABLE_SCHEMA_NOTE.format(count=len(tables),
                                              example=f"{project}:{dataset}.{table}"))
    if foreign:
        notes.append(f"{len(foreign)} live resources of other projects than {env.project_id} "
                     f"ignored (never adopted, reported or deleted here): {', '.join(foreign)}")
    return Adoption(env, m.imports, m.blocked, m.created, tuple(removed), tuple(second),
                    tuple(dups), tuple(loose), tuple(release), tuple(notes),
                    sum(1 for x in rest if x.name in own),
                    cannot_match_note(env.project_id) if monitoring else None)


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


def render(a: Adoption, inventory: str, triggers: str | None) -> str:
    """The Markdown adoption report."""
    env = a.env
    verdict = {EXIT_BLOCKED: "**blocked**: adopting would replace a data store or a component",
               EXIT_FINDINGS: "adoptable, with findings to act on",
               EXIT_ADOPTABLE: "adoptable, nothing to act on"}[a.exit_code]
    out = [f"# Adoption report: {env.name} ({env.project_id})", "",
           f"Inventory `{inventory}`; triggers `{triggers or 'none given'}`.", "",
           f"**{len(a.imports)} to import**, {len(a.created)} declared but not live (created "
           f"by the next apply), {len(a.blocked)} blocked, {len(a.findings)} findings; "
           f"{a.owned_count} live resources belong to something else and are left alone. "
           f"Verdict: {verdict}.", ""]
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
    if a.removed:
        out += ["## Removed but live", "",
                "Delete in this order (build triggers first so nothing redeploys, topics last "
                "so no publisher fails). Phase 3 is triggered by its declared push "
                "subscription, which none of these commands touches.", ""]
        out += _table(a.removed, numbered=True)
    if a.second_deploy:
        out += ["## Second deploy path", "",
                "These Cloud Build triggers deploy a function Terraform now owns; each "
                "push would reset its IAM (the invoker binding) and its code. Delete them "
                "before the apply.", ""]
        out += _table(a.second_deploy)
    if a.duplicates:
        out += ["## Duplicates", "",
                "A live resource doing a declared one's job under another name: both would "
                "fire. Delete the live one, or set its live name on the manifest entry "
                "(`cloud_name`) to adopt it instead; for an alert policy or channel, delete "
                "the old one once the declared one is live, or set its live display name on the "
                "manifest's AlertPolicy (`display_name`) or the env's "
                "`alert_channel_display_name` so it is imported.", ""]
        out += _table(a.duplicates)
        out += [a.monitoring_note, ""] if a.monitoring_note else []
    if a.undeclared:
        out += ["## Undeclared", "", "Live pipeline resources nothing declares. A data store "
                "(bucket, dataset, table, Firestore database) is never deleted: declare it "
                "and adopt it, or leave it.", ""]
        out += _table(a.undeclared)
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
