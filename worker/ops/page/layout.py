"""The page around the sections: head, header, the live part, and the static files."""

from __future__ import annotations

from importlib import resources
from typing import Any

from worker.ops.page import sections
from worker.ops.page.fmt import esc

STATIC = {"live.js": "text/javascript; charset=utf-8", "page.css": "text/css; charset=utf-8"}
REFRESH_MS = 2000


def render_live(doc: dict[str, Any]) -> str:
    """The live part: the verdict, then one `<section>` per part of the overview."""
    totals = doc["totals"]
    summary = (
        f"{totals['in_use']} / {totals['cap']} slots in use · {totals['waiting']} waiting · "
        f"{totals['queued']} queued · {totals['workers_online']} workers online"
    )
    parts = [
        f'<section id="health" data-now="{doc["now"]:.3f}">{sections.health(doc)}'
        f'<p class="summary">{esc(summary)}</p></section>'
    ]
    for ident, title, render in sections.SECTIONS:
        parts.append(f'<section id="{ident}"><h2>{esc(title)}</h2>{render(doc)}</section>')
    return "".join(parts)


def render_page(doc: dict[str, Any], *, refresh_ms: int = REFRESH_MS) -> str:
    """The whole page: it works without the script, which keeps it live."""
    return (
        "<!doctype html>"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>mj-worker</title>"
        '<link rel="stylesheet" href="static/page.css">'
        f'<script defer src="static/live.js" data-refresh-ms="{refresh_ms}"></script>'
        "</head><body>"
        '<header><h1>mj-worker</h1><span id="updated" class="dim">'
        "server-rendered; live updates need JavaScript</span>"
        '<nav><a href="api/overview">JSON</a> · <a href="metrics">metrics</a></nav></header>'
        f'<main id="live">{render_live(doc)}</main>'
        "<footer>Read-only. The same data: <code>/api/overview</code>, "
        "<code>mjw status</code>, <code>mjw jobs</code>, <code>mjw show ID</code>.</footer>"
        "</body></html>"
    )


def static_file(name: str) -> tuple[bytes, str] | None:
    """A static file's bytes and content type, or None when there is no such file."""
    if name not in STATIC:
        return None
    data = resources.files("worker.ops.page").joinpath("static", name).read_bytes()
    return data, STATIC[name]
