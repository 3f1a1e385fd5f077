"""The pipeline's dashboard: one row per edge and per gate, generated from the wiring.

``pipeline_dashboard(manifest, wiring)`` is a pure function: the stack hands its result to
``PipelineDashboard`` (a ``google_monitoring_dashboard``), and a test rebuilds it from the
manifest and compares it with the synthesized ``dashboard_json``, as the README's generated
tables are checked.

Rows, in manifest order: each transition in turn, a direct one as its push edge, a gated one
as its function's Pub/Sub trigger, its gate, then the push edge from its trigger topic; then
the triggers of functions no gate owns. Each row is a ``collapsibleGroup`` tile titled with
the edge's or gate's name, spanning the width of a 12-column ``mosaicLayout`` over its charts
(https://cloud.google.com/monitoring/api/ref_v3/rest/v1/projects.dashboards):

* push edge: deliveries (``subscription/push_request_count`` with ``response_class`` "ack"),
  failures (every other response class, by class: https://cloud.google.com/pubsub/docs/push-troubleshooting),
  backlog age (``subscription/oldest_unacked_message_age``) and dead letters waiting
  (``subscription/num_undelivered_messages`` of its dead-letter subscription);
* function trigger: deliveries, failures and backlog age of the subscription Eventarc created
  for it (matched by name prefix, ``eventarc_subscription_prefix``); it has no dead letters;
* gate: completions published to its source topic and triggers published to its trigger
  topic (``topic/send_message_operation_count``).

Metric types: https://cloud.google.com/monitoring/api/metrics_gcp_p_z#gcp-pubsub. Zero
positions and empty flags are left out: the API omits them when it returns the dashboard, and
the provider would plan every field it does not get back as a change.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cdktn_provider_google.monitoring_dashboard import MonitoringDashboard
from constructs import Construct

from infra.model.components import Transition
from infra.model.manifest import Manifest
from infra.model.naming import Names
from infra.model.wiring import PushEdge, Trigger, Wiring
from infra.synth.constructs.base import StackConstruct
from infra.synth.constructs.monitoring import (
    OLDEST_UNACKED_AGE,
    UNDELIVERED_MESSAGES,
    eventarc_subscription_prefix,
    subscription_filter,
    subscription_prefix_filter,
)

PUSH_REQUESTS = "pubsub.googleapis.com/subscription/push_request_count"
TOPIC_PUBLISHES = "pubsub.googleapis.com/topic/send_message_operation_count"
COLUMNS = 12
ROW_HEIGHT = 4
ALIGNMENT = "60s"


@dataclass(frozen=True)
class Chart:
    """One line chart: a Monitoring filter and how its series are aligned and combined."""

    title: str
    """The widget's title, with its unit (``oldest unacked message age (s)``)."""
    filter: str
    """A Monitoring time-series filter: ``metric.type``, ``resource.type`` and the resource's
    labels (``resource.label.subscription_id="nba-phase2-raw-sub"``)."""
    aligner: str
    """``perSeriesAligner`` over each ``ALIGNMENT`` period: ``ALIGN_DELTA`` for counts,
    ``ALIGN_MAX`` for ages and backlogs."""
    reducer: str | None = None
    """``crossSeriesReducer`` combining the series (``REDUCE_SUM``); ``None``: each series
    drawn on its own."""
    group_by: tuple[str, ...] = ()
    """``groupByFields`` the reducer keeps apart (``metric.label.response_class``)."""


@dataclass(frozen=True)
class Row:
    """One row of the dashboard: an edge or a gate, and its charts side by side."""

    title: str
    """The group tile's title (``gate phase3-to-phase4: phase 3 completions → nba-phase4-trigger``)."""
    charts: tuple[Chart, ...]
    """Side by side in equal widths: their count must divide the ``COLUMNS``."""


def _delivery_charts(subscription_filter_of: Callable[[str], str]) -> tuple[Chart, ...]:
    """Deliveries, failures and backlog age of the subscription(s) ``subscription_filter_of``
    selects (a function of the metric type)."""
    return (
        Chart("deliveries acknowledged / min",
              f'{subscription_filter_of(PUSH_REQUESTS)} AND metric.label.response_class="ack"',
              "ALIGN_DELTA", "REDUCE_SUM"),
        Chart("failed pushes / min, by response class",
              f'{subscription_filter_of(PUSH_REQUESTS)} AND metric.label.response_class!="ack"',
              "ALIGN_DELTA", "REDUCE_SUM", ("metric.label.response_class",)),
        Chart("oldest unacked message age (s)", subscription_filter_of(OLDEST_UNACKED_AGE),
              "ALIGN_MAX"),
    )


def push_edge_row(edge: PushEdge) -> Row:
    charts = _delivery_charts(lambda metric: subscription_filter(metric, edge.subscription))
    dead = Chart(f"dead letters waiting in {edge.dead_letter_subscription}",
                 subscription_filter(UNDELIVERED_MESSAGES, edge.dead_letter_subscription),
                 "ALIGN_MAX")
    return Row(f"push {edge.subscription}: {edge.topic} → {edge.target.name}{edge.path}",
               (*charts, dead))


def trigger_row(trigger: Trigger, region: str) -> Row:
    prefix = eventarc_subscription_prefix(region, trigger.function)
    charts = _delivery_charts(lambda metric: subscription_prefix_filter(metric, prefix))
    return Row(f"trigger {trigger.topic} → function {trigger.function} ({prefix}*)", charts)


def gate_row(t: Transition, names: Names) -> Row:
    """The gate's row; it names no processor count, so disabling a processor (which changes
    only the expected sets) leaves the dashboard as it is."""
    assert t.trigger_topic is not None and t.function is not None  # validated gated transition
    source, trigger = names.topic(t.topic), names.topic(t.trigger_topic)

    def published(topic: str) -> str:
        return (f'metric.type="{TOPIC_PUBLISHES}" AND resource.type="pubsub_topic" AND '
                f'resource.label.topic_id="{topic}"')

    return Row(f"gate {t.key}: phase {t.source} completions → {trigger}", (
        Chart(f"completions published to {source} / min", published(source), "ALIGN_DELTA",
              "REDUCE_SUM"),
        Chart(f"triggers published to {trigger} / min", published(trigger), "ALIGN_DELTA",
              "REDUCE_SUM"),
    ))


def dashboard_rows(manifest: Manifest, wiring: Wiring) -> tuple[Row, ...]:
    """The rows of the dashboard, in manifest order (see the module docstring)."""
    names = Names(wiring.env)
    region = wiring.env.region
    edges = {e.key: e for e in wiring.edges}
    triggers = {t.function_key: t for t in wiring.triggers}
    rows: list[Row] = []
    gated_functions: set[str] = set()
    for t in manifest.transitions:
        if t.kind == "gated" and t.function is not None:
            gated_functions.add(t.function)
            if t.function in triggers:
                rows.append(trigger_row(triggers[t.function], region))
            rows.append(gate_row(t, names))
        rows.append(push_edge_row(edges[t.key]))
    rows += [trigger_row(tr, region) for tr in wiring.triggers
             if tr.function_key not in gated_functions]
    return tuple(rows)


def _widget(chart: Chart) -> dict[str, Any]:
    aggregation: dict[str, Any] = {"alignmentPeriod": ALIGNMENT,
                                   "perSeriesAligner": chart.aligner}
    if chart.reducer:
        aggregation["crossSeriesReducer"] = chart.reducer
    if chart.group_by:
        aggregation["groupByFields"] = list(chart.group_by)
    return {"title": chart.title, "xyChart": {"dataSets": [{
        "plotType": "LINE",
        "timeSeriesQuery": {"timeSeriesFilter": {"filter": chart.filter,
                                                 "aggregation": aggregation}},
    }]}}


def _tile(x: int, y: int, width: int, widget: Mapping[str, Any]) -> dict[str, Any]:
    tile: dict[str, Any] = {"width": width, "height": ROW_HEIGHT, "widget": dict(widget)}
    if x:
        tile["xPos"] = x
    if y:
        tile["yPos"] = y
    return tile


def dashboard_layout(display_name: str, rows: Sequence[Row]) -> dict[str, Any]:
    """The dashboard (``projects.dashboards`` JSON) laying ``rows`` out one under the other:
    a collapsible group tile across the width, its charts side by side in equal widths."""
    tiles: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if not row.charts or COLUMNS % len(row.charts):
            raise ValueError(f"dashboard row {row.title!r}: {len(row.charts)} charts do not "
                             f"divide the {COLUMNS} columns")
        y = i * ROW_HEIGHT
        tiles.append(_tile(0, y, COLUMNS, {"title": row.title, "collapsibleGroup": {}}))
        width = COLUMNS // len(row.charts)
        tiles += [_tile(j * width, y, width, _widget(c)) for j, c in enumerate(row.charts)]
    return {"displayName": display_name, "mosaicLayout": {"columns": COLUMNS, "tiles": tiles}}


def dashboard_title(wiring: Wiring) -> str:
    return f"{wiring.env.sport} pipeline ({wiring.env.name}): edges and gates"


def pipeline_dashboard(manifest: Manifest, wiring: Wiring) -> dict[str, Any]:
    """The whole dashboard of ``wiring``'s environment: pure, from the manifest and wiring."""
    return dashboard_layout(dashboard_title(wiring), dashboard_rows(manifest, wiring))


def dashboard_json(layout: Mapping[str, Any]) -> str:
    """The ``dashboard_json`` attribute: ``layout`` as canonical JSON."""
    return json.dumps(layout, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class DashboardProps:
    """``layout``: the dashboard as the API takes it (``pipeline_dashboard``)."""

    project: str
    """The GCP project id the resources are created in."""
    layout: Mapping[str, Any]
    component: str = "monitoring"
    """Names the address: ``google_monitoring_dashboard.<component>__dashboard``."""


class PipelineDashboard(StackConstruct):
    def __init__(self, scope: Construct, id: str, props: DashboardProps) -> None:
        super().__init__(scope, id)
        if not props.layout.get("displayName"):
            raise ValueError(f"dashboard of {props.component}: layout has no displayName")
        self.props = props
        self.dashboard = MonitoringDashboard(self, "dashboard", project=props.project,
                                             dashboard_json=dashboard_json(props.layout))
        self.address = self.pin(self.dashboard, props.component, "dashboard")
