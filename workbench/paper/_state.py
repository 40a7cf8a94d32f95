"""The session's durable state in the workspace catalog: one short transaction per step."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import polars as pl

from workbench.errors import ConfigError, StoreError
from workbench.store import Q, Store, utcnow

__all__ = ["create", "load", "commit_step", "add_control", "session_row"]

_US = pl.Datetime("us")


def _frame(rows: list[dict[str, Any]], schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def _columns(cols: tuple[list[Any], ...], schema: dict[str, Any]) -> pl.DataFrame:
    """A frame from parallel column lists (the bar loop's equity rows)."""
    return pl.DataFrame(dict(zip(schema, cols, strict=True)), schema=schema)


ORDER_SCHEMA = {"order_id": pl.Int64, "bar": pl.Int64, "ts": _US, "kind": pl.Utf8, "target": pl.Int32,
                "from_pos": pl.Int32, "status": pl.Utf8, "rule": pl.Utf8, "reason": pl.Utf8,
                "units": pl.Float64, "fill_bar": pl.Int64}  # fmt: skip
FILL_SCHEMA = {"fill_id": pl.Int64, "order_id": pl.Int64, "bar": pl.Int64, "ts": _US, "side": pl.Int32,
               "units": pl.Float64, "price": pl.Float64, "commission": pl.Float64, "what": pl.Utf8}  # fmt: skip
TRADE_SCHEMA = {"trade_id": pl.Int64, "direction": pl.Utf8, "size": pl.Float64, "entry_bar": pl.Int64,
                "exit_bar": pl.Int64, "entry_time": _US, "exit_time": _US, "entry_price": pl.Float64,
                "exit_price": pl.Float64, "commission": pl.Float64, "pnl": pl.Float64,
                "exit_reason": pl.Utf8, "entry_order": pl.Int64, "exit_order": pl.Int64}  # fmt: skip
EQUITY_SCHEMA = {"bar": pl.Int64, "ts": _US, "equity": pl.Float64, "drawdown_pct": pl.Float64,
                 "position": pl.Int32, "units": pl.Float64}  # fmt: skip
BAR_SCHEMA = {"bar": pl.Int64, "ts": _US, "open": pl.Float64, "high": pl.Float64, "low": pl.Float64,
              "close": pl.Float64, "volume": pl.Float64}  # fmt: skip


def create(store: Store, name: str, config: dict[str, Any]) -> None:
    with store.transaction() as con:
        if con.execute(Q.paper_session, [name]).fetchall():
            raise ConfigError(
                f"paper session {name!r} already exists; continue it with `workbench paper resume {name}` "
                "or pick another --session name"
            )
        con.execute(Q.paper_insert_session, [name, json.dumps(config), "created", utcnow()])


def session_row(store: Store, name: str) -> dict[str, Any]:
    with store.connect() as con:
        rows = con.execute(Q.paper_session, [name]).fetchall()
        if not rows:
            known = [r[0] for r in con.execute(Q.paper_sessions).fetchall()]
            raise ConfigError(
                f"no paper session {name!r} in {store.home} (known: {', '.join(known) or 'none'}); "
                "start one with `workbench paper run`"
            )
    keys = ("name", "config", "status", "bars_processed", "last_ts", "state", "created_at", "updated_at")
    row = dict(zip(keys, rows[0], strict=True))
    row["config"] = json.loads(row["config"])
    row["state"] = json.loads(row["state"]) if row["state"] else None
    return row


def load(store: Store, name: str) -> tuple[dict[str, Any], pl.DataFrame]:
    """The session's row and the bars it has seen."""
    row = session_row(store, name)
    bars = store.frame(Q.paper_bars_of, [name])
    return row, bars


def _insert(con: Any, sql: str, name: str, frame: pl.DataFrame) -> None:
    if frame.height:
        con.register("frame", frame)
        try:
            con.execute(sql, [name])
        except Exception:
            with contextlib.suppress(Exception):  # an aborted transaction refuses even this; keep the cause
                con.unregister("frame")
            raise
        con.unregister("frame")


def commit_step(
    store: Store,
    name: str,
    *,
    bars: pl.DataFrame,
    records: dict[str, list[Any]],
    risk_events: list[dict[str, Any]],
    status: str,
    bars_processed: int,
    last_ts: Any,
    checkpoints: list[tuple[int, str, str | None, bytes | None, dict[str, Any]]],
    apply_controls: Any,
) -> list[dict[str, Any]]:
    """Everything one step produced, in one transaction: the bars, new orders (with the outcome they
    reached in this step), updates of older orders, fills, trades, equity, risk events, a policy
    checkpoint, the session's state. ``apply_controls(controls)`` is called inside the transaction with
    the operator's pending controls (kill / resume / stop) and returns ``(results, state, events)``
    to record: the controls and their effect land in the same transaction. Returns the controls."""
    orders = {o["order_id"]: dict(o, units=None, fill_bar=None) for o in records["orders"]}
    older: list[dict[str, Any]] = []
    for u in records["order_updates"]:
        target = orders.get(u["order_id"])
        if target is None:
            older.append(u)
        else:
            target.update(status=u["status"], rule=u["rule"], reason=u["reason"], units=u["units"],
                          fill_bar=u["fill_bar"])  # fmt: skip
    try:
        with store.transaction() as con:
            controls = [
                {"seq": s, "action": a, "reason": r, "by": b}
                for s, a, r, b in con.execute(Q.paper_pending_controls, [name]).fetchall()
            ]
            results, state, extra_events = apply_controls(controls)
            _insert(con, Q.paper_insert_bars, name, bars)
            _insert(con, Q.paper_insert_orders, name, _frame(
                [[o[k] for k in ORDER_SCHEMA] for o in orders.values()], ORDER_SCHEMA))  # fmt: skip
            for u in older:
                con.execute(Q.paper_update_order, [name, u["order_id"], u["status"], u["rule"], u["reason"],
                                                   u["units"], u["fill_bar"]])  # fmt: skip
            _insert(
                con,
                Q.paper_insert_fills,
                name,
                _frame([[f[k] for k in FILL_SCHEMA] for f in records["fills"]], FILL_SCHEMA),
            )
            _insert(
                con,
                Q.paper_insert_trades,
                name,
                _frame([[t[k] for k in TRADE_SCHEMA] for t in records["trades"]], TRADE_SCHEMA),
            )
            _insert(con, Q.paper_insert_equity, name, _columns(records["equity"], EQUITY_SCHEMA))
            events = list(risk_events) + list(extra_events)
            if events:
                seq = con.execute(Q.paper_next_risk_seq, [name]).fetchall()[0][0]
                for k, e in enumerate(events):
                    con.execute(Q.paper_insert_risk_event, [name, seq + k, e["kind"], e["at"], e["by"], e["rule"],
                                                            e["reason"], e["from_state"], e["to_state"], e["bar"]])  # fmt: skip
            for bar, policy, path, blob, info in checkpoints:
                con.execute(
                    Q.paper_insert_checkpoint, [name, bar, policy, path, blob, json.dumps(info), utcnow()]
                )
            now = utcnow()
            for c, result in zip(controls, results, strict=True):
                con.execute(Q.paper_apply_control, [name, c["seq"], now, result])
            con.execute(
                Q.paper_update_session, [name, status, bars_processed, last_ts, json.dumps(state), now]
            )
    except StoreError:
        raise
    except Exception as e:  # a constraint or I/O error of the catalog (only store/ imports duckdb)
        if not type(e).__module__.startswith(("duckdb", "_duckdb")):
            raise
        raise StoreError(
            f"paper session {name!r}: the step could not be stored ({' '.join(str(e).split())[:200]}); is it "
            "running in another process too? Stop that one, then `workbench paper resume " + name + "`"
        ) from None
    return controls


def add_control(store: Store, name: str, action: str, reason: str, by: str) -> None:
    session_row(store, name)  # a one-line error when there is no such session
    with store.transaction() as con:
        con.execute(Q.paper_insert_control, [name, action, reason, by, utcnow()])
