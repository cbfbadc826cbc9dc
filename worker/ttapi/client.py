"""The TTAPI HTTP client: one generic submit and one fetch, driven by each kind's spec (its
request model and paths: `worker.ttapi.kinds`), models in and out, no retries of its own.

One private `_request` maps every outcome to the exception tree in `worker.ttapi.errors`; the job
layer decides what to retry, so retries never stack. The key travels only in the
`TT-API-KEY` header and is scrubbed from every message.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import urllib3
from pydantic import ValidationError

from config.settings import Account, default
from worker.ttapi import errors
from worker.ttapi.kinds import fetch_of, spec_of
from worker.ttapi.parsing import (
    http_date,
    odd_body,
    parsed,
    retry_after,
    snippet,
    transport_error,
)
from worker.ttapi.requests import SubmitRequest, validate
from worker.ttapi.responses import (
    AccountInfo,
    Envelope,
    JobInfo,
    JobListItem,
    JobStatus,
    SubmitResult,
    list_rows,
)
from worker.ttapi.transport import Answer, Transport

log = logging.getLogger(__name__)


class TTAPIClient:
    """A typed client for one TTAPI account (a connection pool of its own)."""

    def __init__(
        self,
        account: Account,
        base_url: str = default("ttapi_base_url"),
        *,
        connect_timeout: float = default("mj_http_connect_timeout_s"),
        read_timeout: float = default("mj_http_read_timeout_s"),
        transport: Transport | None = None,
    ) -> None:
        self.account = account
        self.base_url = base_url.rstrip("/")
        self.transport = transport or Transport(
            self.base_url, connect_timeout=connect_timeout, read_timeout=read_timeout
        )

    @property
    def label(self) -> str:
        """The account's public label."""
        return self.account.label

    def close(self) -> None:
        """Close the pooled connections."""
        self.transport.close()

    # -- submits -------------------------------------------------------------------------
    def submit(self, request: SubmitRequest, *, deadline: float | None = None) -> SubmitResult:
        """Send any validated submit request, over by `deadline` (monotonic; default: the
        connect and read timeouts from now); returns the new job id."""
        answer = self._call(
            "POST", request.path, json=request.body(), endpoint=request.endpoint, deadline=deadline
        )
        env = self._envelope(answer, request.endpoint)
        if env.status.upper() != JobStatus.SUCCESS:
            raise errors.EnvelopeFailed(
                self._text(env.message or f"{request.endpoint} refused"),
                endpoint=request.endpoint,
                status_code=200,
            )
        data = env.data_dict
        if not any(k in data for k in ("jobId", "job_id", "jobid", "Jobid")):
            raise errors.ResponseError(
                f"{request.endpoint}: TTAPI answered SUCCESS without a job id",
                endpoint=request.endpoint,
                status_code=200,
            )
        result = parsed(SubmitResult, data, request.endpoint)
        result.answered_at = http_date(answer.headers.get("Date"))
        return result

    def start(self, kind: str, **fields: Any) -> SubmitResult:
        """Start a job of `kind` from its request's fields (validated by the kind's spec: the
        task's argument names, `job_id` for a follow-up, `hook_url`, ...)."""
        return self.submit(validate(spec_of(kind).request, **fields))

    def imagine(self, prompt: str, **fields: Any) -> SubmitResult:
        """Start an imagine job (`mode`, `hook_url`, `timeout`, `get_u_images` optional)."""
        return self.start("imagine", prompt=prompt, **fields)

    # -- queries -------------------------------------------------------------------------
    def fetch(self, job_id: str, kind: str = "imagine") -> JobInfo:
        """The job's status and, when finished, its result (free of charge), asked at the
        fetch path of its `kind` (image edits have their own)."""
        if not job_id:
            raise errors.InvalidRequest("invalid request: jobId: must not be empty")
        where = fetch_of(kind)
        name = where.endpoint
        env = self._request("GET", where.path, params={"jobId": job_id}, endpoint=name)
        if env.status not in set(JobStatus):
            raise errors.ResponseError(
                f"{name}: unexpected job status {env.status!r}", endpoint=name, status_code=200
            )
        try:
            return JobInfo.from_envelope(env, job_id)
        except ValidationError as exc:
            raise odd_body(name, exc) from None

    def info(self) -> AccountInfo:
        """The account's balance and in-progress cap (`max_queue`)."""
        env = self._request("GET", "/midjourney/v1/info")
        self._require_success(env, "info")
        return parsed(AccountInfo, env.data_dict, "info")

    def fetch_list(
        self, page: int = 1, limit: int = 100, status: str | None = None, order: str = "desc"
    ) -> list[JobListItem]:
        """One page of the account's job history, newest first by default."""
        if not 1 <= limit <= 100:
            raise errors.InvalidRequest("invalid request: limit: must be between 1 and 100")
        params: dict[str, Any] = {"page": page, "limit": limit, "order": order}
        if status:
            params["status"] = status
        env = self._request("GET", "/midjourney/v1/fetch-list", params=params)
        self._require_success(env, "fetch-list")
        return [parsed(JobListItem, row, "fetch-list") for row in list_rows(env.data)]

    # -- transport -----------------------------------------------------------------------
    def _require_success(self, env: Envelope, endpoint: str) -> None:
        if env.status.upper() != JobStatus.SUCCESS:
            raise errors.EnvelopeFailed(
                self._text(env.message or f"{endpoint} refused"), endpoint=endpoint, status_code=200
            )

    def _text(self, text: str) -> str:
        return errors.scrub(text, [self.account.key.get_secret_value()])

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        endpoint: str | None = None,
    ) -> Envelope:
        endpoint = endpoint or path.rsplit("/", 1)[-1]
        answer = self._call(method, path, json=json, params=params, endpoint=endpoint)
        return self._envelope(answer, endpoint)

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        endpoint: str | None = None,
        deadline: float | None = None,
    ) -> Answer:
        """One HTTP exchange that TTAPI answered 200 (every other outcome raises)."""
        endpoint = endpoint or path.rsplit("/", 1)[-1]
        headers = {"TT-API-KEY": self.account.key.get_secret_value()}
        started = time.monotonic()
        try:
            resp = self.transport.request(
                method, path, headers=headers, json=json, params=params, deadline=deadline
            )
        except urllib3.exceptions.HTTPError as exc:
            raise transport_error(
                exc, endpoint, self._text(f"{type(exc).__name__}: {exc}")
            ) from None
        log.debug(
            "%s %s [%s] -> %s in %.0f ms",
            method,
            path,
            self.label,
            resp.status,
            (time.monotonic() - started) * 1000,
        )
        if resp.status != 200:
            raise self._status_error(resp, endpoint)
        return resp

    def _envelope(self, resp: Answer, endpoint: str) -> Envelope:
        """The JSON envelope of a 200 answer (a ResponseError when it is not one)."""
        try:
            payload = resp.json()
        except ValueError:
            raise errors.ResponseError(
                f"{endpoint}: HTTP 200 with a body that is not JSON ({snippet(resp.text)})",
                endpoint=endpoint,
                status_code=200,
            ) from None
        if not isinstance(payload, dict):
            raise errors.ResponseError(
                f"{endpoint}: HTTP 200 with a JSON {type(payload).__name__}, not an object",
                endpoint=endpoint,
                status_code=200,
            )
        return parsed(Envelope, payload, endpoint)

    def _status_error(self, resp: Answer, endpoint: str) -> errors.APIStatusError:
        status = resp.status
        cls = errors.error_for_status(status)
        message = ""
        try:
            payload = resp.json()
            if isinstance(payload, dict):
                message = str(payload.get("message") or "")
        except ValueError:
            message = ""
        if not message:
            message = f"HTTP {status} from TTAPI ({snippet(resp.text)})"
        context: dict[str, Any] = {"endpoint": endpoint, "status_code": status}
        if status == 429:
            context["retry_after"] = retry_after(resp.headers.get("Retry-After"))
        return cls(self._text(message), **context)
