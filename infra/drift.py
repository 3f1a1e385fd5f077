"""``python -m infra.drift``: documented entry point; code in ``infra.terraform.drift``."""

import sys

from infra.terraform.drift import main

if __name__ == "__main__":
    sys.exit(main())
