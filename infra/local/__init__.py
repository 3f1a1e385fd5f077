"""The local pipeline: the synthesized stack running on the official emulators.

``python -m infra.local up|down|status|demo|run-job`` (see ``__main__``). The pieces:

* ``topology``  — what the stack declares (topics, subscriptions, targets, invokers, jobs);
* ``freshness`` — whether the stack still matches the manifest and the functions' code;
* ``launch``    — the launch plan: what ``up`` starts, decided before anything starts;
* ``runner``    — ``up``/``down``/``status``: emulators, functions, supervisor, state.json;
* ``pubsub``    — the official Pub/Sub client on the emulator, one per process and host;
  ``pubsub_topology`` creates the stack's topics and subscriptions with it;
* ``emulators``, ``procs`` — the emulator processes, and every process by PID and group
  (ports come from the base layer, ``infra.ports``);
* ``supervisor``— the detached process running the fronts, simulators and scheduler;
* ``front``     — per-target reverse proxy enforcing ``roles/run.invoker`` from the stack;
* ``simulator`` — contract simulators for the Cloud Run services this repo does not own;
* ``demo``      — one game day, printed as a Markdown timeline;
* ``drills``    — each outage class (``drill_cases``) re-enacted on its own broken copy of
  the stack (``drill_stacks``), the canary run on a simulated clock (``drill_day``), and
  the classes only alert policies see (``coverage``): ``python -m infra.local drill``.
"""

from infra.local.errors import LocalError
from infra.local.runner import UpOptions, down, read_state, status, up

__all__ = ["LocalError", "UpOptions", "down", "read_state", "status", "up"]
