"""Full synth time as a ratio to the floor, measured in one run, and the jsii round trips of a synth.

Floor: a Python process that imports exactly the provider submodules the stack imports,
builds an App with an empty stack and synthesizes it (jsii start-up, module loading and the
synth itself). Full: ``python -m infra.main --quiet`` (both stacks, bundles, summary off).
Prints the median of ``--runs`` runs of each, interleaved, after one untimed run of each, and
the ratio (target <= 1.3). Both run with Python's bytecode cache on (``PYTHONDONTWRITEBYTECODE``
dropped), as a repeated ``make synth`` does.

Then, in one more run of each that is not timed, the requests Python sent the jsii Node
process (each a round trip), by kind: ``create`` (a construct or struct-holding object),
``invoke``/``sinvoke`` (a method, static method), ``get``/``set``/``sget`` (a property),
``callback`` (an answer to a call from JavaScript into Python), ``load`` (an assembly). They
are counted by wrapping ``jsii._kernel.providers.process._NodeProcess.send``, the one function
every request goes through, in that run only. Most of a synth's own time is these round
trips, so a change that adds some shows here even when the timings are noisy. ``--sites N``
also prints the N places in ``infra/`` that send the most.
"""

from __future__ import annotations

import argparse
import ast
import collections
import json
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
TARGET = 1.3

KINDS = {
    "CreateRequest": "create", "InvokeRequest": "invoke", "StaticInvokeRequest": "sinvoke",
    "GetRequest": "get", "SetRequest": "set", "StaticGetRequest": "sget",
    "StaticSetRequest": "sset", "_CompleteRequest": "callback", "CompleteRequest": "complete",
    "LoadRequest": "load", "DeleteRequest": "delete", "BeginRequest": "begin",
    "StaticBeginRequest": "sbegin", "EndRequest": "end", "CallbacksRequest": "callbacks",
}
"""jsii kernel request class → the kind of round trip it is."""


def provider_modules() -> list[str]:
    """Every ``cdktn_provider_google.*`` submodule imported anywhere under infra/."""
    mods: set[str] = set()
    for path in (ROOT / "infra").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "cdktn_provider_google."):
                mods.add(node.module or "")
    return sorted(mods)


def floor_script(outdir: str) -> str:
    imports = "\n".join(f"import {m}" for m in provider_modules())
    return (
        f"{imports}\nfrom cdktn import App, TerraformStack\n"
        "from cdktn_provider_google.provider import GoogleProvider\n"
        f"app = App(outdir={outdir!r})\n"
        "stack = TerraformStack(app, 'floor')\n"
        "GoogleProvider(stack, 'google', project='p', region='us-west2')\n"
        "app.synth()\n"
    )


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


# ----- counting round trips (in a child process: ``--count``) -------------------------------

def _count(target: str, outdir: str, sites: int) -> None:
    """Run ``target`` (``full``: ``infra.main --quiet``; else a script path) with every jsii
    request counted; print the counts (and the top ``sites`` call sites) as one JSON line."""
    from jsii._kernel.providers import process

    kinds: collections.Counter[str] = collections.Counter()
    where: collections.Counter[str] = collections.Counter()
    send = process._NodeProcess.send
    infra = str(ROOT / "infra")

    def counted(self: Any, request: Any, response_type: Any) -> Any:
        kind = KINDS.get(type(request).__name__, type(request).__name__)
        kinds[kind] += 1
        if sites and kind != "load":
            own = [f for f in traceback.extract_stack() if f.filename.startswith(infra)]
            if own:
                f = own[-1]
                where[f"{kind:8s} {Path(f.filename).relative_to(ROOT)}:{f.lineno} {f.name}"] += 1
        return send(self, request, response_type)

    setattr(process._NodeProcess, "send", counted)  # noqa: B010 (the bench's run only)
    if target == "full":
        sys.path.insert(0, str(ROOT))
        from infra.synth.main import main
        if main(["--quiet", "--outdir", outdir]) != 0:
            raise SystemExit("synth failed")
    else:
        runpy.run_path(target, run_name="__main__")
    print(json.dumps({"kinds": dict(kinds), "sites": where.most_common(sites)}))


class Trips(NamedTuple):
    """The round trips of one run: count by kind, and the busiest call sites in infra/."""

    kinds: dict[str, int]
    sites: list[tuple[str, int]]


def round_trips(target: str, outdir: str, env: dict[str, str], sites: int = 0) -> Trips:
    """The counts ``_count`` prints, from a fresh interpreter."""
    out = subprocess.run([sys.executable, __file__, "--count", target, "--outdir", outdir,
                          "--sites", str(sites)],
                         cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    counts = json.loads(out.strip().splitlines()[-1])
    return Trips(counts["kinds"], [(site, n) for site, n in counts["sites"]])


def describe(kinds: dict[str, int]) -> str:
    """``1,239 (create 513, invoke 427, …) + 3 load``: the assembly loads apart, they are
    start-up, not synth."""
    synth = {k: n for k, n in kinds.items() if k != "load"}
    parts = ", ".join(f"{k} {n:,}" for k, n in sorted(synth.items(), key=lambda kv: -kv[1]))
    return f"{sum(synth.values()):,} ({parts}) + {kinds.get('load', 0)} load"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sites", type=int, default=0, metavar="N",
                        help="also print the N call sites in infra/ sending the most requests")
    parser.add_argument("--count", metavar="TARGET", help=argparse.SUPPRESS)
    parser.add_argument("--outdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.count:
        _count(args.count, args.outdir, args.sites)
        return 0
    env = os.environ | {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
                        "CHECKPOINT_DISABLE": "1"}
    # Both are timed as a repeated synth is: reading the modules Python compiled before (one
    # untimed run of each first), never compiling the repository's sources on every run.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    full_times, floor_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        floor_py = Path(tmp) / "floor.py"
        floor_py.write_text(floor_script(str(Path(tmp) / "out")))
        timed([sys.executable, str(floor_py)], env)
        timed([sys.executable, "-m", "infra.main", "--quiet", "--outdir", str(Path(tmp) / "full")],
              env)
        for i in range(args.runs):
            floor_times.append(timed([sys.executable, str(floor_py)], env))
            full_times.append(timed([sys.executable, "-m", "infra.main", "--quiet",
                                     "--outdir", str(Path(tmp) / "full")], env))
            print(f"run {i + 1}/{args.runs}: floor {floor_times[-1]:.2f}s  "
                  f"full {full_times[-1]:.2f}s", flush=True)
        full_trips = round_trips("full", str(Path(tmp) / "counted"), env, args.sites)
        floor_trips = round_trips(str(floor_py), str(Path(tmp) / "out"), env)
    floor, full = statistics.median(floor_times), statistics.median(full_times)
    print(f"provider submodules imported: {len(provider_modules())}")
    print(f"floor (empty stack, same imports): {floor:.2f}s median")
    print(f"full synth (dev + prod):           {full:.2f}s median")
    print(f"ratio full/floor: {full / floor:.2f} (target <= {TARGET})")
    print(f"jsii round trips, full synth: {describe(full_trips.kinds)}")
    print(f"jsii round trips, floor:      {describe(floor_trips.kinds)}")
    for site, n in full_trips.sites:
        print(f"  {n:5d}  {site}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
