"""``python -m infra.verify``: documented entry point; code in ``infra.live.verify``."""

import sys

from infra.live.verify import main

if __name__ == "__main__":
    sys.exit(main())
