"""Access: each runtime identity holds what its component's code does, as the manifest says.

Read from the manifest's declarations (``Service.reads``, ``writes``, ``reads_buckets``,
``writes_buckets``, ``runs_queries``, ``publishes``), not from the wiring, so a wiring or a
construct that drops a need is caught against the declaration itself.
"""

from __future__ import annotations

from collections.abc import Iterator

from iam.rules.engine import Context, Finding, rule
from infra.model.naming import Names
from infra.model.permissions import (
    DATA_EDITOR,
    DATA_VIEWER,
    JOB_USER,
    OBJECT_USER,
    OBJECT_VIEWER,
    PUBLISHER,
    Target,
)

# A role that includes another's permissions satisfies a need for it.
SATISFIES = {DATA_VIEWER: {DATA_VIEWER, DATA_EDITOR}, OBJECT_VIEWER: {OBJECT_VIEWER, OBJECT_USER}}


@rule("ACCESS-001", "Runtime identities hold what their component declares it does",
      see="https://cloud.google.com/bigquery/docs/access-control",
      fix="declare the access on the Service in infra/model/pipeline.py; the wiring grants it",
      needs_env=True)
def declared_access(ctx: Context) -> Iterator[Finding]:
    """A service moved off the default compute account (Editor on the project) to its own
    identity keeps working only if that identity can do what its code does: run BigQuery jobs
    (bigquery.jobUser on the project), read the previous phase's dataset (dataViewer), write
    its own (dataEditor), read and write its Cloud Storage files and publish its completions;
    a missing one is a 403 at run time, after the cut-over."""
    g, data = ctx.graph, ctx.data
    assert data is not None
    names = Names(data.env)
    runtime = {a.slot.component: a for a in g.acting() if a.slot.kind == "service.runtime"}
    held = {(p.member, e.role, e.target.target) for e in g.iam if e.target is not None
            for p in e.principals}
    for svc in ctx.manifest.services:
        acting = runtime.get(names.service(svc))
        if acting is None or acting.principal is None:
            continue  # SA-001 / WIRE rules report a missing service or identity
        needs: list[tuple[str, Target, str]] = []
        if svc.runs_queries:
            needs.append((JOB_USER, Target("project", data.env.project_id), "runs queries"))
        needs += [(DATA_VIEWER, Target("bigquery.dataset", names.dataset(k)), "reads")
                  for k in svc.reads]
        needs += [(DATA_EDITOR, Target("bigquery.dataset", names.dataset(k)), "writes")
                  for k in svc.writes]
        needs += [(OBJECT_VIEWER, Target("storage.bucket", names.bucket(k)), "reads")
                  for k in svc.reads_buckets]
        needs += [(OBJECT_USER, Target("storage.bucket", names.bucket(k)), "writes")
                  for k in svc.writes_buckets]
        needs += [(PUBLISHER, Target("pubsub.topic", names.topic(k)), "publishes")
                  for k in svc.publishes]
        member = acting.principal.member
        for role, target, verb in needs:
            if not any((member, r, target) in held for r in SATISFIES.get(role, {role})):
                yield Finding(acting.address, f"{names.service(svc)} {verb} {target} (the "
                              f"manifest says so) but its runtime identity holds no {role} "
                              "there: it fails with 403 once it no longer runs as the default "
                              "compute account")
