"""``python -m infra.function_config``: documented entry point; code in ``infra.model.function_config``."""

import sys

from infra.model.function_config import main

if __name__ == "__main__":
    sys.exit(main())
