"""The Prometheus view of mj-worker: a collector that reads Redis at scrape time.

No metric lives in a process's memory: slots, waiters and balances are read from the guard
and `mj:{label}:info`, and the counters are the totals every worker process adds to in Redis
(:mod:`worker.capacity.metrics`). So any web process answers for the whole fleet, and a worker that
dies takes no count with it. Labels are account labels, never keys.

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
from worker.jobs.records import AMBIGUOUS
from worker.runtime import Runtime

# The text format every Prometheus reads (our names need none of 1.0.0's UTF-8 escaping).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SCAN_BATCH = 500


class RedisCollector:
    """Yields every `mj_*` metric from what Redis holds right now."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def describe(self) -> list[Metric]:
        """Nothing up front: registering must not touch Redis."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One scrape: per-account gauges and counters, then the fleet-wide job metrics."""
        labels = self.rt.pool.labels
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
            state = self.rt.guard.state(label)
            in_use.add_metric([label], len(state.holders))
            cap.add_metric([label], state.cap)
            waiting.add_metric([label], len(state.waiters))
            ambiguous.add_metric([label], lost.get(label, 0))
            known = self.rt.redis.hget(self.rt.keys.info(label), "balance")
            if known:
                balance.add_metric([label], float(known))
            for status, n in sorted(
                metrics.totals(self.rt.redis, label, keys=self.rt.keys).items()
            ):
                responses.add_metric([label, status], n)
        yield from (in_use, cap, waiting, ambiguous, balance, responses)
        yield from self._job_metrics()

    def _ambiguous_by_account(self) -> Counter[str]:
        """Open records in state AMBIGUOUS, per account label."""
        found: Counter[str] = Counter()
        keys = [str(k) for k in self.rt.redis.zrange(self.rt.records.active, 0, -1)]
        for start in range(0, len(keys), SCAN_BATCH):
            pipe = self.rt.redis.pipeline(transaction=False)
            for key in keys[start : start + SCAN_BATCH]:
                pipe.hmget(key, ["state", "account"])
            for state, account in pipe.execute():
                if state == AMBIGUOUS and account:
                    found[str(account)] += 1
        return found

    def _job_metrics(self) -> Iterator[Metric]:
        jobs = CounterMetricFamily("mj_jobs", "Jobs ended, by outcome.", labels=["outcome"])
        for outcome, n in metrics.outcomes(self.rt.redis, keys=self.rt.keys).items():
            jobs.add_metric([outcome], n)
        yield jobs
        duration = HistogramMetricFamily(
            "mj_job_duration_seconds", "How long ended jobs took, by mode.", labels=["mode"]
        )
        for mode, (buckets, total) in metrics.durations(self.rt.redis, keys=self.rt.keys).items():
            # "5.0", not "5": the `le` spelling of every Prometheus client, so series join.
            duration.add_metric(
                [mode], [(floatToGoString(float(le)), float(n)) for le, n in buckets], total
            )
        yield duration


def registry_for(rt: Runtime) -> CollectorRegistry:
    """A registry holding only the Redis collector (no process or platform metrics)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(RedisCollector(rt))
    return registry


def render(registry: CollectorRegistry) -> bytes:
    """The registry in Prometheus text format (raises redis errors: the scrape failed)."""
    return generate_latest(registry)


__all__ = ["CONTENT_TYPE", "RedisCollector", "registry_for", "render"]
