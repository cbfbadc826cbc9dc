"""`Idempotency-Key` (IETF httpapi draft "The Idempotency-Key HTTP Header Field"), per tenant,
kept 24 hours.

The key is written together with the job's entry, in one script (`worker.api.entries.make`),
before anything is published: with a digest of the request and the job id the key decides
(uuid5 of the tenant and the key). The same key with the same request finds that job, so a
retried POST — after a timeout, after a 503, or after this process died between publishing
and answering — never makes a second job and never pays twice. The same key with another
request is a 422; while its first request is still in flight a second one is told 409 (after
waiting a little for the first to finish). A first request whose process died is taken over
once it has been in flight longer than `LEASE_S`, one whose publish failed at once: publishing
again sends the same task ids, which the job records ignore.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from redis import Redis

from worker.keys import Keys

TTL_S = 24 * 3600
LEASE_S = 10.0  # a request publishes in milliseconds: one in flight this long has died
WAIT_S = 3.0  # how long a repeat waits for its first request before it is told 409
MAX_KEY = 255
#: uuid5 namespace of API job ids made from an Idempotency-Key.
NAMESPACE = uuid.UUID("2c9d3f86-4a51-5b7e-8f0e-6a1d9c3b7e20")


def job_id_for(tenant: str, key: str) -> str:
    """The job id a tenant's key decides."""
    return str(uuid.uuid5(NAMESPACE, f"{tenant}\n{key}"))


def request_digest(body: dict[str, Any]) -> str:
    """A digest of the request as validated (key order and spacing do not matter)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class Idempotency:
    """The keys of every tenant, in Redis (`mj:api:idem:<tenant>:<sha256 of the key>`: the
    request's digest, the job id, `state` pending or done, `at` when its request began)."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self.redis = redis
        self.keys = keys

    def key_of(self, tenant: str, key: str) -> str:
        """The Redis key of a tenant's Idempotency-Key."""
        return self.keys.api_idem(tenant, hashlib.sha256(key.encode()).hexdigest())

    def known(self, tenant: str, key: str) -> bool:
        """Whether an earlier request used this key (within its 24 h)."""
        return bool(self.redis.exists(self.key_of(tenant, key)))

    def release(self, tenant: str, key: str) -> None:
        """The key's request could not publish: the next retry carries its job on at once."""
        self.redis.hset(self.key_of(tenant, key), "at", "0")


__all__ = ["LEASE_S", "MAX_KEY", "TTL_S", "WAIT_S", "Idempotency", "job_id_for", "request_digest"]
