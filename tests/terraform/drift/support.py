"""What the drift review tests share: addresses, the review date, building drift entries."""

import copy
from typing import Any

"""Drift review (`python -m infra.drift`): one test per rule, each on input that breaks it."""

TODAY = "2026-11-22"

SUB = "google_pubsub_subscription.phase3_analytics_sub__subscription"
INVOKER = "google_cloud_run_v2_service_iam_member.phase3_analytics_sub__invoker"
SCHED_INVOKER = "google_cloud_run_v2_service_iam_member.same_day_phase3__invoker"
FN_INVOKER = "google_cloud_run_v2_service_iam_member.phase3_to_phase4_orchestrator__trigger_invoker"


def section(report: str, title: str) -> str:
    """The text of one `## title (n)` section of the report."""
    start = report.index(f"## {title} (")
    end = report.find("\n## ", start + 1)
    return report[start : end if end != -1 else len(report)]


def drift_entry(address: str, before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    rtype, name = address.split(".", 1)
    return {
        "address": address, "mode": "managed", "type": rtype, "name": name,
        "provider_name": "registry.terraform.io/hashicorp/google",
        "change": {"actions": ["update"], "before": before, "after": after,
                   "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}},
    }


def with_value(block: dict[str, Any], path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(block)
    node: Any = out
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return out


def blocks(steps: tuple[str, ...]) -> tuple[str | int, ...]:
    """(push_config, push_endpoint) -> (push_config, 0, push_endpoint): blocks are lists."""
    return tuple(x for step in steps[:-1] for x in (step, 0)) + steps[-1:]
