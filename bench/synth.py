"""Full synth time as a ratio to the floor, measured in one run.

Floor: a Python process that imports exactly the provider submodules the stack imports,
builds an App with an empty stack and synthesizes it (jsii start-up, module loading and the
synth itself). Full: ``python -m infra.main --quiet`` (both stacks, bundles, summary off).
Prints the median of ``--runs`` runs of each, interleaved, and the ratio (target <= 1.5).
"""

from __future__ import annotations

import argparse
import ast
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = os.environ | {"JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
                        "CHECKPOINT_DISABLE": "1"}
    full_times, floor_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        floor_py = Path(tmp) / "floor.py"
        floor_py.write_text(floor_script(str(Path(tmp) / "out")))
        for i in range(args.runs):
            floor_times.append(timed([sys.executable, str(floor_py)], env))
            full_times.append(timed([sys.executable, "-m", "infra.main", "--quiet",
                                     "--outdir", str(Path(tmp) / "full")], env))
            print(f"run {i + 1}/{args.runs}: floor {floor_times[-1]:.2f}s  "
                  f"full {full_times[-1]:.2f}s", flush=True)
    floor, full = statistics.median(floor_times), statistics.median(full_times)
    print(f"provider submodules imported: {len(provider_modules())}")
    print(f"floor (empty stack, same imports): {floor:.2f}s median")
    print(f"full synth (dev + prod):           {full:.2f}s median")
    print(f"ratio full/floor: {full / floor:.2f} (target <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
