"""Celery's and kombu's patches: applied only when asked, and only over the versions they were
written for (else a loud WARNING, and not applied unless that is safe)."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from types import SimpleNamespace

import celery
import kombu
import pytest
from celery.worker.control import Panel

from worker.adapter.patches import hotpath, kombu_compat, revoke_command
from worker.adapter.patches.versions import matches

# Where each patched attribute's function comes from (its module), and the revoke hook's mark.
PROBE = """
import json, sys
for name in sys.argv[1:]:
    __import__(name)
from celery.app import trace
from celery.worker.control import Panel
from kombu.transport import redis as kombu_redis

def where():
    return {
        "ExceptionInfo": trace.ExceptionInfo.__module__,
        "handle_ignore": trace.TraceInfo.handle_ignore.__module__,
        "conn_or_acquire": kombu_redis.Channel.conn_or_acquire.__module__,
        "close": kombu_redis.Channel.close.__module__,
        "restore_unacked": kombu_redis.QoS.restore_unacked.__module__,
        "revoke_hooked": bool(getattr(Panel.data["revoke"], "_mj_revoke_hook", False)),
    }

before = where()
from worker.adapter import patches
patches.for_worker()
print(json.dumps({"before": before, "after": where()}))
"""


def test_importing_worker_and_tasks_patches_nothing() -> None:
    """A fresh interpreter imports what `celery -A worker` does, and the patches stay out until
    `for_worker()` (then all of them are in: the probe sees real changes)."""
    imported = ["worker", "tasks", "worker.adapter.app", "worker.adapter.patches"]
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *imported],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["before"] == {
        "ExceptionInfo": "billiard.einfo",
        "handle_ignore": "celery.app.trace",
        "conn_or_acquire": "kombu.transport.redis",
        "close": "kombu.transport.redis",
        "restore_unacked": "kombu.transport.redis",
        "revoke_hooked": False,
    }
    assert seen["after"] == {
        "ExceptionInfo": "worker.adapter.patches.hotpath",
        "handle_ignore": "worker.adapter.patches.hotpath",
        "conn_or_acquire": "worker.adapter.patches.hotpath",
        "close": "worker.adapter.patches.kombu_compat",
        "restore_unacked": "worker.adapter.patches.kombu_compat",
        "revoke_hooked": False,  # the job tasks' own, on worker_init (test_revoke_command)
    }


def test_the_installed_versions_are_the_ones_the_patches_were_written_for() -> None:
    assert matches(celery.__version__, hotpath.CELERY_WRITTEN_FOR)
    assert matches(kombu.__version__, hotpath.KOMBU_WRITTEN_FOR)
    assert matches(kombu.__version__, kombu_compat.WRITTEN_FOR)
    assert matches(celery.__version__, revoke_command.WRITTEN_FOR)


def test_a_version_matches_exactly_or_by_its_series() -> None:
    assert matches("5.7.0", ("5.7.0",)) and matches("5.7.3", ("5.7.*",))
    assert not matches("5.7.1", ("5.7.0",))
    assert not matches("5.8.0", ("5.7.*",)) and not matches("5.70.0", ("5.7.*",))


def test_a_patch_refuses_another_kombu_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(kombu, "__version__", "9.9.9")
    with caplog.at_level(logging.WARNING, logger="worker.adapter.patches"):
        assert kombu_compat.apply() is False
        assert hotpath.apply(runs_tasks=False) is False
    said = [r.getMessage() for r in caplog.records]
    assert any("kombu_compat" in m and "9.9.9" in m and "NOT applied" in m for m in said)
    assert any("hotpath.reuse_channel_client" in m and "5.7.0" in m for m in said)


def test_the_ignore_trim_refuses_another_celery_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(celery, "__version__", "6.0.0")
    with caplog.at_level(logging.WARNING, logger="worker.adapter.patches"):
        assert hotpath.apply() is False
    assert any(
        "hotpath.cheap_ignore" in r.getMessage() and "6.0.0" in r.getMessage()
        for r in caplog.records
    )


def test_the_revoke_hook_applies_over_another_celery_but_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[list[str]] = []
    monkeypatch.setattr(celery, "__version__", "6.0.0")
    monkeypatch.setitem(Panel.data, "revoke", lambda state, task_id, **kw: {"ok": "flagged"})
    with caplog.at_level(logging.WARNING, logger="worker.adapter.patches"):
        revoke_command.apply(calls.append)
    assert Panel.data["revoke"](SimpleNamespace(), ["rv-1"]) == {"ok": "flagged"}
    assert calls == [["rv-1"]]
    assert any(
        "revoke_command" in r.getMessage() and "applied anyway" in r.getMessage()
        for r in caplog.records
    )
