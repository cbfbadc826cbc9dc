"""The HTTP session of a TTAPI client."""

from __future__ import annotations

import os

import requests
import requests.adapters

POOL_SIZE = 64  # kept-alive connections per account (the engine's threads share them)


def session_for(base_url: str) -> requests.Session:
    """A session that read the environment's proxy and CA settings once, not per request.

    requests otherwise looks up proxies, `NO_PROXY` and netrc on every call, a measurable
    share of a fetch's CPU; TTAPI authenticates by header, so netrc never applies.
    """
    session = requests.Session()
    # The engine calls TTAPI from many threads at once: keep that many connections alive.
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if ca_bundle:
        session.verify = ca_bundle
    session.trust_env = False
    return session


__all__ = ["session_for"]
