"""The policy rules: one module per area, each rule declared once on its check.

Every rule reads a ``Context`` (the stack's IAM graph, the manifest and, when the
environment is known, the expected grants from ``iam.grants``) and yields findings whose
message says what is wrong and how to fix it. ``RULES`` is the registry the ``@rule``
declarations build, in the order the areas are imported below; the README's rule table is
generated from it (``python -m iam.policy --rules``).
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

from iam.rules.engine import (
    REGISTRY,
    Check,
    Context,
    Finding,
    Rule,
    RuleError,
    Violation,
    rule,
    run_rules,
)

# The areas, in the order their rules run and are reported; importing each one runs its
# @rule declarations, which fill REGISTRY.
AREAS: tuple[ModuleType, ...] = tuple(import_module(f"iam.rules.{name}") for name in (
    "environment", "push", "wiring", "invoke", "members", "public", "identities",
    "dead_letters", "subscriptions", "config_drift", "components", "grant_data", "data_stores",
    "secrets", "ingress", "references", "lifecycle", "ordering", "access", "schedules",
    "monitoring"))

RULES: tuple[Rule, ...] = tuple(REGISTRY)
RULES_BY_ID = {r.id: r for r in RULES}


def run(ctx: Context) -> list[Violation]:
    """All violations of ``ctx``'s stack under ``RULES``, in rule order then address order."""
    return run_rules(ctx, RULES)


__all__ = ["AREAS", "RULES", "RULES_BY_ID", "Check", "Context", "Finding", "Rule", "RuleError",
           "Violation", "rule", "run"]
