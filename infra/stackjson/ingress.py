"""How a Cloud Run target's ingress and a caller's egress read in the synthesized JSON.

Cloud Run admits Pub/Sub push, Cloud Scheduler and Eventarc of the same project to an
internal-only service; a call from another Cloud Run service or function counts as internal
only when the caller routes it through a VPC network (Direct VPC egress or a connector):
https://cloud.google.com/run/docs/securing/ingress. The policy rules and the local fronts
read both facts here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.stackjson.stack import first

RUN_SERVICE = "google_cloud_run_v2_service"
FUNCTION = "google_cloudfunctions2_function"
RUN_INTERNAL = ("INGRESS_TRAFFIC_INTERNAL_ONLY", "INGRESS_TRAFFIC_INTERNAL_LOAD_BALANCER")
FUNCTION_INTERNAL = ("ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB")


def ingress_setting(rtype: str, body: Mapping[str, Any]) -> str | None:
    """The declared ingress of a v2 service or gen2 function (``None``: omitted)."""
    if rtype == FUNCTION:
        value = first(body.get("service_config")).get("ingress_settings")
    else:
        value = body.get("ingress")
    return str(value) if value is not None else None


def internal_only(rtype: str, body: Mapping[str, Any]) -> bool:
    """Whether the target refuses traffic Cloud Run counts as external (omitted: all traffic)."""
    return ingress_setting(rtype, body) in (FUNCTION_INTERNAL if rtype == FUNCTION
                                            else RUN_INTERNAL)


def vpc_egress(rtype: str, body: Mapping[str, Any]) -> bool:
    """Whether the calls of a v2 service or gen2 function to ``*.run.app`` leave through a VPC.

    Only with all traffic routed to the VPC: under the default ``PRIVATE_RANGES_ONLY`` a
    ``run.app`` address (public) is still reached directly, and counts as external.
    """
    if rtype == RUN_SERVICE:
        access = first(first(body.get("template")).get("vpc_access"))
        routed = bool(access.get("connector") or access.get("network_interfaces"))
        return routed and access.get("egress") == "ALL_TRAFFIC"
    if rtype == FUNCTION:
        svc = first(body.get("service_config"))
        return bool(svc.get("vpc_connector")) and (
            svc.get("vpc_connector_egress_settings") == "ALL_TRAFFIC")
    return False
