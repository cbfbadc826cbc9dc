"""`Idempotency-Key` (IETF httpapi draft "The Idempotency-Key HTTP Header Field"), per tenant,
kept 24 hours.

The key is written before anything is published, with a digest of the request and the job id
the key decides (uuid5 of the tenant and the key): the same key with the same request finds
that job, so a retried POST — after a timeout, or after this process died between publishing
and answering — never makes a second job and never pays twice. The same key with another
request is a 422; while its first request is still in flight a second one is told 409 (after
waiting a little for the first to finish). A first request whose process died is taken over
once it has been in flight longer than `LEASE_S`: publishing again sends the same task ids,
which the job records ignore.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from redis import Redis

from worker.keys import Keys
from worker.lua import script

TTL_S = 24 * 3600
LEASE_S = 10.0  # a request publishes in milliseconds: one in flight this long has died
WAIT_S = 3.0  # how long a repeat waits for its first request before it is told 409
MAX_KEY = 255
#: uuid5 namespace of API job ids made from an Idempotency-Key.
NAMESPACE = uuid.UUID("2c9d3f86-4a51-5b7e-8f0e-6a1d9c3b7e20")
_BEGIN = script("api/idempotency/begin.lua")


@dataclass(frozen=True)
class Begun:
    """What a key says about a request: `new`, `done`, `busy`, `retake` or `mismatch`."""

    outcome: str
    job_id: str


def job_id_for(tenant: str, key: str) -> str:
    """The job id a tenant's key decides."""
    return str(uuid.uuid5(NAMESPACE, f"{tenant}\n{key}"))


def request_digest(body: dict[str, Any]) -> str:
    """A digest of the request as validated (key order and spacing do not matter)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Idempotency:
    """The keys of every tenant, in Redis."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys
        self._begin = redis.register_script(_BEGIN)

    def _key(self, tenant: str, key: str) -> str:
        return self.keys.api_idem(tenant, hashlib.sha256(key.encode()).hexdigest())

    def begin(self, tenant: str, key: str, digest: str, now: float) -> Begun:
        """Write the key for a new request, or say what an earlier one with it became."""
        job_id = job_id_for(tenant, key)
        args: list[str | float] = [digest, job_id, f"{now:.6f}", LEASE_S, TTL_S]
        outcome, found = self._begin(keys=[self._key(tenant, key)], args=args)
        return Begun(_text(outcome), _text(found))

    def done(self, tenant: str, key: str) -> None:
        """The key's request made its job: repeats get that job from now on."""
        self.redis.hset(self._key(tenant, key), "state", "done")

    def forget(self, tenant: str, key: str) -> None:
        """The key's request made nothing (it was refused): the key is free again."""
        self.redis.delete(self._key(tenant, key))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


__all__ = ["LEASE_S", "MAX_KEY", "TTL_S", "WAIT_S", "Begun", "Idempotency", "job_id_for"]
