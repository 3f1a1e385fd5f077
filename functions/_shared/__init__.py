"""Code both functions ship: the Firestore completion model, structured logs, configuration.

The bundler adds this package to every function's zip at ``functions/_shared/``, the path it
has in the repository, beside the function's own package ``functions/<name>/`` and the
``main.py`` the runtime loads from the zip root. Functions therefore import it, and their own
modules, by the same absolute name everywhere: in the repository, in the tests and in the
deployed zip. It imports no Google client at import time, so a cold start stays light, and it
never imports ``infra`` (which does not ship).
"""
