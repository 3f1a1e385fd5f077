"""``python -m infra.plan_summary``: documented entry point; code in ``infra.terraform.plan_summary``."""

import sys

from infra.terraform.plan_summary import main

if __name__ == "__main__":
    sys.exit(main())
