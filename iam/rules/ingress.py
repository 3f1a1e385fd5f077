"""Ingress: services and functions take internal traffic only."""

from __future__ import annotations

from collections.abc import Iterator

from iam.rules.engine import Context, Finding, rule
from infra.stackjson.stack import first


@rule("INGRESS-001", "Services and functions take internal traffic only",
      see="https://cloud.google.com/run/docs/securing/ingress",
      fix="INGRESS_TRAFFIC_INTERNAL_ONLY / ALLOW_INTERNAL_ONLY")
def ingress(ctx: Context) -> Iterator[Finding]:
    """Cloud Run's ingress defaults to all traffic, which leaves IAM as the only barrier;
    pipeline components are called by Pub/Sub, Eventarc and Cloud Scheduler, which internal-only
    ingress still admits."""
    g = ctx.graph
    for svc in g.resources("google_cloud_run_v2_service"):
        value = svc.body.get("ingress")
        if value not in ("INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER"):
            shown = value or "omitted (defaults to INGRESS_TRAFFIC_ALL)"
            yield Finding(svc.address, f"ingress is {shown}; pipeline services take internal "
                          "traffic only (Pub/Sub push, Scheduler and Eventarc still reach "
                          "them): set INGRESS_TRAFFIC_INTERNAL_ONLY")
    for svc in g.resources("google_cloud_run_service"):
        ann = first(svc.body.get("metadata")).get("annotations") or {}
        if ann.get("run.googleapis.com/ingress") not in ("internal",
                                                          "internal-and-cloud-load-balancing"):
            yield Finding(svc.address, "run.googleapis.com/ingress is not internal; set it to "
                          "internal")
    for fn in g.resources("google_cloudfunctions2_function"):
        value = first(fn.body.get("service_config")).get("ingress_settings")
        if value not in ("ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"):
            shown = value or "omitted (defaults to ALLOW_ALL)"
            yield Finding(fn.address, f"service_config.ingress_settings is {shown}; set "
                          "ALLOW_INTERNAL_ONLY")
