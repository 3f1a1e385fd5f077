"""Shared plan JSON helpers (`infra.terraform.plan_json`): paths, diffs, masking, references, parsing."""

import pytest

from infra.errors import InputError
from infra.terraform.plan_json import (
    AttrChange,
    action_word,
    component_of,
    config_address,
    diff_values,
    format_path,
    load_plan,
    marked,
    parse_path,
    parse_plan,
    refers_to,
    render_value,
)


@pytest.mark.parametrize(
    ("actions", "word"),
    [
        (("delete", "create"), "replace"),
        (("create", "delete"), "replace"),
        (("create",), "create"),
        (("no-op",), "no-op"),
        (("forget",), "forget"),
        ((), "no-op"),
    ],
)
def test_action_word(actions, word):
    assert action_word(actions) == word


@pytest.mark.parametrize(
    ("name", "component"),
    [
        ("phase3_analytics_sub__subscription", "phase3_analytics_sub"),
        ("phase3_to_phase4_orchestrator__function", "phase3_to_phase4_orchestrator"),
        ("phase3_analytics_sub__invoker__extra", "phase3_analytics_sub"),
        ("project_apis", "shared"),
        ("__orphan", "shared"),
    ],
)
def test_component_of(name, component):
    assert component_of(name) == component


@pytest.mark.parametrize(
    ("address", "stripped"),
    [
        ("google_pubsub_topic.t[0]", "google_pubsub_topic.t"),
        ('module.edge["a.b[1]"].google_pubsub_topic.t["x"]', "module.edge.google_pubsub_topic.t"),
        ("google_pubsub_topic.t", "google_pubsub_topic.t"),
    ],
)
def test_config_address_strips_instance_keys(address, stripped):
    assert config_address(address) == stripped


def test_refers_to_needs_a_whole_address_not_a_prefix_of_a_name():
    refs = frozenset({"google_cloud_run_v2_service.svc__service.name"})
    assert refers_to(refs, "google_cloud_run_v2_service.svc__service")
    assert refers_to(refs, "google_cloud_run_v2_service.svc__service[0]")
    assert not refers_to(refs, "google_cloud_run_v2_service.svc")


@pytest.mark.parametrize(
    ("text", "path"),
    [
        (
            "template[0].containers[0].env[2].value",
            ("template", 0, "containers", 0, "env", 2, "value"),
        ),
        ('labels["run.googleapis.com/x"]', ("labels", "run.googleapis.com/x")),
        ("client", ("client",)),
    ],
)
def test_paths_round_trip(text, path):
    assert parse_path(text) == path
    assert format_path(path) == text


@pytest.mark.parametrize("text", ["", ".a", "a..b", "a[x]", "a[0"])
def test_parse_path_rejects_malformed_paths(text):
    with pytest.raises(ValueError, match="attribute path"):
        parse_path(text)


def test_marked_counts_a_true_on_the_way_down():
    tree = {"template": [{"containers": [{"env": [{}, {"value": True}]}]}], "secret": True}
    assert marked(tree, ("template", 0, "containers", 0, "env", 1, "value"))
    assert not marked(tree, ("template", 0, "containers", 0, "env", 0, "value"))
    assert marked(tree, ("secret", "inner", 3))
    assert not marked(False, ("anything",))
    assert not marked(tree, ("template", 5))


def test_diff_values_reports_leaves_in_order():
    before = {"a": 1, "b": [{"c": "x"}, {"c": "y"}], "gone": "v"}
    after = {"a": 1, "b": [{"c": "x"}, {"c": "z"}, {"c": "new"}], "added": True}
    assert diff_values(before, after) == [
        AttrChange(("added",), None, True),
        AttrChange(("b", 1, "c"), "y", "z"),
        AttrChange(("b", 2, "c"), None, "new"),
        AttrChange(("gone",), "v", None),
    ]


def test_diff_values_compares_mismatched_types_as_leaves():
    assert diff_values({"a": [1]}, {"a": "1"}) == [AttrChange(("a",), [1], "1")]


def test_diff_values_marks_unknown_and_sensitive():
    changes = diff_values(
        {"id": "x", "token": "old"},
        {"id": None, "token": "new"},
        after_unknown={"id": True},
        after_sensitive={"token": True},
    )
    assert changes == [
        AttrChange(("id",), "x", None, unknown=True),
        AttrChange(("token",), "old", "new", sensitive=True),
    ]


def test_diff_values_hides_the_shape_of_a_sensitive_block():
    changes = diff_values(
        {"env": {"A": "1"}}, {"env": {"A": "2", "B": "3"}}, before_sensitive={"env": True}
    )
    assert changes == [AttrChange(("env",), {"A": "1"}, {"A": "2", "B": "3"}, sensitive=True)]


def test_render_value():
    assert render_value("x") == '"x"'
    assert render_value(None) == "(absent)"
    assert render_value("secret", sensitive=True) == "(sensitive)"
    assert render_value(None, unknown=True) == "(known after apply)"
    long = render_value("https://example.org/" + "a" * 200 + "/process-date-range", limit=40)
    assert len(long) == 40
    assert long.startswith('"https://example')
    assert long.endswith('/process-date-range"')


def test_parse_plan_keeps_references_from_modules():
    plan = parse_plan(
        {
            "format_version": "1.2",
            "resource_changes": [],
            "configuration": {
                "root_module": {
                    "resources": [
                        {
                            "address": "a.b",
                            "expressions": {"x": {"references": ["c.d.name", "c.d"]}},
                        }
                    ],
                    "module_calls": {
                        "edge": {
                            "module": {
                                "resources": [
                                    {
                                        "address": "e.f",
                                        "expressions": {"blk": [{"y": {"references": ["g.h"]}}]},
                                    }
                                ]
                            }
                        }
                    },
                }
            },
        },
        "plan.json",
    )
    assert plan.references == {
        "a.b": frozenset({"c.d.name", "c.d"}),
        "module.edge.e.f": frozenset({"module.edge.g.h"}),
    }


def test_load_plan_rejects_non_utf8(tmp_path):
    path = tmp_path / "plan.json"
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(InputError, match="not UTF-8 text"):
        load_plan(path)


def test_input_error_is_one_line_naming_the_file():
    err = InputError("dir/plan.json", "file not found")
    assert str(err) == "dir/plan.json: file not found"
    assert (err.source, err.reason) == ("dir/plan.json", "file not found")
