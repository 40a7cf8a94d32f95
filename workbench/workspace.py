"""The Python API the CLI, widgets and notebooks are skins over.

>>> import workbench as wb
>>> ws = wb.open()                       # $WORKBENCH_HOME or ./data/lake
>>> report = ws.ingest(["exports/"])     # folders are walked
>>> ws.backtests()                       # polars frame
>>> ws.metrics(report.files[0].backtest_id).to_dict()
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from workbench.config import settings
from workbench.errors import DataError
from workbench.store import Q, Store

__all__ = ["Workspace", "open_workspace", "Backtest"]


@dataclass(frozen=True, slots=True)
class Backtest:
    """One stored backtest: its catalog row, trades and cash flows."""

    id: int
    info: dict[str, Any]
    trades: pl.DataFrame
    cash_flows: pl.DataFrame

    @property
    def initial_balance(self) -> float | None:
        """The account's balance before the first trade, ``None`` when the file stated none."""
        value = self.info.get("initial_balance")
        return None if value is None else float(value)


class Workspace:
    def __init__(self, store: Store) -> None:
        self.store = store

    @property
    def home(self) -> Path:
        return self.store.home

    def __repr__(self) -> str:
        return f"Workspace({str(self.home)!r})"

    # -- ingestion -----------------------------------------------------------------------------
    def ingest(
        self,
        paths: str | Path | Iterable[str | Path],
        *,
        fmt: str | None = None,
        progress: bool = False,
        index: bool | None = None,
        strict: bool | None = None,
        initial_balance: float | None = None,
        tz: str | None = None,
        columns: dict[str, str] | None = None,
    ):
        """Ingest files and folders; returns an :class:`~workbench.ingest.load.IngestReport`.

        ``columns`` ({field: header}, e.g. ``{"open_time": "Eröffnung"}``) maps a trades CSV's columns
        before its aliases (headers the workbench does not know; docs/formats.md).

        ``strict`` (default ``WORKBENCH_STRICT``) rejects files with platform quirks instead of storing
        them with warnings; ``initial_balance`` (default ``WORKBENCH_INITIAL_BALANCE``) is assumed for
        files that state no balance; ``tz`` (default ``WORKBENCH_SERVER_TZ``) is the server time zone
        of files that state none (MetaTrader).

        ``index`` (default: ``WORKBENCH_AUTO_INDEX``) also embeds the new backtests for the chat
        (:func:`workbench.rag.index_backtests`; only their chunks, never twice).
        """
        from workbench.ingest.load import Options, ingest_paths

        if isinstance(paths, str | Path):
            paths = [paths]
        bar = None
        if progress:
            from tqdm.auto import tqdm

            def bar(files):
                return tqdm(files, desc="ingest", unit="file", disable=len(files) < 2)

        cfg = settings()
        options = Options(
            fmt=fmt,
            strict=cfg.strict if strict is None else strict,
            initial_balance=cfg.initial_balance if initial_balance is None else initial_balance,
            timezone=cfg.server_tz if tz is None else tz,
            columns=dict(columns) if columns else None,
        )
        report = ingest_paths(self.store, paths, progress=bar, options=options)
        if index if index is not None else settings().auto_index:
            new = [f.backtest_id for f in report.files if f.status == "ingested" and f.kind == "backtest"]
            if new:
                from workbench.rag import index_backtests

                index_backtests(self, new, progress=progress)
        return report

    def load_samples(self) -> dict[str, int]:
        """Store the real market data shipped with ``backtesting`` as bars ``SYMBOL:TF``."""
        from workbench.data.samples import sample_frames
        from workbench.ingest.load import write_bars
        from workbench.ingest.validate import _check_bars

        counts = {}
        frames = sample_frames()
        with self.store.transaction() as con:
            for key, frame in frames.items():
                _check_bars(frame)
                counts[key] = write_bars(con, frame)
        return counts

    # -- reading ---------------------------------------------------------------------------------
    def backtests(self) -> pl.DataFrame:
        return self.store.frame(Q.list_backtests)

    def ingest_log(self) -> pl.DataFrame:
        return self.store.frame(Q.ingest_log)

    def backtest(self, backtest_id: int) -> Backtest:
        info = self.store.frame(Q.backtest_by_id, [int(backtest_id)])
        if info.height == 0:
            other = self.store.frame(Q.object_kind, [int(backtest_id)])
            if other.height:
                kind, hint = other.row(0)
                raise DataError(
                    f"id {backtest_id} is {kind}, not a backtest (see `{hint}`; backtests: `workbench backtests`)",
                    file=str(self.home),
                    where="backtests",
                )
            known = self.store.frame("SELECT min(id) AS a, max(id) AS b, count(*) AS n FROM backtests").row(0)
            hint = f"known ids {known[0]}..{known[1]}" if known[2] else "the workspace has no backtests yet"
            raise DataError(
                f"no backtest with id {backtest_id} ({hint}; see `workbench backtests`)",
                file=str(self.home),
                where="backtests",
            )
        row = info.row(0, named=True)
        for key in ("parameters", "stated", "meta", "platform_figures"):
            row[key] = json.loads(row[key]) if row.get(key) else {}
        for key in ("warnings", "anomalies", "assumptions"):
            row[key] = json.loads(row[key]) if row.get(key) else []
        return Backtest(
            int(backtest_id),
            row,
            self.store.frame(Q.trades_of_backtest, [int(backtest_id)]),
            self.store.frame(Q.cash_flows_of_backtest, [int(backtest_id)]),
        )

    def trades(self, backtest_id: int) -> pl.DataFrame:
        return self.backtest(backtest_id).trades

    def metrics(self, backtest_id: int, *, initial_balance: float | None = None):
        """:class:`workbench.analytics.Metrics` recomputed from the stored trades (``initial_balance``
        overrides the stored one, e.g. for a file that stated none)."""
        from workbench.analytics import compute_metrics

        bt = self.backtest(backtest_id)
        initial = bt.initial_balance if initial_balance is None else initial_balance
        return compute_metrics(bt.trades, initial, bt.cash_flows)

    def metrics_report(self, backtest_id: int, *, initial_balance: float | None = None) -> dict[str, Any]:
        """The metrics object of ``workbench metrics --json``: the workbench's per-position figures, then
        ``conventions`` (how they were computed), ``platform`` (what the file printed and the same figures
        under the platform's own convention), ``assumptions``, ``warnings`` and ``anomalies``."""
        bt = self.backtest(backtest_id)
        m = self.metrics(backtest_id, initial_balance=initial_balance).to_dict()
        tz = bt.info.get("timezone") or bt.info["meta"].get("timezone")
        assumed = bt.info["meta"].get("assumed") or {}
        m["assumptions"] = [*m["assumptions"], *(f"{k}: {v}" for k, v in assumed.items())]
        if initial_balance is not None:
            m["assumptions"].append(f"initial_balance: {initial_balance} (--initial-balance)")
        m["conventions"] = {
            "basis": "per position: one trade per closed position (or partial close), net of commission and swap",
            "win": "net_profit > 0; loss: net_profit < 0; break-even trades are neither",
            "gross_profit": "sum of net_profit of winning trades (gross_loss: of losing trades)",
            "drawdown": "closed-trade balance, peak to trough; % of the running peak; cash flows move the peak",
            "sharpe_ratio": "daily returns of the closed-trade balance on the trading calendar, risk-free 0, "
            f"x sqrt({m['periods_per_year']}) "
            f"({'every calendar day: a 24/7 account' if m['periods_per_year'] == 365 else 'Mon-Fri calendar'}; "
            "docs/analytics.md)",
            "timezone": tz or "as printed by the platform (zone not stated)",
            "base_balance": "initial_balance" if m["initial_balance"] is not None else "unknown",
        }
        m["platform"] = bt.info["platform_figures"] or None
        m["warnings"] = bt.info["warnings"]
        m["anomalies"] = bt.info["anomalies"]
        m["timezone"] = tz
        return m

    def equity(self, backtest_id: int) -> pl.DataFrame:
        from workbench.analytics import equity_curve

        bt = self.backtest(backtest_id)
        return equity_curve(bt.trades, bt.initial_balance, bt.cash_flows)

    def daily(self, backtest_id: int) -> pl.DataFrame:
        from workbench.analytics import daily_summary

        bt = self.backtest(backtest_id)
        return daily_summary(bt.trades, bt.initial_balance, bt.cash_flows)

    def breakdown(
        self, backtest_id: int, by: str = "weekday", *, regimes: str | None = None, method: str = "hmm"
    ) -> pl.DataFrame:
        """:func:`workbench.analytics.breakdown` of the stored trades; weekday/hour/month groupings carry
        a ``timezone`` column saying which clock the keys are on (e.g. "server time, offset unknown").
        ``by="regime"``: the regime stored per bar (``workbench ml regimes``; ``method`` hmm or
        changepoint) at each trade's entry, on the backtest's own series or ``regimes`` ("EURUSD:1h")."""
        from workbench.analytics import breakdown

        bt = self.backtest(backtest_id)
        trades = bt.trades
        if by == "regime":
            from workbench.ml.regime_store import trades_with_regime

            trades = trades_with_regime(self, bt, data=regimes, method=method)
        frame = breakdown(trades, by)
        if by in ("weekday", "hour", "month"):
            tz = bt.info.get("timezone") or "not stated"
            frame = frame.with_columns(pl.lit(tz).alias("timezone"))
        return frame

    def parameter_sets(self) -> pl.DataFrame:
        return self.store.frame(Q.list_parameter_sets)

    def parameters(self, set_id: int, owner: str = "parameter_set") -> dict[str, Any]:
        rows = self.store.frame(Q.parameters_of, [int(set_id), owner])
        return {r["name"]: json.loads(r["value"]) for r in rows.iter_rows(named=True)}

    def optimizations(self) -> pl.DataFrame:
        return self.store.frame(Q.list_optimizations)

    def optimization_results(self, optimization_id: int) -> pl.DataFrame:
        return self.store.frame(Q.optimization_results_of, [int(optimization_id)])

    def bar_series(self) -> pl.DataFrame:
        return self.store.frame(Q.bar_series)

    def bars(self, key: str) -> pl.DataFrame:
        """Bars of ``"SYMBOL:TF"`` (e.g. ``"EURUSD:1h"``), oldest first."""
        symbol, sep, tf = key.partition(":")
        if not sep or not symbol or not tf:
            raise DataError(
                f"expected SYMBOL:TIMEFRAME such as EURUSD:1h, got {key!r}", file="--data", where="-"
            )
        frame = self.store.frame(Q.bars_of, [symbol, tf])
        if frame.height == 0:
            have = ", ".join(
                f"{s}:{t}" for s, t in self.bar_series().select("symbol", "timeframe").iter_rows()
            )
            raise DataError(
                f"no bars for {key} (stored: {have or 'none'}); run `workbench data samples` or ingest a bars file",
                file=str(self.home),
                where="bars",
            )
        return frame


def open_workspace(home: str | Path | None = None, *, read_only: bool = False) -> Workspace:
    """Open (creating if needed) the workspace at ``home``, default ``$WORKBENCH_HOME`` or ./data/lake."""
    cfg = settings()
    return Workspace(
        Store(Path(home) if home else cfg.home, lock_wait_s=cfg.lock_wait_s, read_only=read_only)
    )
