"""bench/README.md states the resource and submodule counts of today's synth."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "bench" / "README.md"


def managed_resources(stack) -> int:
    return sum(1 for address in stack.resources if not address.startswith("data."))


def stated(pattern: str) -> int:
    match = re.search(pattern, README.read_text())
    assert match, f"bench/README.md no longer says {pattern!r}"
    return int(match.group(1))


def test_resource_count_matches_the_synthesized_stacks(prod, dev):
    count = stated(r"\(two environments, (\d+) resources each\)")
    assert (managed_resources(dev), managed_resources(prod)) == (count, count), \
        "update the resource count in bench/README.md"


def test_submodule_count_matches_what_infra_imports():
    spec = importlib.util.spec_from_file_location("bench_synth", ROOT / "bench" / "synth.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert len(bench.provider_modules()) == stated(r"loading (\d+) provider submodules"), \
        "update the submodule count in bench/README.md"
