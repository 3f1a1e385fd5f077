"""A gate's configuration in the drift review: which environment variables configure a gate
(what it expects, where it publishes, the canary's view of the gates), how their values
compare (as the functions read them), and how a change of one is described. Used by
``infra.terraform.drift_classify``, which makes the finding."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Literal

from infra.terraform.plan_json import (
    SENSITIVE,
    AttrChange,
    AttrPath,
    ResourceChange,
    format_path,
    named_steps,
    render_value,
)


def last_segment(name: str) -> str:
    """``projects/p/locations/l/services/svc`` → ``svc``."""
    return name.rstrip("/").rsplit("/", 1)[-1]


# A gate's configuration: what it expects, the phase and transition it gates, where it
# publishes the trigger, and the canary's view of the gates. The stack generates these
# environment variables from the manifest (`infra.model.function_config.function_env`);
# changed out of band, a gate waits for a processor that never completes, fires without one
# or publishes where nobody listens, and nothing fails loudly (the 3-day configuration-drift
# outage: a disabled processor added back to EXPECTED_PROCESSORS by hand). Any function
# whose environment carries one of them is a gate; no function is named here. Variable ->
# what the change does, grouped by where each is read.
GATE_VARIABLES: dict[str, str] = {
    # functions/phase3_to_phase4/config.py, `Config.from_env` (the orchestrator):
    "EXPECTED_PROCESSORS": "the gate would wait for / skip a processor",
    "TRIGGER_TOPIC": "the gate would publish the trigger where the next phase does not listen",
    "SOURCE_PHASE": "the gate would count another phase's completions",
    "TRANSITION": "the gate would claim and record the transition under another name",
    "KNOWN_PHASES": "the gate would reject completions of a phase it no longer knows",
    "COMPLETION_COLLECTION": "the gate would count completions in another collection",
    # functions/pipeline_canary/config.py, `load_transitions` and `load_dead_letter_queues`:
    "GATED_TRANSITIONS": "the canary would check the gates against another expectation",
    "DEAD_LETTER_SUBSCRIPTIONS": "the canary would watch other dead-letter queues",
}
# Where a function keeps its environment in the plan JSON:
# `service_config[0].environment_variables` (a map). Where it listens,
# `event_trigger[0].pubsub_topic`, is in `DELIVERY_CRITICAL_PATHS`.
GATE_ENV_PATHS: dict[str, tuple[str, ...]] = {
    "google_cloudfunctions2_function": ("service_config", "environment_variables"),
}
# Gate variables are compared as the functions read them, not as text. Every list they carry
# is a set: the orchestrator sorts EXPECTED_PROCESSORS and only tests membership in
# KNOWN_PHASES; the canary sorts each transition's `expected` and checks transitions and
# dead-letter queues one by one. So the same names in another order (or other JSON spacing,
# or surrounding blanks, which `require_env` strips) are ordinary drift, reported as such;
# a different set (a name added, removed or repeated) is critical. The functions accept only
# a JSON array for a list (`_json_names`, `_json_array`; no comma lists), so a value that is
# no longer one is a different value, and critical: the function rejects it when it starts.
# A value that appears or disappears is a change too.
GATE_VALUE_LIMIT = 400  # in the finding's text
CELL_LIMIT = 100  # in its before/after cells, as `render_value` does


def gate_variable(rc: ResourceChange, path: AttrPath) -> str | None:
    """The `GATE_VARIABLES` name `path` is in a function's environment, else None."""
    env = GATE_ENV_PATHS.get(rc.resource_type)
    steps = named_steps(path)
    if env and steps[:-1] == env and steps[-1:] and steps[-1] in GATE_VARIABLES:
        return steps[-1]
    return None


def gates_inside(rc: ResourceChange, change: AttrChange) -> list[tuple[str, Any, Any]]:
    """(variable, before, after) of each gate variable that changed inside `change`, when
    `change` is a block reported whole (masked) that holds a function's environment."""
    env = GATE_ENV_PATHS.get(rc.resource_type)
    steps = named_steps(change.path)
    if not env or len(steps) > len(env) or env[: len(steps)] != steps:
        return []
    rest = env[len(steps) :]
    before, after = _env_map(change.before, rest), _env_map(change.after, rest)
    return [
        (name, before.get(name), after.get(name))
        for name in GATE_VARIABLES
        if not same_gate_value(before.get(name), after.get(name))
    ]


def _env_map(value: Any, names: tuple[str, ...]) -> dict[str, Any]:
    """The map `names` lead to under `value`, through blocks (one-element lists); {} if none."""
    while isinstance(value, list):
        value = value[0] if value else None
    if not names:
        return value if isinstance(value, dict) else {}
    return _env_map(value.get(names[0]) if isinstance(value, dict) else None, names[1:])


def gate_form(value: Any) -> Any:
    """A gate variable's value as a function reads it (see `GATE_VARIABLES`): JSON arrays and
    objects decoded with every list sorted, any other text stripped; None when unset."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        decoded = json.loads(text)
    except ValueError:
        return text
    return _unordered(decoded) if isinstance(decoded, list | dict) else text


def _unordered(value: Any) -> Any:
    """`value` with every list sorted, at any depth (the lists of gate variables are sets)."""
    if isinstance(value, dict):
        return {key: _unordered(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((_unordered(item) for item in value), key=_canonical)
    return value


def _canonical(value: Any) -> str:
    """One text per value: 30 and 30.0, or 1 and true, stay different (the canary tells)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def same_gate_value(before: Any, after: Any) -> bool:
    """Whether a function reads both values of a gate variable alike (order aside)."""
    return _canonical(gate_form(before)) == _canonical(gate_form(after))


def gate_change(
    rc: ResourceChange, change: AttrChange, variable: str, before: Any, after: Any
) -> tuple[Literal["critical", "drift"], str, str, str]:
    """Critical when a gate variable now reads differently; drift when only its order (or
    spelling) changed. Values are shown as written: a JSON array stays readable."""
    sensitive = change.sensitive
    shown = (_gate_text(before, sensitive, CELL_LIMIT), _gate_text(after, sensitive, CELL_LIMIT))
    if same_gate_value(before, after):
        what = (
            f"`{format_path(change.path)}` changed out of band: the same {variable} in another "
            "order or spelling, read alike by the function (drift, not critical)"
        )
        return ("drift", what, *shown)
    function = last_segment(str(rc.value("name") or "")) or rc.address
    old, new = (_code_span(_gate_text(v, sensitive, GATE_VALUE_LIMIT)) for v in (before, after))
    detail = "" if sensitive else _gate_detail(before, after)
    what = (
        f"gate configuration changed out of band: {variable} of {function} {old} → {new} "
        f"({GATE_VARIABLES[variable]}{detail})"
    )
    return ("critical", what, *shown)


def _gate_text(value: Any, sensitive: bool, limit: int) -> str:
    """A gate variable's value as written (not JSON-quoted), losing its middle past `limit`."""
    if sensitive:
        return SENSITIVE
    if not isinstance(value, str):
        return render_value(value, limit=limit)
    if len(value) <= limit:
        return value
    head = (limit - 1) // 2
    return value[:head] + "…" + value[-(limit - 1 - head) :]


def _code_span(text: str) -> str:
    """`text` as a Markdown code span, also when it holds a backtick."""
    return f"`{text}`" if "`" not in text else f"`` {text} ``"


def _gate_detail(before: Any, after: Any) -> str:
    """`: added `c`; removed `b`` for a list variable, naming the entries that differ."""
    old, new = gate_form(before), gate_form(after)
    if isinstance(old, list) and after is not None and not isinstance(new, list):
        return "; no longer a JSON array, which the function rejects when it starts"
    if not isinstance(old, list) or not isinstance(new, list):
        return ""
    old_items, new_items = Counter(map(_item, old)), Counter(map(_item, new))
    parts = [
        f"{label} " + ", ".join(f"`{item}`" for item in sorted(items.elements()))
        for label, items in (("added", new_items - old_items), ("removed", old_items - new_items))
        if items
    ]
    return ": " + "; ".join(parts) if parts else ""


def _item(value: Any) -> str:
    """One entry of a list variable: a name as is, anything else as (shortened) JSON."""
    return value if isinstance(value, str) else render_value(value, limit=GATE_VALUE_LIMIT)
