"""`mjw status`: per account slots / effective / cap, waiting, 429/499, balance, rotation;
then queue depths, workers online per queue, the pump's age, and ok or degraded with why.

It reads Redis only (accounts come from the `labels` registry too), so it needs no TTAPI key;
with keys configured it asks `/info` live for their balances unless `--no-info`, and it says
what it cannot show.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from worker.ops import liveness
from worker.ops.accounts import account_rows
from worker.ops.tenants import tenant_rows
from worker.ops.view import OpsView

InfoOf = Callable[[str], float | None]  # a configured label's live balance (raises TTAPIError)


def status_document(
    view: OpsView, info_of: InfoOf | None = None, *, tenants: bool = False
) -> dict[str, Any]:
    """Everything `mjw status` shows, JSON-ready; `info_of` asks TTAPI for balances; with
    `tenants`, the rows per tenant too (`worker.ops.tenants`)."""
    from worker.ttapi import errors

    rows = account_rows(view)
    notes = []
    if not view.configured:
        notes.append(
            "no TTAPI key configured here: accounts are those workers registered, balances "
            "the last /info a worker stored"
        )
    elif info_of is None:
        notes.append("balances are the last /info a worker stored (--no-info)")
    for row in rows:
        if info_of is not None and row["configured_here"]:
            try:
                row["balance"] = info_of(row["account"])
            except errors.TTAPIError as exc:
                row["info_error"] = str(exc)
    live = liveness.read(view).as_dict()
    doc = {"accounts": rows, **live, "notes": notes}
    if tenants:
        doc["tenants"] = tenant_rows(view)
    return doc


def render(doc: dict[str, Any]) -> RenderableType:
    """The status as rich tables: accounts, queues, workers, the verdict and notes."""
    accounts = Table(title="accounts (429/499: last 5 minutes)", title_justify="left")
    for col in ("account", "slots", "waiting", "429", "499", "balance", "rotation", "owner"):
        accounts.add_column(col, justify="left" if col in ("account", "rotation") else "right")
    for r in doc["accounts"]:
        balance = "?" if r["balance"] is None else f"{r['balance']:g}"
        rotation = "in" if r["in_rotation"] else f"out: {r['disabled_reason']}"
        slots = f"{r['in_use']}/{r['cap']}"
        if r["effective_cap"] is not None:
            slots = f"{r['in_use']}/{r['effective_cap']} of {r['cap']}"
        cells = (
            r["account"],
            slots,
            str(r["waiting"]),
            str(r["recent_429"]),
            str(r["recent_499"]),
            balance,
            rotation,
            r["owner"] or "-",
        )
        accounts.add_row(*(Text(c) for c in cells))  # data, never markup
    lines: list[RenderableType] = [accounts]
    if "tenants" in doc:
        lines.append(_tenants(doc["tenants"]))
    queues = Table(title="queues", title_justify="left")
    for col in ("queue", "messages", "workers online"):
        queues.add_column(col, justify="left" if col == "queue" else "right")
    for q in doc["queues"]:
        queues.add_row(Text(q["queue"]), str(q["messages"]), str(q["workers"]))
    online = [w for w in doc["workers"] if w["online"]]
    workers = ", ".join(f"{w['hostname']} ({', '.join(w['queues'])})" for w in online)
    pump = doc["pump"]
    ran = "no round recorded" if pump["age_s"] is None else f"{pump['age_s']:.0f}s ago"
    verdict = Text(doc["status"], style="bold green" if doc["status"] == "ok" else "bold yellow")
    lines += [
        queues,
        Text(f"workers online: {workers or 'none'}"),
        Text(f"pump: last ran {ran} (every {pump['interval_s']:g}s)"),
        Text.assemble("status: ", verdict),
    ]
    lines += [Text(f"  - {reason}", style="yellow") for reason in doc["reasons"]]
    lines += [Text(f"note: {note}", style="dim") for note in doc["notes"]]
    lines += [
        Text(f"note: {r['account']}: /info failed: {r['info_error']}", style="dim")
        for r in doc["accounts"]
        if r.get("info_error")
    ]
    return Group(*lines)


def _tenants(rows: list[dict[str, Any]]) -> Table:
    """Per tenant (MJ_TENANTS' names and `default`, which counts every other tenant)."""
    table = Table(title="tenants (share: of the recent slot-time)", title_justify="left")
    for col in ("tenant", "weight", "in progress", "waiting", "share", "today", "ok/failed"):
        table.add_column(col, justify="left" if col == "tenant" else "right")
    for t in rows:
        cap = "" if t["max_in_progress"] is None else f"/{t['max_in_progress']}"
        today = "-" if t["daily_jobs"] is None else f"{t['today']}/{t['daily_jobs']}"
        share = "-" if t["share"] is None else f"{t['share']:.0%}"
        ended = f"{t['ended']['success']}/{t['ended']['failed']}"
        cells = [t["tenant"], f"{t['weight']:g}", f"{t['in_progress']}{cap}", str(t["waiting"])]
        table.add_row(*(Text(c) for c in [*cells, share, today, ended]))
    return table


def as_json(doc: dict[str, Any]) -> str:
    """The document as indented JSON."""
    return json.dumps(doc, indent=2, default=str)


__all__ = ["as_json", "render", "status_document"]
