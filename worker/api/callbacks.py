"""Callbacks to the caller when a job ends: `callback_url` signed per Standard Webhooks, and
midjourney-proxy's `notifyHook` (unsigned, as that protocol sends it).

Every `mjw web` process runs a `CallbackSender`: it looks at the jobs in `mj:api:callbacks`
when they are due, and once a job has ended, one process (a lock with a TTL) POSTs its ending:

    webhook-id: msg_<job id>          the same for every attempt: receivers drop duplicates
    webhook-timestamp: <unix seconds>
    webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">

keyed with the base64-decoded part of the token's `whsec_` secret. A 2xx ends it; anything
else is tried again after `BACKOFF_S` (up to `len(BACKOFF_S) + 1` attempts), and every
attempt is kept on the job (`callbacks`). A process that dies after sending and before
noting it leaves the lock to lapse; the next one sends again with the same id: at least once
per ending, and two processes never both send as a matter of course. Addresses follow the
download rule (public only) unless `MJ_CALLBACK_ALLOW_PRIVATE`; redirects are not followed.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from datetime import UTC, datetime

import anyio
import requests

from worker.api import mjshapes
from worker.api.core import Api
from worker.api.entries import read_entry
from worker.api.reads import build_views
from worker.api.tokens import TokenStore, secret_key
from worker.api.views import ENDED, Job
from worker.jobs.download.addresses import AddressGuard
from worker.jobs.download.errors import AddressRefused
from worker.jobs.download.transport import guarded_session

log = logging.getLogger(__name__)
BACKOFF_S = (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)
TICK_S = 0.5
BATCH = 50
LOCK_MS = 30_000
TIMEOUT_S = (5.0, 10.0)
MAX_ANSWER = 200


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: `v1,` + base64 HMAC-SHA256 of `id.timestamp.body`."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def ending_body(job: Job) -> bytes:
    """What `callback_url` gets: the event type, when, and the job as `GET /v1/jobs/{id}`."""
    event = {
        "type": f"job.{job.status}",
        "timestamp": datetime.now(UTC).isoformat(),
        "data": job.model_dump(mode="json"),
    }
    return json.dumps(event, separators=(",", ":")).encode()


class CallbackSender:
    """Sends the callbacks of ended jobs (see the module docstring)."""

    def __init__(self, api: Api, session: requests.Session | None = None) -> None:
        self.api = api
        self.tokens = TokenStore(api.rt.redis, api.rt.keys)
        guard = AddressGuard(allow_private=api.rt.settings.mj_callback_allow_private)
        self.session = session or guarded_session(guard)
        self.limiter = anyio.CapacityLimiter(4)

    async def run(self) -> None:
        """Look at due jobs every `TICK_S` until cancelled (errors are logged, never fatal)."""
        while True:
            try:
                due = await anyio.to_thread.run_sync(self.due, limiter=self.limiter)
                async with anyio.create_task_group() as group:
                    for job_id in due:
                        group.start_soon(self._look, job_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: try again next tick
                log.warning("callbacks: %s", type(exc).__name__)
            await asyncio.sleep(TICK_S)

    async def _look(self, job_id: str) -> None:
        await anyio.to_thread.run_sync(self.look, job_id, limiter=self.limiter)

    def due(self) -> list[str]:
        """Jobs whose next look is due."""
        rt = self.api.rt
        found = rt.redis.zrangebyscore(rt.keys.api_callbacks, "-inf", rt.clock(), 0, BATCH)
        return [str(j) for j in found]

    def look(self, job_id: str) -> None:
        """Send the job's callback if it has ended and no other process is sending it."""
        rt = self.api.rt
        lock, mine = rt.keys.api_callback_lock(job_id), secrets.token_hex(8)
        if not rt.redis.set(lock, mine, nx=True, px=LOCK_MS):
            return
        try:
            self._look_locked(job_id)
        finally:
            if rt.redis.get(lock) == mine:
                rt.redis.delete(lock)

    def _look_locked(self, job_id: str) -> None:
        rt = self.api.rt
        doc = read_entry(self.api, job_id)
        if doc is None or doc.get("callbacks_done"):
            rt.redis.zrem(rt.keys.api_callbacks, job_id)
            return
        job = build_views(self.api, [(job_id, doc)])[0]
        now = rt.clock()
        if job.status not in ENDED:  # look again, less often as the job ages
            age = now - float(doc.get("created_at") or now)
            rt.redis.zadd(rt.keys.api_callbacks, {job_id: now + min(10.0, 1.0 + age / 30)})
            return
        attempts = json.loads(doc.get("callbacks") or "[]")
        status, error = self.send(job, doc)
        attempts.append(
            {"at": datetime.fromtimestamp(now, UTC).isoformat(), "status": status, "error": error}
        )
        done = status is not None and 200 <= status < 300
        final = done or "refused" in (error or "") or len(attempts) > len(BACKOFF_S)
        pipe = rt.redis.pipeline(transaction=True)
        pipe.hset(rt.keys.api_job(job_id), "callbacks", json.dumps(attempts))
        if final:
            pipe.hset(rt.keys.api_job(job_id), "callbacks_done", "delivered" if done else "gave up")
            pipe.zrem(rt.keys.api_callbacks, job_id)
        else:
            pipe.zadd(rt.keys.api_callbacks, {job_id: now + BACKOFF_S[len(attempts) - 1]})
        pipe.execute()
        log.info("callback job=%s attempt=%d -> %s", job_id, len(attempts), status or error)

    def send(self, job: Job, doc: dict[str, str]) -> tuple[int | None, str | None]:
        """POST the ending to the job's callback_url (signed) and notifyHook; the first
        failure's (status, error), or the last status when all answered 2xx."""
        answer: tuple[int | None, str | None] = (None, "no callback")
        if doc.get("callback_url"):
            body = ending_body(job)
            msg_id, stamp = f"msg_{job.id}", int(time.time())
            secret = self.tokens.secret_of(doc.get("token", ""))
            headers = {"content-type": "application/json", "webhook-id": msg_id}
            headers["webhook-timestamp"] = str(stamp)
            if secret:
                headers["webhook-signature"] = sign(secret, msg_id, stamp, body)
            answer = self._post(doc["callback_url"], body, headers)
            if not (answer[0] and 200 <= answer[0] < 300):
                return answer
        if doc.get("notify_hook"):
            task = mjshapes.task_of(job, json.loads(doc.get("mj") or "{}"))
            body = json.dumps(task).encode()
            answer = self._post(doc["notify_hook"], body, {"content-type": "application/json"})
        return answer

    def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        try:
            reply = self.session.post(
                url, data=body, headers=headers, timeout=TIMEOUT_S, allow_redirects=False
            )
        except AddressRefused as exc:
            text = str(exc).replace("download from", "callback to")
            return None, "refused: " + text.replace("DOWNLOAD_ALLOW", "CALLBACK_ALLOW")[:MAX_ANSWER]
        except (requests.RequestException, OSError) as exc:
            return None, type(exc).__name__
        reply.close()
        ok = 200 <= reply.status_code < 300
        return reply.status_code, None if ok else f"HTTP {reply.status_code}"


__all__ = ["BACKOFF_S", "CallbackSender", "ending_body", "sign"]
