"""API tokens: who calls the HTTP API, for which tenant, and the secret its callbacks are signed
with.

A token is shown once, when it is made (`mjw tokens create`); Redis keeps only its SHA-256, so a
copy of Redis does not hold working tokens. The webhook secret (`whsec_` + base64) must be
stored as it is, since callbacks are signed with it: it sits in the token's entry in Redis
(`mj:api:tokens`, and under the token's digest), readable by whoever can read that Redis (the
same people who could publish any task to the broker), and never leaves it through the API,
`mjw tokens list` or a log line.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from redis import Redis

from worker.keys import KEYS, Keys

TOKEN_PREFIX = "mjw_"
SECRET_PREFIX = "whsec_"
#: What a tenant may be called (the callers' rule: 1–64 of A–Z a–z 0–9 _ . -).
TENANT = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_TOKEN = re.compile(r"^mjw_[A-Za-z0-9_-]{20,128}$")


@dataclass(frozen=True)
class Token:
    """One token's stored entry (its secret value is not in it: only `digest`)."""

    id: str
    tenant: str
    name: str
    digest: str
    webhook_secret: str
    created_at: float
    revoked_at: float = 0.0

    def public(self) -> dict[str, Any]:
        """What `mjw tokens list` shows: no digest, no secret."""
        return {
            "id": self.id,
            "tenant": self.tenant,
            "name": self.name,
            "created_at": self.created_at,
            "revoked": bool(self.revoked_at),
        }


@dataclass(frozen=True)
class Issued:
    """A token just made: its entry and the token itself (shown once, never stored)."""

    token: Token
    secret: str


def digest(token: str) -> str:
    """The SHA-256 (hex) a token is stored and looked up by."""
    return hashlib.sha256(token.encode()).hexdigest()


def secret_key(webhook_secret: str) -> bytes:
    """The HMAC key of a `whsec_` secret (Standard Webhooks: base64-decoded after the prefix)."""
    return base64.b64decode(webhook_secret.removeprefix(SECRET_PREFIX))


class TokenStore:
    """Makes, finds, lists and revokes tokens in Redis."""

    def __init__(self, redis: Redis, keys: Keys = KEYS, clock: Any = None) -> None:
        import time

        self.redis = redis
        self.keys = keys
        self.clock = clock or time.time

    def create(self, tenant: str, name: str = "") -> Issued:
        """A new token for `tenant` (ValueError for a tenant name outside the rule)."""
        if not TENANT.fullmatch(tenant):
            raise ValueError("tenant: 1-64 of A-Z a-z 0-9 _ . - are allowed")
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        entry = Token(
            id="tok_" + secrets.token_hex(8),
            tenant=tenant,
            name=name[:200],
            digest=digest(secret),
            webhook_secret=SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode(),
            created_at=float(self.clock()),
        )
        doc = json.dumps(asdict(entry))
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.api_tokens, entry.id, doc)
        pipe.set(self.keys.api_token(entry.digest), doc)
        pipe.execute()
        return Issued(entry, secret)

    def authenticate(self, presented: str | None) -> Token | None:
        """The live token `presented` names, or None (unknown, malformed or revoked)."""
        if not presented or not _TOKEN.fullmatch(presented):
            return None
        found = digest(presented)
        raw = self.redis.get(self.keys.api_token(found))
        if not raw:
            return None
        entry = Token(**json.loads(raw))
        if entry.revoked_at or not hmac.compare_digest(entry.digest, found):
            return None
        return entry

    def list(self) -> list[Token]:
        """Every token, oldest first (revoked ones too, marked)."""
        raw = self.redis.hgetall(self.keys.api_tokens)
        tokens = [Token(**json.loads(v)) for v in raw.values()]
        return sorted(tokens, key=lambda t: (t.created_at, t.id))

    def revoke(self, token_id: str) -> Token | None:
        """Revoke a token at once (its requests get 401 from now on); None if there is none."""
        raw = self.redis.hget(self.keys.api_tokens, token_id)
        if not raw:
            return None
        entry = Token(**{**json.loads(raw), "revoked_at": float(self.clock())})
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.api_tokens, token_id, json.dumps(asdict(entry)))
        pipe.delete(self.keys.api_token(entry.digest))
        pipe.execute()
        return entry

    def secret_of(self, token_id: str) -> str | None:
        """The webhook secret of a token (live or revoked: a job it made is still signed)."""
        raw = self.redis.hget(self.keys.api_tokens, token_id)
        return str(json.loads(raw)["webhook_secret"]) if raw else None


__all__ = ["TENANT", "Issued", "Token", "TokenStore", "digest", "secret_key"]
