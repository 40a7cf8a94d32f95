"""What ``/metrics`` serves (prometheus_client, text format), in the service's own registry.

* Catalog counters, read from the workspace at scrape time (so ingests, sweeps and backtests made by the
  CLI or a notebook on the same workspace count too, and a restart of the service loses nothing):
  ``workbench_ingest_files_total{status}`` (rows of ``ingest_log`` by status),
  ``workbench_ingest_rows_total`` (rows stored by ingested files), ``workbench_backtests_total`` (rows
  of ``backtests``), ``workbench_sweep_trials_total`` (results of the workbench's own sweeps and Tune
  searches, imported optimizer reports excluded). Cached ``CATALOG_TTL_S`` so a busy scraper or load
  test does not queue on the catalog.
* The service's own: ``workbench_http_requests_total{method,route,code}``,
  ``workbench_http_request_duration_seconds{route}``, ``workbench_rag_query_duration_seconds`` (each
  ``POST /ask``, timed around :func:`workbench.rag.ask`), ``workbench_jobs{status}``.
* Paper trading (one series per session, label ``session``), from each running session's status and
  metrics hook: see :mod:`workbench.service._paper`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

__all__ = ["Metrics", "CatalogCounts", "CONTENT_TYPE", "CATALOG_TTL_S"]

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CATALOG_TTL_S = 2.0
RAG_BUCKETS = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)  # le="1"/"10"/"30" as the alert tests use
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60)


@dataclass(frozen=True, slots=True)
class CatalogCounts:
    files: dict[str, int]  # ingest_log rows by status
    rows: int  # rows stored by ingested files
    backtests: int
    trials: int


class _CatalogCollector(Collector):
    def __init__(self, read: Callable[[], CatalogCounts]) -> None:
        self._read = read
        self._cached: tuple[float, CatalogCounts | None] = (-1e9, None)
        self._lock = threading.Lock()

    def _counts(self) -> CatalogCounts | None:
        with self._lock:
            at, counts = self._cached
            if time.monotonic() - at < CATALOG_TTL_S:
                return counts
            try:
                counts = self._read()
            except Exception as e:  # noqa: BLE001 - a scrape must answer; workbench_catalog_up says why not
                log.warning("metrics: cannot read the catalog: %s", " ".join(str(e).split())[:200])
                counts = None
            self._cached = (time.monotonic(), counts)
            return counts

    def collect(self) -> Iterable[Metric]:
        counts = self._counts()
        up = GaugeMetricFamily("workbench_catalog_up", "1 if the last read of the workspace catalog worked")
        up.add_metric([], 0.0 if counts is None else 1.0)
        yield up
        if counts is None:
            return
        files = CounterMetricFamily(
            "workbench_ingest_files",
            "files offered to ingest, by outcome (ingest_log rows)",
            labels=["status"],
        )
        for status in sorted({"ingested", "duplicate", "rejected", *counts.files}):
            files.add_metric([status], float(counts.files.get(status, 0)))
        yield files
        yield CounterMetricFamily(
            "workbench_ingest_rows",
            "rows stored by ingested files (ingest_log.rows)",
            value=float(counts.rows),
        )
        yield CounterMetricFamily(
            "workbench_backtests", "backtests stored in the workspace", value=float(counts.backtests)
        )
        yield CounterMetricFamily(
            "workbench_sweep_trials",
            "parameter combinations evaluated by sweeps and Tune searches (optimization_results rows)",
            value=float(counts.trials),
        )


class _Extra(Collector):
    """Series produced at scrape time by a callback (paper sessions, jobs)."""

    def __init__(self, produce: Callable[[], Iterable[Metric]]) -> None:
        self._produce = produce

    def collect(self) -> Iterable[Metric]:
        try:
            yield from self._produce()
        except Exception as e:  # noqa: BLE001 - never fail a scrape for one source
            log.warning("metrics: %s", " ".join(str(e).split())[:200])


class Metrics:
    """The service's registry; ``render()`` is the body of ``/metrics``."""

    def __init__(
        self, catalog: Callable[[], CatalogCounts], extra: Iterable[Callable[[], Iterable[Metric]]] = ()
    ) -> None:
        disable_created_metrics()  # no *_created series: Prometheus does not need them, scrapes stay small
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_CatalogCollector(catalog))
        for produce in extra:
            self.registry.register(_Extra(produce))
        self.http_requests = Counter(
            "workbench_http_requests",
            "HTTP requests answered, by method, route template and status code",
            ["method", "route", "code"],
            registry=self.registry,
        )
        self.http_duration = Histogram(
            "workbench_http_request_duration_seconds",
            "time from request to the end of the response, by route template",
            ["route"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.rag_duration = Histogram(
            "workbench_rag_query_duration_seconds",
            "time to answer one question (POST /ask: workbench.rag.ask, facts + retrieval + LLM)",
            buckets=RAG_BUCKETS,
            registry=self.registry,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
