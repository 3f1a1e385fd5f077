"""``python -m infra.adopt``: documented entry point; code in ``infra.live.adopt``."""

import sys

from infra.live.adopt import main

if __name__ == "__main__":
    sys.exit(main())
