"""``python -m infra.adopt --env ENV --inventory FILE [--triggers FILE] [--stack FILE]``.

Matches the recorded live inventory to the synthesized stack of ENV, writes the adoption
record ``infra/adoption/<env>.json`` (the imports the next synth declares) and prints the
Markdown adoption report. Exit: 0 adoptable, nothing to act on; 2 adoptable, findings to act
on; 3 blocked (adopting would replace something; nothing written); 1 unreadable input (one
line naming the file; nothing written).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from infra.cli import Parser, UsageError, add_env_argument, fail
from infra.errors import InputError
from infra.live.adopt_inputs import load_inventory, load_triggers
from infra.live.adopt_report import EXIT_BLOCKED, plan_adoption, render
from infra.model.adoption import ADOPTION_DIR, record_path, render_record
from infra.model.envs import get_env
from infra.model.pipeline import load
from infra.paths import DEFAULT_OUTDIR, stack_file
from infra.stackjson.stack import StackJson

EXIT_UNREADABLE = 1
TOOL = "adopt"


def build_parser() -> Parser:
    parser = Parser(prog="python -m infra.adopt",
                    description="Match the live inventory to the stack; write the adoption "
                                "record and print the adoption report.",
                    epilog="Exit: 0 adoptable, 2 findings to act on, 3 blocked, 1 unreadable "
                           "input.")
    add_env_argument(parser, required=True)
    parser.add_argument("--inventory", required=True, type=Path,
                        help="gcloud asset search-all-resources --format=json output")
    parser.add_argument("--triggers", type=Path,
                        help="gcloud builds triggers list --format=json output")
    parser.add_argument("--stack", type=Path,
                        help="synthesized cdk.tf.json; default cdktf.out/stacks/pipeline-ENV "
                             "(under $CDKTF_OUTDIR when set, where `make synth` writes it)")
    parser.add_argument("--adoption-dir", type=Path, default=ADOPTION_DIR,
                        help="where <env>.json is written; default infra/adoption")
    return parser


def _load_stack(path: Path) -> StackJson:
    try:
        return StackJson.load(path)
    except FileNotFoundError:
        raise InputError(path, "no synthesized stack; run `make synth` first") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a readable synthesized stack ({exc})") from exc


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except UsageError as err:
        return fail(TOOL, f"usage: {err}", EXIT_UNREADABLE)
    env = get_env(args.env)
    try:
        stack = _load_stack(args.stack or stack_file(
            env.name, Path(os.environ.get("CDKTF_OUTDIR", DEFAULT_OUTDIR))))
        lives = load_inventory(args.inventory, env.project_id)
        triggers = load_triggers(args.triggers)
    except InputError as err:
        return fail(TOOL, str(err), EXIT_UNREADABLE)
    adoption = plan_adoption(stack, load(), env, lives, triggers)
    print(render(adoption, str(args.inventory), str(args.triggers) if args.triggers else None))
    code = adoption.exit_code
    if code == EXIT_BLOCKED:
        print(f"adopt: blocked; {record_path(env.name, args.adoption_dir)} left unchanged",
              file=sys.stderr)
        return code
    out = record_path(env.name, args.adoption_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_record(env.name, env.project_id, adoption.imports, adoption.kept,
                                 adoption.changes, dict(adoption.services)))
    print(f"adopt: wrote {out} ({len(adoption.imports)} imports); run `make synth` then "
          f"`make plan ENV={env.name}`", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
