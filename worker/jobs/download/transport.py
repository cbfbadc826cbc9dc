"""A requests session whose every connection goes to an address the AddressGuard checked.

urllib3 resolves a host inside `create_connection`, after anything we could check beforehand;
a name whose DNS answer changes between a check and the connect (DNS rebinding) would slip
through. Here the connection's `_new_conn` asks the guard instead, which resolves once and
checks every address, and the socket is opened to exactly those addresses. The Host header,
TLS SNI and the certificate check still use the URL's name, so HTTPS is verified as usual.
Each hop of a redirect is a new host, so it is resolved and checked again; a kept-alive
connection is reused only for the host:port it was checked for.

Settings from the environment (proxies, `.netrc`, REQUESTS_CA_BUNDLE) are not read: a proxy
would resolve the name itself, out of the check's reach.
"""

from __future__ import annotations

import socket
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3 import PoolManager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from worker.jobs.download.addresses import AddressGuard
from worker.ttapi import errors


def guarded_session(guard: AddressGuard) -> requests.Session:
    """A session that connects only where `guard` allows, ignoring the environment's proxies."""
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter(guard)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class GuardedAdapter(HTTPAdapter):
    """requests' adapter, with a pool manager whose connections go through `guard`."""

    def __init__(self, guard: AddressGuard) -> None:
        self.guard = guard  # before super().__init__, which builds the pool manager
        super().__init__()

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        """Build the pool manager (requests' own steps, with our manager class)."""
        self._pool_connections = connections
        self._pool_maxsize = maxsize
        self._pool_block = block
        self.poolmanager = _GuardedPoolManager(
            self.guard, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """Refuse proxies: the proxy, not the guard, would resolve the name."""
        raise errors.InvalidRequest("download: proxies are not used (the guard must resolve)")


class _GuardedPoolManager(PoolManager):
    def __init__(self, guard: AddressGuard, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.guard = guard

    def _new_pool(
        self,
        scheme: str,
        host: str,
        port: int,
        request_context: dict[str, Any] | None = None,
    ) -> HTTPConnectionPool:
        # urllib3 documents this method as the place to customise the pools it makes.
        pool = super()._new_pool(scheme, host, port, request_context)
        secure = scheme == "https"
        pool.ConnectionCls = _GuardedHTTPSConnection if secure else _GuardedHTTPConnection
        pool.conn_kw["guard"] = self.guard
        return pool


class _GuardedHTTPConnection(HTTPConnection):
    def __init__(self, *args: Any, guard: AddressGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard

    def _new_conn(self) -> socket.socket:
        return open_vetted(self, self.guard)


class _GuardedHTTPSConnection(HTTPSConnection):
    def __init__(self, *args: Any, guard: AddressGuard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.guard = guard

    def _new_conn(self) -> socket.socket:
        return open_vetted(self, self.guard)


def open_vetted(conn: HTTPConnection, guard: AddressGuard) -> socket.socket:
    """A socket to the first of `conn.host`'s vetted addresses that answers; errors as urllib3's.

    AddressRefused passes through untouched: neither urllib3 nor requests catch it, so the
    caller sees the refusal itself, not a connection error that would be retried.
    """
    host = conn.host.strip("[]")
    try:
        resolved = guard.vet(host, conn.port or 0)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    last: OSError = OSError(f"no address for {host}")
    for family, sockaddr in resolved:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            for option in conn.socket_options or ():
                sock.setsockopt(*option)
            if conn.timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(conn.timeout)
            if conn.source_address:
                sock.bind(conn.source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    if isinstance(last, TimeoutError):
        raise ConnectTimeoutError(
            conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})"
        ) from last
    raise NewConnectionError(conn, f"Failed to establish a new connection: {last}") from last
