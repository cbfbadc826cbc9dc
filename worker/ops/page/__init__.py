"""The operator page: server-rendered HTML, a small stylesheet and a small script (no build).

`render_page(doc)` is the whole page, `render_live(doc)` only its live part; `live.js` fetches
`/fragment` every few seconds and swaps in the sections that changed, so the page updates
without a reload. `doc` is `worker.ops.overview.overview()`.
"""

from worker.ops.page.layout import render_live, render_page, static_file

__all__ = ["render_live", "render_page", "static_file"]
