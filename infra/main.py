"""``python -m infra.main``: documented entry point; code in ``infra.synth.main``."""

import sys

from infra.synth.main import main

if __name__ == "__main__":
    sys.exit(main())
