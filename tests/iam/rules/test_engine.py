"""``iam.rules.engine`` and the registry: declarations, ordering, and every area tested."""

from __future__ import annotations

import re
from importlib import import_module

import pytest

from iam.rules import AREAS, REGISTRY, RULES, Context, Finding, Rule, rule
from iam.rules.engine import run_rules
from infra.model.pipeline import load
from infra.stackjson.graph import StackGraph
from infra.stackjson.stack import StackJson
from tests.iam.rules.support import CASES, area_cases, case

# What a rationale must not lean on: the team's own history instead of public documentation.
INTERNAL_HISTORY = re.compile(r"\bseeds? \d|\b[Ff]ailure \d|\bSTYLE\b|\bsessions?\b")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_real_stacks_are_clean(stack_json, check, env):
    violations = check(stack_json[env], env)
    assert violations == [], "\n".join(v.line() for v in violations)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_real_stacks_are_clean_with_manifest_only_rules(stack_json, check, env):
    assert check(stack_json[env], None) == []


@pytest.mark.parametrize("area", AREAS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_each_area_has_a_mutation_per_rule(area):
    short = area.__name__.rsplit(".", 1)[-1]
    tests = import_module(f"tests.iam.rules.test_{short}")
    declared = {r.id for r in RULES if r.check.__module__ == area.__name__}
    assert declared, f"{area.__name__} declares no rule"
    assert {r for r, _, _ in area_cases(tests.__name__)} == declared
    # The area's module runs them: its parametrized test is built from these cases.
    assert tests.test_mutation_is_caught.pytestmark[0].args[1] == area_cases(tests.__name__)


def test_a_case_for_an_unknown_rule_is_refused():
    with pytest.raises(KeyError, match="X-999"):
        case("X-999", "a.x")(_check)


def test_a_case_outside_its_areas_tests_is_refused():
    with pytest.raises(ValueError, match=r"case PUSH-001 \(_check\) is in tests.iam.rules."
                       r"test_engine, not in the tests of iam.rules.push"):
        case("PUSH-001", "a.x")(_check)
    assert all(m is not _check for cases in CASES.values() for _, _, m in cases)


def test_every_rule_is_in_an_area():
    assert {r.check.__module__ for r in RULES} == {a.__name__ for a in AREAS}
    assert tuple(REGISTRY) == RULES


def test_rule_ids_are_unique_and_documented():
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for r in RULES:
        assert r.title and r.fix and len(r.rationale) > 80, r.id
        assert r.see.startswith("https://"), r.id
        assert not INTERNAL_HISTORY.search(r.rationale), (r.id, r.rationale)


def _check(ctx):
    """A rationale long enough to pass for one."""
    yield from ()


def test_a_second_declaration_of_an_id_is_refused():
    before = list(REGISTRY)
    with pytest.raises(ValueError, match=r"rule id 'PUSH-001' is declared twice \(again on _check"):
        rule("PUSH-001", "t", see="https://example.com", fix="f")(_check)
    assert before == REGISTRY


def test_a_rule_without_a_public_source_is_refused():
    with pytest.raises(ValueError, match=r"rule X-900: see='internal wiki' must be the https "):
        rule("X-900", "t", see="internal wiki", fix="f")(_check)
    assert "X-900" not in {r.id for r in REGISTRY}


def test_a_rule_without_a_rationale_is_refused():
    def bare(ctx):
        yield from ()

    with pytest.raises(ValueError, match=r"rule X-901: .*bare has no docstring; it is the rule's"):
        rule("X-901", "t", see="https://example.com", fix="f")(bare)
    assert "X-901" not in {r.id for r in REGISTRY}


def test_findings_are_stamped_sorted_and_deduplicated(stack_json):
    def twice(ctx):
        yield Finding("b.y", "second")
        yield Finding("a.x", "first")
        yield Finding("a.x", "first")

    ctx = Context(StackGraph(StackJson(stack_json["prod"])), load(), None)
    out = run_rules(ctx, (Rule("X-001", "t", "r", "f", twice),))
    assert [v.line(with_stack=True) for v in out] == ["X-001 a.x: first [pipeline-prod]",
                                                      "X-001 b.y: second [pipeline-prod]"]


def test_rules_needing_env_are_skipped_without_it(stack_json):
    def always(ctx):
        yield Finding("a.x", "found")

    ctx = Context(StackGraph(StackJson(stack_json["prod"])), load(), None)
    assert run_rules(ctx, (Rule("X-002", "t", "r", "f", always, needs_env=True),)) == []
