"""Identities and their grants as data, for the policy gate (``iam.policy``).

Which identity gets which grant is decided once, in ``infra.model.wiring``; this module
presents that decision in the shape the policy rules read (``IamData``) and prints it
(``python -m iam.grants``).

It is independent of the constructs and only of them: the policy gate compares what the
constructs actually rendered into ``cdk.tf.json`` (read back to cloud names through
``infra.stackjson.graph``) with this data, because a grant rendered on another target, for
another member or role, or written beside the wiring is what that check exists to catch.

Its vocabulary (member, target, slot, ``Grant``, the roles) is ``infra.model.permissions``; the
rules import it from there, and the wiring's edges, triggers and jobs from
``infra.model.wiring``. This module defines only ``IamData``, ``expected()`` that fills it
and its printing.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from infra.cli import EXIT_USAGE, Parser, add_env_argument
from infra.model.envs import EnvConfig, get_env
from infra.model.manifest import Manifest
from infra.model.permissions import Grant, MemberLookup, Slot, short_member
from infra.model.pipeline import load
from infra.model.wiring import Job, PushEdge, Trigger, derive


@dataclass(frozen=True)
class IamData(MemberLookup):
    """Everything ``expected()`` presents for one environment."""

    env: EnvConfig
    identities: Mapping[str, str]
    """Member → what it is (every identity the stack may grant to or act as)."""
    grants: frozenset[Grant]
    slots: Mapping[Slot, str]
    """Slot → the member that must act there."""
    edges: tuple[PushEdge, ...]
    triggers: tuple[Trigger, ...]
    jobs_wiring: tuple[Job, ...]
    services: frozenset[str]
    functions: frozenset[str]
    topics: frozenset[str]
    jobs: frozenset[str]
    datasets: frozenset[str]


def expected(manifest: Manifest, env: EnvConfig) -> IamData:
    """The identities, slots and grants the pipeline needs in ``env`` (``infra.model.wiring.derive``)."""
    w = derive(manifest, env)
    return IamData(
        env=env, identities=w.identities, grants=frozenset(w.grants), slots=w.slots,
        edges=w.edges, triggers=w.triggers, jobs_wiring=w.jobs, services=frozenset(w.services),
        functions=frozenset(w.functions), topics=frozenset(w.topics),
        jobs=frozenset(j.job for j in w.jobs), datasets=frozenset(w.datasets),
    )


def table(data: IamData) -> list[tuple[str, str, str, str]]:
    """``(identity, role, target, why)`` rows, sorted."""
    return sorted((short_member(g.member), g.role, str(g.target), g.why) for g in data.grants)


def markdown(data: IamData) -> str:
    """The grant data of one environment as a Markdown table (``python -m iam.grants``)."""
    rows = [f"Grants of `{data.env.name}` ({data.env.project_id}): {len(data.grants)}", "",
            "| identity | role | target | why |", "|---|---|---|---|"]
    rows += [f"| `{m}` | `{r}` | {t} | {w} |" for m, r, t, w in table(data)]
    return "\n".join(rows) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m iam.grants [--env dev|prod]``: print what the data grants, and why."""
    parser = Parser(prog="python -m iam.grants", description=main.__doc__, tool="grants",
                    code=EXIT_USAGE)
    add_env_argument(parser, default="prod")
    args = parser.parse_args(argv)
    print(markdown(expected(load(), get_env(args.env))), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
