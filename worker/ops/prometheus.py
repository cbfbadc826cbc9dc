"""The Prometheus view of mj-worker: a collector that reads Redis at scrape time.

Liveness comes along: `mj_queue_length{queue}`, `mj_workers{queue}` (online workers consuming
it) and `mj_pump_last_run_timestamp_seconds`. Every read goes through an `OpsView`, whose client
gives up within `MJ_HEALTH_TIMEOUT_S`: a scrape with Redis away fails fast (503), it never waits
out the job steps' retries past Prometheus's scrape timeout.

No metric lives in a process's memory: slots, waiters and balances are read from the guard
and `mj:{label}:info`, and the counters are the totals every worker process adds to in Redis
(:mod:`worker.capacity.metrics`). So any web process answers for the whole fleet, and a worker that
dies takes no count with it. Labels are account labels, never keys; tenant labels are the
names of `MJ_TENANTS` and `default` (every other tenant is counted there), so they stay bounded.

Ambiguous jobs are counted by scanning the `mj:active` index of open records (one pipelined
HMGET per 500 records) rather than keeping a counter: a counter would have to follow every
transition in and out of AMBIGUOUS, record expiry and crashes between the two writes, and
would drift; the scan is exact, and the index only holds jobs not yet ended.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from worker.capacity import metrics
from worker.jobs.record import RecordState
from worker.ops import liveness
from worker.ops.tenants import tenant_rows
from worker.ops.view import OpsView

# The text format every Prometheus reads (our names need none of 1.0.0's UTF-8 escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SCAN_BATCH = 500


class RedisCollector:
    """Yields every `mj_*` metric from what Redis holds right now."""

    def __init__(self, view: OpsView) -> None:
        self.view = view

    def describe(self) -> list[Metric]:
        """Nothing up front: registering must not touch Redis."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One scrape: per-account gauges and counters, then the fleet-wide job metrics."""
        view = self.view
        labels = view.labels()
        in_use = GaugeMetricFamily(
            "mj_slots_in_use", "Jobs holding a slot at TTAPI.", labels=["account"]
        )
        cap = GaugeMetricFamily(
            "mj_slots_cap", "The account's cap of jobs in progress.", labels=["account"]
        )
        waiting = GaugeMetricFamily(
            "mj_waiting_jobs", "Jobs parked until a slot frees.", labels=["account"]
        )
        ambiguous = GaugeMetricFamily(
            "mj_ambiguous_jobs",
            "Jobs whose submit answer was lost, being reconciled.",
            labels=["account"],
        )
        balance = GaugeMetricFamily(
            "mj_balance", "Balance from the last /info refresh.", labels=["account"]
        )
        responses = CounterMetricFamily(
            "mj_ttapi_responses",
            "TTAPI refusals and errors (429, 499, 5xx) by status.",
            labels=["account", "status"],
        )
        lost = self._ambiguous_by_account()
        for label in labels:
            state = view.guard.state(label)
            in_use.add_metric([label], len(state.holders))
            cap.add_metric([label], state.cap)
            waiting.add_metric([label], len(state.waiters))
            ambiguous.add_metric([label], lost.get(label, 0))
            known = view.redis.hget(view.keys.info(label), "balance")
            if known:
                balance.add_metric([label], float(known))
            for status, n in sorted(metrics.totals(view.redis, label, keys=view.keys).items()):
                responses.add_metric([label, status], n)
        yield from (in_use, cap, waiting, ambiguous, balance, responses)
        yield from self._job_metrics()
        yield from self._liveness()
        yield from self._tenant_metrics()

    def _liveness(self) -> Iterator[Metric]:
        live = liveness.read(self.view)
        length = GaugeMetricFamily(
            "mj_queue_length", "Messages waiting in a Celery queue.", labels=["queue"]
        )
        workers = GaugeMetricFamily(
            "mj_workers", "Workers online (fresh heartbeat) consuming a queue.", labels=["queue"]
        )
        for queue, n in live.queues.items():
            length.add_metric([queue], n)
            workers.add_metric([queue], live.consumers.get(queue, 0))
        pump = GaugeMetricFamily(
            "mj_pump_last_run_timestamp_seconds", "When the pump last ran a round (Unix time)."
        )
        if live.pump_last is not None:
            pump.add_metric([], live.pump_last)
        paused = GaugeMetricFamily(
            "mj_submits_paused",
            "1 while submits wait because too few replicas acknowledge (MJ_REDIS_MIN_REPLICAS).",
        )
        paused.add_metric([], 1 if live.submits_paused else 0)
        yield from (length, workers, pump, paused)

    def _tenant_metrics(self) -> Iterator[Metric]:
        """Per tenant bucket (MJ_TENANTS' names and `default`: bounded label values)."""
        in_progress = GaugeMetricFamily(
            "mj_tenant_in_progress", "A tenant's jobs holding a slot.", labels=["tenant"]
        )
        waiting = GaugeMetricFamily(
            "mj_tenant_waiting", "A tenant's jobs waiting for a slot.", labels=["tenant"]
        )
        ended = CounterMetricFamily(
            "mj_tenant_jobs", "A tenant's jobs ended, by outcome.", labels=["tenant", "outcome"]
        )
        for row in tenant_rows(self.view):
            in_progress.add_metric([row["tenant"]], row["in_progress"])
            waiting.add_metric([row["tenant"]], row["waiting"])
            for outcome, n in row["ended"].items():
                ended.add_metric([row["tenant"], outcome], n)
        yield from (in_progress, waiting, ended)

    def _ambiguous_by_account(self) -> Counter[str]:
        """Open records in state AMBIGUOUS, per account label."""
        found: Counter[str] = Counter()
        keys = [str(k) for k in self.view.redis.zrange(self.view.keys.active, 0, -1)]
        for start in range(0, len(keys), SCAN_BATCH):
            pipe = self.view.redis.pipeline(transaction=False)
            for key in keys[start : start + SCAN_BATCH]:
                pipe.hmget(key, ["state", "account"])
            for state, account in pipe.execute():
                if state == RecordState.AMBIGUOUS and account:
                    found[str(account)] += 1
        return found

    def _job_metrics(self) -> Iterator[Metric]:
        jobs = CounterMetricFamily("mj_jobs", "Jobs ended, by outcome.", labels=["outcome"])
        for outcome, n in metrics.outcomes(self.view.redis, keys=self.view.keys).items():
            jobs.add_metric([outcome], n)
        yield jobs
        failures = CounterMetricFamily(
            "mj_storage_failures",
            "Results delivered with stored: null (the store stayed away past "
            "MJ_STORAGE_RETRY_S, or a file could not be read).",
        )
        failures.add_metric([], float(self.view.redis.get(self.view.keys.storage_failures) or 0))
        yield failures
        duration = HistogramMetricFamily(
            "mj_job_duration_seconds", "How long ended jobs took, by mode.", labels=["mode"]
        )
        found = metrics.durations(self.view.redis, keys=self.view.keys)
        for mode, (buckets, total) in found.items():
            # "5.0", not "5": the `le` spelling of every Prometheus client, so series join.
            duration.add_metric(
                [mode], [(floatToGoString(float(le)), float(n)) for le, n in buckets], total
            )
        yield duration


def registry_for(view: OpsView) -> CollectorRegistry:
    """A registry holding only the Redis collector (no process or platform metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(view))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus text format (raises redis errors: the scrape failed)."""
    return generate_latest(registry)


__all__ = ["CONTENT_TYPE", "RedisCollector", "registry_for", "render"]
