"""`mjw jobs` and `mjw show ID`: job listings and one job in full, as tables or JSON.

The data comes from `worker.ops.jobs` and `worker.ops.show` (Redis only); this module only
lays it out for a terminal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

TITLES = {
    "waiting": "waiting (parked; position 1 is next)",
    "active": "in flight (holding a slot)",
    "recent": "recently ended",
    "failed": "recently failed or revoked",
}


def listing_table(kind: str, rows: list[dict[str, Any]]) -> Table:
    """One listing as a table; the columns depend on the kind."""
    table = Table(title=f"{TITLES[kind]}: {len(rows)}", title_justify="left")
    columns = ["job", "account", "tenant", "step", "state"]
    columns += {
        "waiting": ["#", "waiting"],
        "active": ["progress", "running"],
        "recent": ["took", "ended", "image"],
        "failed": ["ended", "why"],
    }[kind]
    columns.append("prompt")
    for col in columns:
        table.add_column(col, overflow="fold" if col in ("why", "image") else "ellipsis")
    for r in rows:
        cells = [r["job_id"], r["account"], _caller(r), r["action"], r["state"]]
        if kind == "waiting":
            cells += [str(r.get("position", "")), _secs(r["age_s"])]
        elif kind == "active":
            since = r["submitted_at"] or r["created_at"]
            cells += [f"{r['progress']}%", _clock(since)]
        elif kind == "recent":
            cells += [_secs(r["duration_s"]), _clock(r["finished_at"]), r["image_url"] or "-"]
        else:
            cells += [_clock(r["finished_at"]), r["error"] or "-"]
        cells.append(r["prompt"][:60])
        table.add_row(*(Text(str(c)) for c in cells))  # data, never markup
    return table


def show_view(doc: dict[str, Any]) -> RenderableType:
    """One job: what it is, where it is, its steps, timings, images and error."""
    lines: list[RenderableType] = []
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    place = doc.get("guard") or {}
    where = (
        "holds a slot"
        if place.get("holds_slot")
        else f"waiting, position {place['position']}"
        if place.get("position")
        else "-"
    )
    for name, value in (
        ("job", doc["job_id"]),
        ("state", doc["state"]),
        ("step", doc["action"]),
        ("account", doc["account"] + (" (pinned)" if doc.get("pinned") else "")),
        ("tenant", _caller(doc)),
        ("guard", where),
        ("TTAPI job", doc["ttapi_job_id"] or "-"),
        ("parent TTAPI job", doc.get("parent_ttapi_job_id") or "-"),
        ("progress", f"{doc['progress']}%"),
        ("prompt", doc["prompt"] or "-"),
        ("took", _secs(doc["duration_s"])),
    ):
        facts.add_row(name, Text(str(value)))
    lines.append(facts)
    if doc["steps"]:
        steps = Table(title="steps", title_justify="left")
        for col in ("#", "task id", "step", "state"):
            steps.add_column(col)
        for n, step in enumerate(doc["steps"], start=1):
            mark = " ◀" if step["this"] else ""
            cells = (str(n), step["task_id"], step["name"] + mark, step["state"] or "-")
            steps.add_row(*(Text(c) for c in cells))
        lines.append(steps)
    timings = Table(title="timings (UTC)", title_justify="left")
    timings.add_column("what")
    timings.add_column("when")
    for name, value in doc["timings"].items():
        timings.add_row(name.removesuffix("_ts"), _clock(value, full=True))
    lines.append(timings)
    urls = [doc["image_url"], *doc["images"], *doc["videos"]]
    for url in dict.fromkeys(u for u in urls if u):
        lines.append(Text(f"url: {url}"))
    stored = doc.get("stored") or {}
    kept = [stored.get("image_url"), *(stored.get("images") or []), *(stored.get("videos") or [])]
    for link in dict.fromkeys(u for u in kept if u):
        lines.append(Text(f"stored: {link}"))
    if doc.get("storing"):
        lines.append(Text("stored: the copy to the store is under way", style="yellow"))
    if doc.get("storage_error"):
        lines.append(Text(f"not stored: {doc['storage_error']}", style="yellow"))
    if doc["error"]:
        lines.append(Text(f"error: {doc['error']}", style="red"))
    return Group(*lines)


def _caller(row: dict[str, Any]) -> str:
    """`tenant` and, unless normal, its priority: `web (high)`."""
    priority = row.get("priority") or "normal"
    return str(row.get("tenant") or "default") + ("" if priority == "normal" else f" ({priority})")


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _clock(epoch: float | None, *, full: bool = False) -> str:
    if not epoch:
        return "-"
    stamp = datetime.fromtimestamp(epoch, UTC)
    return stamp.isoformat(timespec="milliseconds") if full else f"{stamp:%H:%M:%S}"


__all__ = ["TITLES", "listing_table", "show_view"]
