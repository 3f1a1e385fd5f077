"""``python -m infra.local up|down|status|demo|run-job|drill`` — the local pipeline CLI.

    up       start the emulators and serve the synthesized stack (--env, --stack)
    down     stop everything ``up`` started (by PID and process group)
    status   what runs, and whether each front listens
    demo     drive one game day and print its timeline
    run-job  fire a scheduler job now, through its target's front under its identity
    drill    re-enact each outage class on its own emulators and print what detected it
             (exit 0 when every drill is detected within its limit, no false alarm; else 1)
    serve    (internal) the supervisor ``up`` starts in the background

Errors are one line naming the fix, ``local: error: ...``: exit 1, or 2 for a bad command
line (an unknown ``--env`` included).
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from infra.cli import EXIT_USAGE, Parser, add_env_argument
from infra.local.drill_names import ALL_DRILLS
from infra.local.errors import LocalError
from infra.local.runner import DEFAULT_WORKDIR, UpOptions, down, read_state, status, up

TOOL = "local: error"
"""How every error line starts; a bad command line (every subcommand's) exits ``EXIT_USAGE``."""


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m infra.local", description=__doc__, tool=TOOL, code=EXIT_USAGE,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR,
                       help="state, logs, bundles and records (default: .local/)")
        add_env_argument(p, default="dev", help="environment whose stack runs (default: dev)")

    p_up = sub.add_parser("up", help="start the local pipeline", tool=TOOL, code=EXIT_USAGE)
    common(p_up)
    p_up.add_argument("--stack", type=Path, default=None,
                      help="synthesized stack "
                           "(default: cdktf.out/stacks/pipeline-<env>/cdk.tf.json)")
    p_up.add_argument("--project", default=None,
                      help="emulator project id (default: the stack's project)")
    p_up.add_argument("--pubsub-port", type=int, default=None, help="default: a free port")
    p_up.add_argument("--firestore-port", type=int, default=None, help="default: a free port")
    p_up.add_argument("--no-scheduler", action="store_true",
                      help="do not fire scheduler jobs on their cron (run-job still works)")
    p_up.add_argument("--heap-mb", type=int, default=256, help="emulator JVM heap (default 256)")
    for name, text in (("down", "stop everything up started"), ("status", "what runs")):
        common(sub.add_parser(name, help=text, tool=TOOL, code=EXIT_USAGE))
    p_demo = sub.add_parser("demo", help="drive one game day and print its timeline",
                            tool=TOOL, code=EXIT_USAGE)
    common(p_demo)
    p_demo.add_argument("--date", default=None,
                        help="game date YYYY-MM-DD (default: today in America/New_York, or "
                             "the latest earlier date an earlier run has not used)")
    p_demo.add_argument("--timeout", type=float, default=60.0, help="seconds (default 60)")
    p_job = sub.add_parser("run-job", help="fire a scheduler job now", tool=TOOL, code=EXIT_USAGE)
    common(p_job)
    p_job.add_argument("job", help="job name (with or without the sport prefix), its "
                                   "manifest key, or the target only it calls")
    p_drill = sub.add_parser("drill", help="re-enact each outage class and print what "
                             "detected it", tool=TOOL, code=EXIT_USAGE)
    common(p_drill)
    p_drill.add_argument("names", nargs="*", metavar="NAME",
                         help="drills to run (default: all): " + ", ".join(ALL_DRILLS))
    p_drill.add_argument("--stack", type=Path, default=None,
                         help="synthesized stack "
                              "(default: cdktf.out/stacks/pipeline-<env>/cdk.tf.json)")
    p_drill.add_argument("--heap-mb", type=int, default=256,
                         help="emulator JVM heap (default 256)")
    p_serve = sub.add_parser("serve", help=argparse.SUPPRESS, tool=TOOL, code=EXIT_USAGE)
    p_serve.add_argument("--workdir", type=Path, required=True)
    return parser


def _run_job(workdir: Path, name: str, env_name: str) -> int:
    from infra.local.launch import find_job, job_keys
    from infra.local.runner import load_plan
    from infra.local.supervisor import JobCall, fire_job
    from infra.model.envs import get_env
    from infra.model.pipeline import load

    state = read_state(workdir)
    env = get_env(str(state.get("env") or env_name))  # the env of the stack that runs
    jobs = [JobCall(**j) for j in load_plan(workdir)["jobs"]]
    job = find_job(jobs, name, env.sport, job_keys(load(), env))
    attempts = fire_job(job)
    for n, (code, _body) in enumerate(attempts, 1):
        print(f"run-job: {job.name} → {job.target}{job.path} as {job.identity}: attempt {n}: "
              f"HTTP {code}")
    print(attempts[-1][1])
    return 0 if 200 <= attempts[-1][0] < 300 else 1


_SAY_LOCK = threading.Lock()


def _say(line: str) -> None:
    """One progress line, whole, whichever thread says it (topologies start side by side)."""
    with _SAY_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def _drill(workdir: Path, env: str, stack: Path | None, names: list[str], heap_mb: int) -> int:
    """Start the emulators, run the drills on them, stop them; print the table."""
    from infra.local import emulators
    from infra.local.drill_names import select
    from infra.local.drills import DrillOptions, run_drills, table
    from infra.local.runner import default_stack

    try:
        select(names)  # an unknown name is a bad command line: refused before anything starts
    except LocalError as exc:
        print(f"local: error: {exc}", file=sys.stderr)
        return 2
    workdir = workdir.resolve()
    logs = workdir / "drills" / "emulators"
    logs.mkdir(parents=True, exist_ok=True)
    print(f"drill: starting the Pub/Sub and Firestore emulators (logs {logs})", flush=True)
    try:
        with emulators.emulators(logs, heap_mb=heap_mb) as running:
            hosts = {"pubsub": running.pubsub.address, "firestore": running.firestore.address}
            rows = run_drills(DrillOptions(stack=stack or default_stack(env), workdir=workdir,
                                           emulator_hosts=hosts, env=env, names=tuple(names)),
                              say=_say)
    except emulators.EmulatorError as exc:
        raise LocalError(str(exc)) from exc
    print("")
    print(table(rows))
    failed = [r.drill for r in rows if not r.ok]
    print("")
    print(f"drill: {len(rows) - len(failed)}/{len(rows)} ok"
          + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            from infra.local.supervisor import serve

            return serve(args.workdir)
        if args.command == "up":
            up(UpOptions(env=args.env, stack=args.stack, workdir=args.workdir,
                         project=args.project, pubsub_port=args.pubsub_port,
                         firestore_port=args.firestore_port, scheduler=not args.no_scheduler,
                         heap_mb=args.heap_mb))
            return 0
        if args.command == "down":
            down(args.workdir)
            return 0
        if args.command == "status":
            return status(args.workdir)
        if args.command == "demo":
            from infra.local.demo import run_demo

            return run_demo(args.workdir, args.date, args.timeout)
        if args.command == "drill":
            return _drill(args.workdir, args.env, args.stack, args.names, args.heap_mb)
        return _run_job(args.workdir, args.job, args.env)
    except LocalError as exc:
        print(f"local: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("local: interrupted; everything this command started was stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
