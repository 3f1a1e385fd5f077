"""Synthesize dev stack variants for the integration session, in one process.

``python tests/integration/synth_variants.py OUTDIR PROCESSOR VARIANT...`` writes
``OUTDIR/<variant>`` for each of ``base`` (the pipeline as declared) and ``disabled``
(PROCESSOR switched off), and prints ``{"<variant>": "<path of cdk.tf.json>", ...}``. Run as
a subprocess so its ~15 s of jsii start-up overlaps with the emulators booting.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from infra.model.pipeline import load
from infra.synth.app import synthesize


def main(outdir: Path, processor: str, names: list[str]) -> None:
    manifest = load()
    variants = {"base": manifest, "disabled": manifest.with_processor_enabled(processor, False)}
    paths = {}
    for name in names:
        target = outdir / name
        target.mkdir(parents=True, exist_ok=True)
        stacks = synthesize(variants[name], ("dev",), outdir=target,
                            bundle_dir=outdir / "bundles")
        paths[name] = str(stacks["pipeline-dev"])
    print(json.dumps(paths))


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3:])
