"""Small HTML helpers of the operator page: escaping, times, durations, bars."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from typing import Any


def esc(value: Any) -> str:
    """Text safe inside HTML (and inside a quoted attribute)."""
    return escape("" if value is None else str(value), quote=True)


def at(epoch: float | None, *, ago: bool = True) -> str:
    """A `<time>` the script shows as "12 s ago" (or a clock time), UTC on the server."""
    if not epoch:
        return '<span class="dim">—</span>'
    stamp = datetime.fromtimestamp(epoch, UTC)
    kind = "ago" if ago else "clock"
    return (
        f'<time class="{kind}" data-at="{epoch:.3f}" datetime="{stamp.isoformat()}">'
        f"{stamp:%H:%M:%S} UTC</time>"
    )


def seconds(value: float | None) -> str:
    """A duration for people: 4.2 s, 3 min 5 s, 1 h 2 min."""
    if value is None:
        return '<span class="dim">—</span>'
    value = max(0.0, float(value))
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(value), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def short(job_id: str) -> str:
    """A job id shortened for a table, the whole id in its title (and in `mjw show`)."""
    return f'<code title="{esc(job_id)}">{esc(job_id[:8])}</code>'


def clip(text: str, width: int = 80) -> str:
    """Text cut to `width` characters, the whole text in its title."""
    shown = text if len(text) <= width else text[: width - 1] + "…"
    return f'<span title="{esc(text)}">{esc(shown)}</span>'


def table(head: list[str], rows: list[list[str]], empty: str) -> str:
    """A table of already-escaped cells, or a one-line note when there is no row."""
    if not rows:
        return f'<p class="empty">{esc(empty)}</p>'
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def badge(text: str, kind: str) -> str:
    """A coloured label (kind: ok, warn, bad, dim)."""
    return f'<span class="badge {esc(kind)}">{esc(text)}</span>'


def caller(job: dict[str, Any]) -> str:
    """A job's tenant, and its priority unless normal, escaped: `web · high`."""
    priority = str(job.get("priority") or "normal")
    shown = str(job.get("tenant") or "default") + ("" if priority == "normal" else f" · {priority}")
    return esc(shown)
