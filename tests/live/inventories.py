"""Recorded inventories (``recorded/adoption/``) served the way the live readers return them."""

from __future__ import annotations

import json
import re
from pathlib import Path

from infra.live.inventory import InventoryReader

ADOPTION = Path(__file__).resolve().parent / "recorded" / "adoption"


def recorded_inventory(inventory: str, triggers: str | None = None) -> InventoryReader:
    """An ``InventoryReader`` serving ``<inventory>.inventory.json`` and, per location asked
    for, the triggers of ``<triggers>.triggers.json`` (default: the same name) there."""

    def search(project: str) -> list[dict]:
        return json.loads((ADOPTION / f"{inventory}.inventory.json").read_text())

    def list_triggers(project: str, locations) -> list[dict]:
        found = json.loads((ADOPTION / f"{triggers or inventory}.triggers.json").read_text())
        out = []
        for loc in locations:
            for t in found:
                m = re.search(r"/locations/([^/]+)/", t.get("resourceName", ""))
                if (m.group(1) if m else "global") == loc:
                    out.append(t)
        return out

    return InventoryReader(search, list_triggers)


CLEAN = recorded_inventory("clean")
"""The seeds' project after the cut-over: nothing removed is live, no second deploy path."""
