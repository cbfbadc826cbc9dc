"""What a token's tenant changes at POST time: its `max_priority` caps the job's priority (as the
task caps it), and a daily quota already spent is a 429 with Retry-After that makes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.api import make_api
from worker.api import tenancy

IMAGINE = {"kind": "imagine", "prompt": "a red fox", "priority": "high"}


def test_a_priority_above_the_tenants_max_runs_at_it() -> None:
    h = make_api(mj_tenants={"web": {"max_priority": "normal"}})
    h.celery.takes = {"prompt", "tenant", "priority"}
    job = h.post(IMAGINE, h.token("web")).json()
    assert job["priority"] == "normal"  # what the task would cap it to, not what was asked
    assert h.celery.published[0][1]["priority"] == "normal"  # the broker priority too
    other = h.post(IMAGINE, h.token("ops")).json()
    assert other["priority"] == "high"


def test_a_spent_daily_quota_is_a_429_with_retry_after_and_nothing_is_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = make_api()
    monkeypatch.setattr(tenancy, "quota_retry_after", lambda rt, tenant: 3600)
    headers = {**h.token(), "Idempotency-Key": "k"}
    reply = h.post(IMAGINE, headers)
    assert reply.status_code == 429 and reply.headers["retry-after"] == "3600"
    assert reply.headers["content-type"] == "application/problem+json"
    assert "daily_jobs" in reply.json()["detail"]
    assert h.celery.published == [] and h.rt.redis.keys("*api:job:*") == []
    assert not h.api.idem.known("web", "k")  # the key is free for when the quota frees up
    mj = h.client.post(
        "/mj/submit/imagine",
        json={"prompt": "a fox"},
        headers={"mj-api-secret": h.tokens.create("web").secret},
    )
    assert mj.json()["code"] == 23  # the proxy protocol's "queue rejected"


def test_a_repeat_of_a_made_job_is_answered_though_the_quota_is_spent_since(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = make_api()
    headers = {**h.token(), "Idempotency-Key": "k"}
    made = h.post(IMAGINE, headers).json()
    monkeypatch.setattr(tenancy, "quota_retry_after", lambda rt, tenant: 3600)
    again = h.post(IMAGINE, headers)
    assert again.status_code == 202 and again.json()["id"] == made["id"]


@pytest.mark.parametrize(
    ("at", "left"),
    [
        (datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC), 30),
        (datetime(2026, 3, 1, 0, 0, 0, tzinfo=UTC), 86_400),
        (datetime(2026, 3, 1, 12, 0, 0, 500_000, tzinfo=UTC), 43_200),
    ],
)
def test_until_utc_midnight(at: datetime, left: int) -> None:
    assert tenancy.until_utc_midnight(at.timestamp()) == left


def test_a_tenant_with_no_jobs_today_is_not_refused() -> None:
    h = make_api(mj_tenants={"web": {"daily_jobs": 1}})
    assert tenancy.quota_retry_after(h.rt, "web") is None
