"""Synthesis: the stacks, their constructs and the app entry.

Importing this package silences jsii's Node end-of-life banner before any construct module
imports jsii, so every entry point (``python -m infra.main``, the tests, the benchmarks) is
as quiet as ``make synth``.
"""

from infra.cli import quiet_jsii

quiet_jsii()
