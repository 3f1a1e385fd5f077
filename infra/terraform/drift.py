"""Drift review of a Terraform plan JSON, as Markdown for a PR or an incident issue.

    python -m infra.drift PLAN_JSON [--ignore FILE] [--today YYYY-MM-DD]

PLAN_JSON is `terraform show -json PLANFILE` of a refresh-only plan
(`terraform plan -refresh-only -out=PLANFILE`) or of a normal plan.

Exit codes: 0 no drift (noise only), 2 drift, 3 critical drift, 1 unreadable input
(plan or ignore file; one line on stderr naming the file and the reason).

Classes:

critical -- things that stop the pipeline or lose data:
  * a grant of an invoke/publish role (`CRITICAL_ROLES`) deleted or changed out of band,
    or deleted by the plan;
  * a push subscription's endpoint, OIDC service account or audience, a scheduler job's URI
    or OIDC identity, a function's trigger identity or topic, or the identity a function or
    service runs as, changed out of band (`DELIVERY_CRITICAL_PATHS`);
  * a gate's configuration changed out of band: in any function's environment
    (`service_config[0].environment_variables`), one of `GATE_VARIABLES` -- what the gate
    expects (`EXPECTED_PROCESSORS`), the phase and transition it gates, where it publishes
    the trigger (`TRIGGER_TOPIC`), the canary's view of the gates -- changed, set or unset,
    so that the function reads it differently (a disabled processor added back, one
    removed); the same set in another order or JSON spelling is drift. Where a gate listens
    (`event_trigger[0].pubsub_topic`) is a delivery path above;
  * a function or service deleted out of band, or replaced by the plan while an IAM member
    that targets it is not replaced or created with it (the new one starts without the
    grant, and Terraform will not notice until the next refresh);
  * a data store (`DATA_STORE_TYPES`) deleted out of band, or deleted or replaced by the plan.
drift -- every other change made outside Terraform, one row per attribute, secrets masked.
  Unknown resource types are always drift, with a note: we cannot tell noise from harm.
information -- a Cloud Run service whose only change is its container image
  (`DEPLOYED_IMAGE_PATHS`): services are released by their own repos and the stack keeps the
  deployed image; the row names the old and the new image, and the exit code ignores it. An
  image changed together with anything else is drift (or critical) as above.
noise -- muted but counted: provider-computed attributes, by resource type and path
  (`COMPUTED_PATHS`, infra/model/provider/computed.py: a change is muted only at or under an
  output-only path of its own type, so an alert policy's `conditions` or a function's source
  `generation` edited in the console is drift; a top-level `etag` is muted on any known or
  IAM type), etag-only changes on IAM members, output-only changes, and attributes listed in
  the ignore file (infra/terraform/drift-ignore.json). The ignore file never mutes a critical
  change; an entry past its `expires` day stops muting and is itself reported as drift.

Planned changes in a normal plan are not drift; only the critical rules look at them.

The pieces: `drift_rules` (the sets above), `drift_classify` (the classes and how the rules
apply), `drift_gates` (the gates' variables), `drift_ignore` (the ignore file), `drift_report`
(the Markdown); this module is the command line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date

from infra.cli import Parser, UsageError
from infra.errors import InputError
from infra.terraform.drift_classify import (
    EXIT_CLEAN,
    EXIT_CRITICAL,
    EXIT_DRIFT,
    EXIT_UNREADABLE,
    review,
)
from infra.terraform.drift_ignore import DEFAULT_IGNORE_FILE, load_ignore_file
from infra.terraform.drift_report import cell, code, render
from infra.terraform.drift_rules import DATA_STORE_TYPES, RUNTIME_TYPES, is_iam
from infra.terraform.plan_json import load_plan

# What other modules and the tests read from here (the plan summary shares the type sets
# and the Markdown helpers).
__all__ = [
    "DATA_STORE_TYPES",
    "DEFAULT_IGNORE_FILE",
    "EXIT_CLEAN",
    "EXIT_CRITICAL",
    "EXIT_DRIFT",
    "EXIT_UNREADABLE",
    "RUNTIME_TYPES",
    "build_parser",
    "cell",
    "code",
    "is_iam",
    "main",
]


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = Parser(
        prog="python -m infra.drift",
        description="Review drift in `terraform show -json` plan output; prints Markdown.",
        epilog="Exit: 0 no drift, 2 drift, 3 critical drift, 1 unreadable input.",
    )
    parser.add_argument("plan_json", help="output of `terraform show -json PLANFILE`")
    parser.add_argument(
        "--ignore",
        default=str(DEFAULT_IGNORE_FILE),
        help="ignore file (default: infra/terraform/drift-ignore.json)",
    )
    parser.add_argument(
        "--today", help="date used to expire ignore entries, YYYY-MM-DD (default: today)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the review; return the exit code."""
    try:
        args = build_parser().parse_args(argv)
        today = date.fromisoformat(args.today) if args.today else date.today()
    except UsageError as err:
        print(f"drift: usage: {err}", file=sys.stderr)
        return EXIT_UNREADABLE
    except ValueError:
        print(f"drift: --today {args.today!r} is not a YYYY-MM-DD date", file=sys.stderr)
        return EXIT_UNREADABLE
    try:
        plan = load_plan(args.plan_json)
        ignores = load_ignore_file(args.ignore)
    except InputError as err:
        print(f"drift: {err}", file=sys.stderr)
        return EXIT_UNREADABLE
    result = review(plan, ignores, today)
    sys.stdout.write(render(result))
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
