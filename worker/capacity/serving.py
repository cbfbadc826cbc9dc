"""Which accounts the live worker nodes serve, read from their heartbeats.

Every worker node's heartbeat (`keys.workers`, written by `worker.adapter.heartbeat`) lists the
account labels it is configured with. During a rollout (a key rotated, added or rolled back)
nodes with different keys run side by side: a label a node does not know is another node's
as long as a live node lists it, and removed from the configuration only once none does.
Heartbeats of workers older than the `labels` field list nothing: while one of those is live,
nobody can tell from heartbeats alone (`Served.complete` is False).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from worker.keys import Keys
from worker.text import text


@dataclass(frozen=True)
class Served:
    """The labels live workers serve; `complete` when every live worker says what it serves
    (and at least one is live)."""

    labels: frozenset[str]
    complete: bool


def served(client: Any, keys: Keys) -> Served:
    """What the live heartbeats say (one HGETALL and Redis's TIME; a rare path: a record
    whose account this process does not know)."""
    seconds, micros = client.time()
    now = int(seconds) + int(micros) / 1e6
    labels: set[str] = set()
    live = older = 0
    for raw in dict(client.hgetall(keys.workers)).values():
        try:
            beat = json.loads(text(raw))
            fresh = float(beat["at"]) + float(beat["stale_after"]) >= now
        except (ValueError, KeyError, TypeError):
            continue
        if not fresh:
            continue
        live += 1
        if isinstance(beat.get("labels"), list):
            labels.update(str(label) for label in beat["labels"])
        else:
            older += 1
    return Served(frozenset(labels), complete=live > 0 and older == 0)


__all__ = ["Served", "served"]
