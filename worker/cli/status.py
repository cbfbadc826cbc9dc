"""`mjw status`: per account (label), slots in use / cap, waiters, recent 429/499, balance."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from worker.capacity import metrics
from worker.runtime import Runtime
from worker.ttapi import errors


def account_status(rt: Runtime, *, live: bool = True) -> list[dict[str, Any]]:
    """One dict per configured account; `/info` is asked live unless `live` is False."""
    rows = []
    for label in rt.pool.labels:
        state = rt.guard.state(label)
        row: dict[str, Any] = {
            "account": label,
            "in_use": len(state.holders),
            "cap": state.cap,
            "waiting": len(state.waiters),
            "cooldown_ms": state.cooldown_ms,
            "effective_cap": state.effective_cap,  # a 499 taught: another client uses the key
            "recent_429": metrics.recent(rt.redis, label, 429, keys=rt.keys),
            "recent_499": metrics.recent(rt.redis, label, 499, keys=rt.keys),
            "in_rotation": rt.pool.disabled_reason(label) is None,
            "disabled_reason": rt.pool.disabled_reason(label),
            "balance": None,
        }
        stored = rt.redis.hgetall(rt.keys.info(label))
        if stored.get("balance"):
            row["balance"] = float(stored["balance"])
        if live:
            try:
                row["balance"] = rt.pool.client(label).info().balance
            except errors.TTAPIError as exc:
                row["info_error"] = str(exc)
        rows.append(row)
    return rows


def print_status(rows: list[dict[str, Any]], *, as_json: bool, console: Console) -> None:
    """Print the rows as a table, or as JSON for machines."""
    if as_json:
        console.print_json(json.dumps({"accounts": rows}))
        return
    table = Table(title="mj-worker accounts (last 5 minutes for 429/499)")
    for col in ("account", "slots", "waiting", "429", "499", "balance", "rotation"):
        table.add_column(col, justify="left" if col in ("account", "rotation") else "right")
    for r in rows:
        balance = "?" if r["balance"] is None else f"{r['balance']:g}"
        rotation = "in" if r["in_rotation"] else f"out: {r['disabled_reason']}"
        slots = f"{r['in_use']}/{r['cap']}"
        if r.get("effective_cap") is not None and r["effective_cap"] < r["cap"]:
            slots = f"{r['in_use']}/{r['effective_cap']} of {r['cap']}"
        table.add_row(
            r["account"],
            slots,
            str(r["waiting"]),
            str(r["recent_429"]),
            str(r["recent_499"]),
            balance,
            rotation,
        )
    console.print(table)
