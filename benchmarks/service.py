"""Load test of `workbench api` on loopback: concurrent clients on /status (authenticated: the service's
state and every paper session's status) and /metrics (the catalog counters, HTTP and paper series), with
/health (a constant answer) measured in the same run as the floor the server itself sets.

    python benchmarks/service.py                      # 50 clients for 30 s, a paper session running
    python benchmarks/service.py --clients 20 --seconds 10

A real `workbench api` subprocess (uvicorn, one worker, rate limit off: the limiter would turn the load
into 429s) on a fresh workspace with the sample bars, one ingested export and a paper session replaying
EURUSD:1h at 3600x. The clients are httpx async connections in this process (keep-alive), each on one
path; the client shares the machine's cores with the server, so the numbers are a floor. Printed table,
nothing asserted (tests/integration/test_service_prometheus.py runs it for 5 s and checks no errors).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True, slots=True)
class PathStats:
    path: str
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    rps: float

    def row(self) -> str:
        return (
            f"{self.path:10} {self.requests:>9} {self.errors:>7} {self.rps:>9.1f} {self.p50_ms:>8.2f} "
            f"{self.p99_ms:>8.2f} {self.max_ms:>8.2f}"
        )


HEADER = f"{'path':10} {'requests':>9} {'errors':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}"


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


async def _load(
    url: str, paths: list[str], clients: int, seconds: float, headers: dict[str, str]
) -> list[PathStats]:
    latencies: dict[str, list[float]] = {p: [] for p in paths}
    errors = dict.fromkeys(paths, 0)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as client:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds

        async def worker(i: int) -> None:
            path = paths[i % len(paths)]
            while loop.time() < deadline:
                t0 = time.perf_counter()
                try:
                    r = await client.get(path)
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies[path].append((time.perf_counter() - t0) * 1e3)
                if not ok:
                    errors[path] += 1

        started = loop.time()
        await asyncio.gather(*(worker(i) for i in range(clients)))
        elapsed = loop.time() - started
    return [
        PathStats(
            p,
            len(latencies[p]),
            errors[p],
            _quantile(latencies[p], 0.50),
            _quantile(latencies[p], 0.99),
            max(latencies[p], default=float("nan")),
            len(latencies[p]) / elapsed,
        )
        for p in paths
    ]


def load(
    url: str, paths: list[str], *, clients: int = 50, seconds: float = 30.0, headers=None
) -> list[PathStats]:
    """``clients`` concurrent keep-alive connections for ``seconds``, client ``i`` on ``paths[i % len]``."""
    return asyncio.run(_load(url, paths, clients, seconds, dict(headers or {})))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "tests"))
    from integration.service_proc import AUTH, start_api  # the tests' launcher: a real subprocess

    from workbench.workspace import open_workspace

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "lake"
        ws = open_workspace(home)
        ws.load_samples()
        ws.ingest(
            [ROOT / "data" / "samples" / "mt5_tester_html" / "zhijucen_250013_ReportTester.html"], index=False
        )
        api = start_api(home, "--rate", "0")
        try:
            r = httpx.post(
                f"{api.url}/paper/sessions",
                headers=AUTH,
                json={"name": "bench", "data": "EURUSD:1h", "strategy": "sma_cross", "speed": "3600"},
                timeout=30,
            )
            r.raise_for_status()
            load(api.url, ["/status", "/metrics", "/health"], clients=6, seconds=1.0, headers=AUTH)  # warm-up
            stats = load(
                api.url,
                ["/status", "/metrics", "/health"],
                clients=args.clients,
                seconds=args.seconds,
                headers=AUTH,
            )
        finally:
            api.stop()
    print(
        f"workbench api under load: {args.clients} clients for {args.seconds:g} s on loopback "
        f"(load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} CPUs; /health is the floor)"
    )
    print(HEADER)
    for s in stats:
        print(s.row())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
