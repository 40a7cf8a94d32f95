"""Live-style feeds on loopback: bars streamed by a real WebSocket server, and a CSV file growing while
the session tails it (and a resume that picks up after the last bar it stored). Either way the trades
are exactly workbench.backtest.run()'s on the bars that arrived."""

from __future__ import annotations

import json
import threading
import time

import pytest
from websockets.sync.server import serve

from workbench.backtest import run
from workbench.paper import PaperConfig, resume, start_session
from workbench.workspace import open_workspace

KEYS = ["direction", "entry_bar", "exit_bar", "size", "entry_price", "exit_price", "pnl", "exit_reason"]


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = open_workspace(tmp_path_factory.mktemp("feeds") / "lake")
    w.load_samples()
    return w


def _bar_json(row) -> dict:
    return {"ts": row["ts"].isoformat(), **{k: row[k] for k in ("open", "high", "low", "close", "volume")}}


def test_websocket_feed(ws):
    bars = ws.bars("EURUSD:1h").head(700)
    rows = [_bar_json(r) for r in bars.iter_rows(named=True)]

    def handler(conn):
        for k in range(0, len(rows), 50):  # bursts of 50 bars, like a reconnecting client catching up
            for r in rows[k : k + 50]:
                conn.send(json.dumps(r))
            time.sleep(0.02)
        conn.send(json.dumps({"end": True}))
        time.sleep(0.5)

    with serve(handler, "127.0.0.1", 0) as server:
        port = server.socket.getsockname()[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        session = start_session(ws, PaperConfig(data="EURUSD:1h", strategy="sma_cross", params={"fast": 5, "slow": 20},
                                                feed=f"ws://127.0.0.1:{port}", name="ws1"))  # fmt: skip
        seen = []
        session.listeners.append(lambda ev, d: seen.append((ev, d.get("bars"))))
        out = session.run()
        server.shutdown()
    bt = run(bars, "sma_cross", {"fast": 5, "slow": 20}, contract="EURUSD")
    assert out["bars"] == 700 and out["state"] == "finished"
    assert session.trades_frame().select(KEYS).equals(bt.trades.select(KEYS)) and bt.trades.height > 5
    steps = [b for ev, b in seen if ev == "step"]
    assert sum(steps) == 700 and len(steps) > 1  # bars were traded as they arrived, step by step
    assert out["latency"]["samples"] == 700


def test_csv_tail_feed_and_resume(ws, tmp_path):
    bars = ws.bars("EURUSD:1h").head(900)
    path = tmp_path / "live.csv"
    path.write_text("ts,open,high,low,close,volume\n")

    def writer():
        lines = [f"{r['ts'].isoformat()},{r['open']!r},{r['high']!r},{r['low']!r},{r['close']!r},{r['volume']!r}\n"
                 for r in bars.iter_rows(named=True)]  # fmt: skip
        for k in range(0, len(lines), 100):
            with open(path, "a") as fh:
                fh.write("".join(lines[k : k + 100]))
            time.sleep(0.05)
        with open(path, "a") as fh:
            fh.write("#end\n")

    t = threading.Thread(target=writer)
    t.start()
    session = start_session(ws, PaperConfig(data="EURUSD:1h", strategy="ema_cross", params={"fast": 5, "slow": 30},
                                            settings={"direction": "both"}, feed=f"csv:{path}", name="csv1"))  # fmt: skip
    session.run(max_bars=400)
    t.join()
    again = resume(ws, "csv1")  # a new feed re-reads the file and skips what the session already has
    out = again.run()
    bt = run(bars, "ema_cross", {"fast": 5, "slow": 30}, contract="EURUSD", direction="both")
    assert out["bars"] == 900
    assert again.trades_frame().select(KEYS).equals(bt.trades.select(KEYS)) and bt.trades.height > 5
    assert out["live_diff"]["identical"]
