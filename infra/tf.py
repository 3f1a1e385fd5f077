"""``python -m infra.tf``: documented entry point; code in ``infra.terraform.tf``."""

import sys

from infra.terraform.tf import main

if __name__ == "__main__":
    sys.exit(main())
