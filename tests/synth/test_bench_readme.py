"""bench/README.md describes the synth it measured: its size and the submodules it loads.

The resource count there is part of a dated measurement, like the timings beside it, not a
restatement of today's manifest: adding a job or a service adds a few resources and must not
mean editing a benchmark that was not re-run. The test only keeps it describing a comparable
stack (within ``SAME_SIZE`` of what the synthesized stacks hold now); a change of that size
changes what the timings mean, so the benchmark is re-run and the README updated. The
submodule count is code, not manifest, and is exact.
"""

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


SAME_SIZE = 0.25
"""How far today's stacks may be from the measured size before the benchmark is re-run."""


def test_the_measured_resource_count_describes_a_stack_of_todays_size(prod, dev):
    measured = stated(r"\(two environments, (\d+) resources each when measured;")
    for stack in (dev, prod):
        now = managed_resources(stack)
        assert abs(now - measured) <= SAME_SIZE * now, (
            f"bench/README.md measured stacks of {measured} resources; they now hold {now}: "
            "re-run bench/synth.py and update its numbers")


def test_submodule_count_matches_what_infra_imports():
    spec = importlib.util.spec_from_file_location("bench_synth", ROOT / "bench" / "synth.py")
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert len(bench.provider_modules()) == stated(r"loading (\d+) provider submodules"), \
        "update the submodule count in bench/README.md"
