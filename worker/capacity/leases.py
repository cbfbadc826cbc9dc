"""Leases owned by a token: taken with SET NX PX, renewed and given back only by their owner.

A lease that outlives its owner's work (a long pump round, a stalled node) lapses and another
takes it; the late owner must then neither end nor extend the newcomer's lease, so renew and
release compare the token first (compare-and-set, compare-and-delete) in one script each.
"""

from __future__ import annotations

import secrets
from typing import Any

from worker.lua import script

# KEYS: lease.  ARGV: token, ttl ms.  1 if the token still owned it (now extended).
_RENEW = script("capacity/leases/renew.lua")
# KEYS: lease.  ARGV: token.  1 if the token owned it (now deleted).
_RELEASE = script("capacity/leases/release.lua")


def new_token() -> str:
    """A token no other owner will ever hold."""
    return secrets.token_hex(8)


class Lease:
    """One lease key (`client` decodes responses to str)."""

    def __init__(self, client: Any, key: str) -> None:
        self.redis = client
        self.key = key
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)

    def take(self, token: str, ttl_s: float) -> bool:
        """Take the lease for `ttl_s` unless someone holds it."""
        return bool(self.redis.set(self.key, token, nx=True, px=_ms(ttl_s)))

    def renew(self, token: str, ttl_s: float) -> bool:
        """Extend the lease `token` holds; False if it lapsed (and maybe went to another)."""
        return bool(int(self._renew(keys=[self.key], args=[token, _ms(ttl_s)])))

    def give_back(self, token: str) -> bool:
        """End the lease if `token` still holds it; never ends another owner's."""
        return bool(int(self._release(keys=[self.key], args=[token])))

    def owner(self) -> str | None:
        """The token holding the lease now, or None."""
        value = self.redis.get(self.key)
        return None if value is None else str(value)


def take_all(client: Any, keys: list[str], token: str, ttl_s: float) -> list[bool]:
    """`Lease.take` on many keys in one round trip; which of them `token` now holds."""
    if not keys:
        return []
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.set(key, token, nx=True, px=_ms(ttl_s))
    return [bool(ok) for ok in pipe.execute()]


def renew_all(client: Any, keys: list[str], token: str, ttl_s: float) -> list[bool]:
    """`Lease.renew` of many keys in one round trip (an engine may hold a hundred accounts);
    which of them `token` still held (now extended)."""
    if not keys:
        return []
    renew = client.register_script(_RENEW)
    pipe = client.pipeline(transaction=False)
    for key in keys:
        renew(keys=[key], args=[token, _ms(ttl_s)], client=pipe)
    return [bool(int(ok)) for ok in pipe.execute()]


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


__all__ = ["Lease", "new_token", "renew_all", "take_all"]
