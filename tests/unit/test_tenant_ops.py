"""Seeing the callers: per-tenant metrics with bounded labels, the rows the page and `mjw status
--tenants` show, the page's tenants section."""

from __future__ import annotations

import time

import fakeredis
import pytest
from prometheus_client.parser import text_string_to_metric_families

from config.settings import Settings, account_label
from config.tenants import TenantSettings
from tests.support.lines import FakeClock
from tests.support.wsgi import wsgi_get
from worker.capacity import metrics
from worker.jobs import journal
from worker.jobs.record import JobRecord, RecordState
from worker.jobs.runtime import Runtime
from worker.ops.http import create_metrics_app
from worker.ops.jobs import waiting
from worker.ops.overview import overview
from worker.ops.page import render_live
from worker.ops.show import show
from worker.ops.tenants import tenant_rows
from worker.ops.view import OpsView

KEY = "sk-tenant-ops-key-0001"
A = account_label(KEY)


@pytest.fixture
def rt() -> Runtime:
    tenants = {
        "web": TenantSettings(weight=3, max_in_progress=2),
        "nightly": TenantSettings(daily_jobs=100),
    }
    settings = Settings(ttapi_api_key=KEY, ttapi_max_in_progress=1, mj_tenants=tenants)
    client = fakeredis.FakeRedis(decode_responses=True)
    return Runtime.build(settings, client)


def busy_fleet(rt: Runtime) -> None:
    """web holds the one place, nightly and a stray tenant wait; some jobs ended."""
    book = rt.guard.book
    assert rt.guard.acquire(A, "web-1", line=book.line("web", "high", loose=True)).granted
    rt.guard.enqueue(A, "nightly-1", line=book.line("nightly", "low", loose=True))
    rt.guard.enqueue(A, "stray-1", line=book.line("someone-else", "normal", loose=True))
    for tenant, state in [("web", "SUCCESS"), ("web", "FAILED"), ("a-stray-name", "SUCCESS")]:
        journal.ended(rt, JobRecord("x", RecordState(state), tenant=tenant), state, time.time())
    day = time.strftime("%Y%m%d", time.gmtime(rt.clock()))
    rt.redis.sadd(rt.keys.tenant_day("nightly", day), "nightly-0", "nightly-1")


def test_tenant_metrics_count_per_configured_tenant_and_default_for_the_rest(
    rt: Runtime,
) -> None:
    busy_fleet(rt)
    status, _, text = wsgi_get(create_metrics_app(rt), "/metrics")
    assert status == 200
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("mj_tenant")
    }
    assert found[("mj_tenant_in_progress", (("tenant", "web"),))] == 1
    assert found[("mj_tenant_waiting", (("tenant", "nightly"),))] == 1
    assert found[("mj_tenant_waiting", (("tenant", "default"),))] == 1  # the stray one
    ok = ("mj_tenant_jobs_total", (("outcome", "success"), ("tenant", "web")))
    assert found[ok] == 1
    assert found[("mj_tenant_jobs_total", (("outcome", "success"), ("tenant", "default")))] == 1
    names = {dict(labels).get("tenant") for _, labels in found}
    assert names == {"web", "nightly", "default"}  # bounded: no caller-chosen label


def test_the_tenant_rows_say_caps_share_and_todays_jobs(rt: Runtime) -> None:
    busy_fleet(rt)
    rows = {r["tenant"]: r for r in tenant_rows(OpsView.on(rt.settings, rt.redis))}
    assert list(rows) == ["nightly", "web", "default"]
    web, nightly = rows["web"], rows["nightly"]
    assert (web["weight"], web["max_in_progress"], web["in_progress"]) == (3, 2, 1)
    assert web["share"] == 1.0  # the only slot-time so far is web's
    assert web["ended"] == {"success": 1, "failed": 1, "revoked": 0}
    assert (nightly["waiting"], nightly["today"], nightly["daily_jobs"]) == (1, 2, 100)
    assert metrics.tenant_outcomes(rt.redis, keys=rt.keys)[("default", "success")] == 1


def test_the_operator_page_has_a_tenants_section(rt: Runtime) -> None:
    busy_fleet(rt)
    doc = overview(OpsView.on(rt.settings, rt.redis))
    html = render_live(doc)
    assert '<section id="tenants"><h2>Tenants</h2>' in html
    assert "<code>web</code>" in html and "1 / 2" in html and "2 / 100" in html


def test_the_waiting_listing_and_show_give_the_estimated_place_in_the_order_served(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock().install(monkeypatch)
    book = rt.guard.book
    assert rt.guard.acquire(A, "holder").granted
    order = ["nightly-1", "nightly-2", "web-1", "web-2", "web-3", "high-1"]
    for job in order:
        tenant, priority = ("nightly", "high") if job == "high-1" else (job[:-2], "normal")
        rt.records.create(job, RecordState.WAITING, kind="imagine", account=A, tenant=tenant)
        rt.guard.enqueue(A, job, line=book.line(tenant, priority, loose=True))
    view = OpsView.on(rt.settings, rt.redis)
    listed = [(r["job_id"], r["position"]) for r in waiting(view, [A], clock.now)]
    assert [p for _, p in listed] == [1, 2, 3, 4, 5, 6]
    assert show(view, "nightly-2")["guard"]["position"] == dict(listed)["nightly-2"]
    served, holder = [], "holder"
    for _ in order:  # each holds its place a second, as the first guess of a job's length
        clock.advance(1)
        (holder,) = rt.guard.release(A, holder)
        served.append(holder)
    assert [job for job, _ in listed] == served  # the order the account then served them in
