"""The per-message trims: cheap `Ignore`, one kombu client per channel, env read once."""

from __future__ import annotations

import sys

import pytest
from celery.app import trace
from celery.exceptions import Ignore
from kombu import Connection

import tasks
from config.settings import Account
from worker.adapter.app import app
from worker.adapter.patches import hotpath
from worker.devtools.embedded import RedisServer
from worker.ttapi.client import TTAPIClient


def test_an_ignore_gets_an_exception_info_without_a_traceback() -> None:
    hotpath.apply()
    try:
        raise Ignore()
    except Ignore:
        info = trace.ExceptionInfo(internal=True)
    assert isinstance(info.exception, Ignore)
    assert info.traceback == "" and info.tb is None and info.internal


def test_any_other_exception_keeps_its_full_traceback() -> None:
    hotpath.apply()
    try:
        raise ValueError("boom")
    except ValueError:
        info = trace.ExceptionInfo()
    assert "ValueError: boom" in info.traceback
    assert info.tb is not None
    assert sys.exc_info() == (None, None, None)


def test_a_kombu_redis_channel_reuses_one_client_until_its_pool_changes(
    redis_server: RedisServer,
) -> None:
    hotpath.apply()
    with Connection(redis_server.url) as conn:
        channel = conn.default_channel
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second
        channel._pool = None  # what a reconnect does
        with channel.conn_or_acquire() as third:
            assert third is not first
            assert third.connection_pool is channel.pool
        given = object()
        with channel.conn_or_acquire(given) as passed:
            assert passed is given


def test_the_client_reads_proxy_and_ca_bundle_from_the_environment_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import urllib3

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corp.pem")
    pool = TTAPIClient(_account(), "https://api.ttapi.io").transport.pool
    assert isinstance(pool, urllib3.ProxyManager)
    assert pool.proxy is not None and pool.proxy.url == "http://proxy.example:3128"
    assert pool.connection_pool_kw["ca_certs"] == "/etc/ssl/corp.pem"
    monkeypatch.setenv("NO_PROXY", "api.ttapi.io")  # NO_PROXY is honoured too
    assert not isinstance(
        TTAPIClient(_account(), "https://api.ttapi.io").transport.pool, urllib3.ProxyManager
    )


def test_internal_control_tasks_send_no_monitoring_events() -> None:
    names = ("mj.poll", "mj.fill", "mj.pump", "mj.refresh_accounts")
    assert all(app.tasks[name].send_events is False for name in names)
    assert tasks.imagine.send_events is True
    assert app.conf.worker_send_task_events is True


def _account() -> Account:
    return Account.from_key("sk-hotpath-test-0001")
