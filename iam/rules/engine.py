"""The rule engine: what a rule is, how one is declared, and how the rules run.

A rule is declared once, on its check: ``@rule(id, title, see=..., fix=...)``, with the
check's docstring as its rationale. The decorator adds it to ``REGISTRY`` in declaration
order (the order in which ``iam.rules`` imports its area modules, then the order inside each
module); the registry is the only list of rules. A check reads a ``Context`` and yields ``Finding``s
(address and message); ``run_rules`` stamps them with the rule's id.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from iam.grants import IamData
from infra.model.manifest import Manifest
from infra.stackjson.graph import StackGraph


class RuleError(Exception):
    """A rule could not read the stack (a malformed block); the message names rule and cause."""


@dataclass(frozen=True, order=True)
class Violation:
    rule: str
    address: str
    message: str
    stack: str = ""

    def line(self, with_stack: bool = False) -> str:
        suffix = f" [{self.stack}]" if with_stack and self.stack else ""
        return f"{self.rule} {self.address}: {self.message}{suffix}"


class Finding(NamedTuple):
    """One problem a check found: the resource address and what is wrong, with the fix."""

    address: str
    message: str


@dataclass(frozen=True)
class Context:
    graph: StackGraph
    manifest: Manifest
    data: IamData | None
    """``None`` when the environment is unknown: the rules that need it do not run."""


Check = Callable[[Context], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    rationale: str
    fix: str
    check: Check
    needs_env: bool = False
    see: str = ""
    """The public documentation the rationale rests on (a Google Cloud or Terraform page)."""


REGISTRY: list[Rule] = []
PROVIDER_DOCS = "https://registry.terraform.io/providers/hashicorp/google/latest/docs/"
LIFECYCLE_DOC = "https://developer.hashicorp.com/terraform/language/meta-arguments/lifecycle"


def rule(id: str, title: str, *, see: str, fix: str,
         needs_env: bool = False) -> Callable[[Check], Check]:
    """Declare the decorated check as rule ``id`` and add it to ``REGISTRY``.

    The check's docstring is the rule's rationale (why the mistake matters), resting on the
    public documentation ``see`` points at; ``fix`` is the one-line remedy reports print.
    """

    def register(check: Check) -> Check:
        if any(r.id == id for r in REGISTRY):
            raise ValueError(f"rule id {id!r} is declared twice (again on {check.__qualname__})")
        if not see.startswith("https://"):
            raise ValueError(f"rule {id}: see={see!r} must be the https URL of a public doc")
        rationale = " ".join(inspect.cleandoc(check.__doc__ or "").split())
        if not rationale:
            raise ValueError(f"rule {id}: {check.__qualname__} has no docstring; it is the "
                             "rule's rationale")
        REGISTRY.append(Rule(id, title, rationale, fix, check, needs_env, see))
        return check

    return register


def wrong_environment(ctx: Context) -> str | None:
    """Why the stack is not for the environment of ``ctx.data``; ``None`` when it is."""
    if ctx.data is None or ctx.graph.project is None:
        return None
    if ctx.graph.project != ctx.data.env.project_id:
        return (f"the provider's project is {ctx.graph.project!r} but the {ctx.data.env.name} "
                f"environment is {ctx.data.env.project_id!r}")
    return None


def run_rules(ctx: Context, rules: Sequence[Rule]) -> list[Violation]:
    """All violations of ``ctx``'s stack, in rule order then address order, deduplicated.

    The rules that need the grant data are skipped when the environment is unknown or the
    stack belongs to another one (ENV-001 reports that; nothing else would match).
    """
    out: list[Violation] = []
    seen: set[tuple[str, str, str]] = set()
    skip_env = ctx.data is None or wrong_environment(ctx) is not None
    for r in rules:
        if r.needs_env and skip_env:
            continue
        try:
            found = sorted(r.check(ctx), key=lambda f: (f.address, f.message))
        except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
            raise RuleError(f"rule {r.id} cannot read this stack ({type(exc).__name__}: "
                            f"{exc}); a block has an unexpected shape") from exc
        for f in found:
            key = (r.id, f.address, f.message)
            if key not in seen:
                seen.add(key)
                out.append(Violation(r.id, f.address, f.message, ctx.graph.name))
    return out
