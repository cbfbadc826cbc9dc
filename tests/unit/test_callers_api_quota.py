"""The HTTP API reads the workers' `daily_jobs` count at POST time: a tenant whose quota is
spent gets a 429 with Retry-After; reading counts nothing (worker.jobs.quota.spent)."""

from __future__ import annotations

from tests.support.api import make_api
from worker.api import tenancy
from worker.jobs import quota


def test_a_spent_quota_is_read_never_counted() -> None:
    h = make_api(mj_tenants={"web": {"daily_jobs": 2}})
    assert tenancy.quota_retry_after(h.rt, "web") is None
    assert quota.admit(h.rt, "job-1", "web") is None
    assert tenancy.quota_retry_after(h.rt, "web") is None  # one of two used; reading is free
    assert quota.admit(h.rt, "job-2", "web") is None
    left = tenancy.quota_retry_after(h.rt, "web")
    assert left is not None and 0 < left <= 86_400
    assert quota.admit(h.rt, "job-1", "web") is None  # still counted once
    assert tenancy.quota_retry_after(h.rt, "someone") is None  # default has no quota
