"""Ingress: each target takes the traffic its callers send, and nothing wider.

Cloud Run admits Pub/Sub push, Cloud Scheduler and Eventarc of the same project to an
internal-only service; a call from another Cloud Run service or function counts as internal
only when the caller routes it through a VPC network (Direct VPC egress or a connector with all
traffic routed there). https://cloud.google.com/run/docs/securing/ingress
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from iam.rules.engine import Context, Finding, rule
from infra.model.permissions import INVOKER
from infra.stackjson.graph import StackGraph
from infra.stackjson.ingress import FUNCTION_INTERNAL, RUN_INTERNAL, internal_only, vpc_egress
from infra.stackjson.stack import first

INGRESS_DOC = "https://cloud.google.com/run/docs/securing/ingress"
# Roles carrying run.routes.invoke on one service.
INVOKE_ROLES = frozenset({INVOKER, "roles/run.servicesInvoker"})


@dataclass(frozen=True)
class Caller:
    """A service or function whose runtime identity holds an invoker role on a target."""

    address: str
    """The calling service or function."""
    grant: str
    """The IAM member resource that lets it call."""
    vpc_egress: bool


def callers(g: StackGraph, address: str) -> list[Caller]:
    """The services and functions of the stack whose runtime identity may invoke ``address``."""
    runs_as: dict[str, list[str]] = {}
    for act in g.acting():
        if act.slot.kind in ("service.runtime", "function.runtime") and act.principal \
                and act.principal.address:
            runs_as.setdefault(act.principal.address, []).append(act.address)
    out: list[Caller] = []
    for entry in g.members_on(address):
        if entry.role not in INVOKE_ROLES:
            continue
        for p in entry.principals:
            for caller in runs_as.get(p.address or "", []):
                res = g.stack.resources[caller]
                out.append(Caller(caller, entry.address, vpc_egress(res.type, res.body)))
    return out


def _external_callers(g: StackGraph, address: str) -> list[Caller]:
    return [c for c in callers(g, address) if not c.vpc_egress]


@rule("INGRESS-001", "Services and functions take internal traffic unless a service calls them",
      see=INGRESS_DOC,
      fix="INGRESS_TRAFFIC_INTERNAL_ONLY / ALLOW_INTERNAL_ONLY, unless a service without VPC "
          "egress invokes it")
def ingress(ctx: Context) -> Iterator[Finding]:
    """Cloud Run's ingress defaults to all traffic, which leaves IAM as the only barrier;
    pipeline components are called by Pub/Sub, Eventarc and Cloud Scheduler, which internal-only
    ingress still admits. The one reason to take all traffic is a caller that Cloud Run counts
    as external: another service or function without VPC egress (INGRESS-002)."""
    g = ctx.graph
    for svc in g.resources("google_cloud_run_v2_service"):
        value = svc.body.get("ingress")
        if value not in RUN_INTERNAL and not _external_callers(g, svc.address):
            shown = value or "omitted (defaults to INGRESS_TRAFFIC_ALL)"
            yield Finding(svc.address, f"ingress is {shown} and no service without VPC egress "
                          "invokes it; pipeline services take internal traffic only (Pub/Sub "
                          "push, Scheduler and Eventarc still reach them): set "
                          "INGRESS_TRAFFIC_INTERNAL_ONLY")
    for svc in g.resources("google_cloud_run_service"):
        ann = first(svc.body.get("metadata")).get("annotations") or {}
        if ann.get("run.googleapis.com/ingress") not in ("internal",
                                                          "internal-and-cloud-load-balancing"):
            yield Finding(svc.address, "run.googleapis.com/ingress is not internal; set it to "
                          "internal")
    for fn in g.resources("google_cloudfunctions2_function"):
        value = first(fn.body.get("service_config")).get("ingress_settings")
        if value not in FUNCTION_INTERNAL and not _external_callers(g, fn.address):
            shown = value or "omitted (defaults to ALLOW_ALL)"
            yield Finding(fn.address, f"service_config.ingress_settings is {shown}; set "
                          "ALLOW_INTERNAL_ONLY")


@rule("INGRESS-002", "An internal-only target is not invoked by a service without VPC egress",
      see=INGRESS_DOC,
      fix="INGRESS_TRAFFIC_ALL on the target (its invoker members stay the barrier), or route "
          "the caller through a VPC with egress ALL_TRAFFIC")
def internal_target_external_caller(ctx: Context) -> Iterator[Finding]:
    """A call from a Cloud Run service or function reaches an internal-only service as
    internal only when the caller routes it through a VPC network; otherwise Cloud Run
    refuses every such call, however the invoker role is granted."""
    g = ctx.graph
    targets = g.resources("google_cloud_run_v2_service")
    targets += g.resources("google_cloudfunctions2_function")
    for target in targets:
        if not internal_only(target.type, target.body):
            continue
        for c in _external_callers(g, target.address):
            yield Finding(target.address, f"ingress is internal-only but {c.address} invokes it "
                          f"({c.grant}) without VPC egress, so Cloud Run refuses its calls as "
                          "external; take all traffic or route the caller through a VPC")
