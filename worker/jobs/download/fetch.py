"""GET a URL and follow its redirects by hand: at most MAX_REDIRECTS hops, http(s) only.

Left to itself, requests follows up to 30 redirects, and one to a scheme it cannot fetch ends
in an error that looks like network trouble (and would be retried). Here each hop is checked
before it is requested: its scheme here, and the address its host resolves to by the guarded
session it goes through (`transport`). A refusal names the host that sent the redirect, never
the target URL (whose query may carry a CDN's signature).
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import requests

from worker.jobs.download.errors import RedirectRefused

#: The most redirects one download follows; a CDN needs one or two.
MAX_REDIRECTS = 5
SCHEMES = ("http", "https")


def open_following(
    session: requests.Session,
    url: str,
    *,
    timeout: tuple[float, float],
    max_redirects: int = MAX_REDIRECTS,
) -> requests.Response:
    """The streamed answer at the end of `url`'s redirects; the caller closes it."""
    hops = 0
    while True:
        resp = session.get(url, stream=True, timeout=timeout, allow_redirects=False)
        if not 300 <= resp.status_code < 400:
            return resp
        resp.close()
        host = urlsplit(url).hostname or "?"
        location = resp.headers.get("Location")
        if not location:
            raise RedirectRefused(
                f"download from {host}: HTTP {resp.status_code} without a Location"
            )
        if hops == max_redirects:
            raise RedirectRefused(f"download from {host}: more than {max_redirects} redirects")
        url = urljoin(url, location)
        scheme = urlsplit(url).scheme
        if scheme not in SCHEMES:
            raise RedirectRefused(
                f"download from {host}: redirected to a {scheme[:20]}: URL; "
                "only http and https are followed"
            )
        hops += 1
