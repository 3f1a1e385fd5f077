"""PipelineDashboard: a google_monitoring_dashboard holding the layout it is given, and the pure
layout function (rows of charts, one under the other)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cdktn import TerraformStack

from infra.synth.constructs.dashboard import (
    COLUMNS,
    ROW_HEIGHT,
    Chart,
    DashboardProps,
    PipelineDashboard,
    Row,
    dashboard_json,
    dashboard_layout,
)
from tests.synth.constructs.support import INVENTORIES, PROJECT, new_stack, synthesized
from tests.synth.tfassert import assert_inventory_file

AGE = Chart("age", 'metric.type="pubsub.googleapis.com/subscription/oldest_unacked_message_age"',
            "ALIGN_MAX")
SENT = Chart("sent", 'metric.type="pubsub.googleapis.com/topic/send_message_operation_count"',
             "ALIGN_DELTA", "REDUCE_SUM", ("metric.label.response_code",))
LAYOUT = dashboard_layout("nba pipeline (test)", (Row("edge a", (AGE, AGE, AGE, AGE)),
                                                  Row("gate b", (SENT, AGE))))


def build(stack: TerraformStack) -> None:
    PipelineDashboard(stack, "dashboard", DashboardProps(PROJECT, LAYOUT))


doc = synthesized(build)


def test_inventory(doc: dict[str, Any]) -> None:
    assert_inventory_file(doc, INVENTORIES / "dashboard.yaml", {
        "google_monitoring_dashboard.monitoring__dashboard": {"dashboard_json": dashboard_json(LAYOUT)},
    })


def test_rows_are_stacked_and_charts_share_the_width() -> None:
    tiles = LAYOUT["mosaicLayout"]["tiles"]
    assert LAYOUT["mosaicLayout"]["columns"] == COLUMNS == 12
    place = [(t.get("xPos", 0), t.get("yPos", 0), t["width"], t["widget"]["title"]) for t in tiles]
    assert place == [(0, 0, 12, "edge a"), (0, 0, 3, "age"), (3, 0, 3, "age"), (6, 0, 3, "age"),
                     (9, 0, 3, "age"), (0, ROW_HEIGHT, 12, "gate b"), (0, ROW_HEIGHT, 6, "sent"),
                     (6, ROW_HEIGHT, 6, "age")]
    assert tiles[0]["widget"]["collapsibleGroup"] == {}
    query = tiles[6]["widget"]["xyChart"]["dataSets"][0]["timeSeriesQuery"]["timeSeriesFilter"]
    assert query["aggregation"] == {"alignmentPeriod": "60s", "perSeriesAligner": "ALIGN_DELTA",
                                    "crossSeriesReducer": "REDUCE_SUM",
                                    "groupByFields": ["metric.label.response_code"]}


def test_zero_positions_are_left_out_as_the_api_returns_them() -> None:
    first = LAYOUT["mosaicLayout"]["tiles"][0]
    assert "xPos" not in first and "yPos" not in first


def test_json_is_canonical() -> None:
    assert json.loads(dashboard_json(LAYOUT)) == LAYOUT
    assert dashboard_json(LAYOUT) == json.dumps(LAYOUT, sort_keys=True, ensure_ascii=False)


def test_a_row_whose_charts_do_not_divide_the_width_is_refused() -> None:
    with pytest.raises(ValueError, match=r"dashboard row 'r': 5 charts do not divide the 12"):
        dashboard_layout("t", (Row("r", (AGE,) * 5),))


def test_a_layout_without_a_name_is_refused() -> None:
    with pytest.raises(ValueError, match="dashboard of monitoring: layout has no displayName"):
        PipelineDashboard(new_stack("dashboard-unnamed"), "d", DashboardProps(PROJECT, {}))
