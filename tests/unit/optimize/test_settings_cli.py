"""The engine settings through `workbench backtest` / `workbench optimize` (in process) and run_sweep: the
flags reach the engine, the JSON echoes every setting, the workspace keeps them (optimisation meta, the
best backtest's meta.settings), and a bad value is one stderr line naming the flag and the fix."""

from __future__ import annotations

import json

import pytest

from workbench.backtest import run, sweep
from workbench.cli import main
from workbench.optimize import run_sweep
from workbench.workspace import open_workspace

FLAGS = [
    "--direction", "both", "--commission", "7/lot", "--spread", "1pips", "--slippage", "0.2pips",
    "--size", "1%risk,max=20", "--stop-loss", "2atr", "--take-profit", "0.5%", "--trailing-stop", "30pips",
]  # fmt: skip
SETTINGS = {
    "fill": "next_open",
    "direction": "both",
    "cash": 10_000.0,
    "commission": "7/lot",
    "spread": "1pips",
    "slippage": "0.2pips",
    "size": "1%risk,max=20",
    "stop_loss": "2atr",
    "take_profit": "0.5%",
    "trailing_stop": "30pips",
    "contract": {"symbol": "EURUSD", "pip_size": 0.0001, "contract_size": 100_000.0, "quote_currency": "USD"},
}


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    w = open_workspace(tmp_path_factory.mktemp("lake"))
    w.load_samples()
    return w


def cli(ws, monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("WORKBENCH_HOME", str(ws.home))
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_backtest_flags_reach_the_engine_and_are_echoed_and_stored(ws, monkeypatch, capsys):
    code, out, err = cli(ws, monkeypatch, capsys, "backtest", "--strategy", "donchian_breakout", "--data",
                         "EURUSD:1h", "--param", "entry=20,40", "--param", "exit=10", *FLAGS, "--json")  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["settings"] == SETTINGS
    # the sweep is the engine's with those settings (shorts and stops included)
    direct = sweep(ws.bars("EURUSD:1h"), "donchian_breakout", {"entry": [20, 40], "exit": [10]}, **SETTINGS)
    best = direct.filter(entry=data["best"]["params"]["entry"]).row(0, named=True)
    assert data["best"]["metrics"]["final_equity"] == pytest.approx(best["final_equity"], rel=1e-12)
    assert best["total_return_pct"] == direct["total_return_pct"].max()
    # stored: the optimisation's meta and the best backtest's meta.settings; its trades are the engine's
    opt = ws.optimizations().filter(id=data["optimization_id"]).row(0, named=True)
    meta = json.loads(opt["meta"])
    assert {k: meta[k] for k in SETTINGS} == SETTINGS
    (bid,) = data["backtest_ids"]
    assert ws.backtest(bid).info["meta"]["settings"] == SETTINGS
    res = run(ws.bars("EURUSD:1h"), "donchian_breakout", data["best"]["params"], **SETTINGS)
    assert set(res.trades["direction"]) == {"long", "short"}
    assert {"stop_loss", "take_profit", "trailing_stop"} <= set(res.trades["exit_reason"])
    trades = ws.trades(bid)
    assert trades.height == res.metrics["trades"]
    assert float(trades["net_profit"].sum()) == pytest.approx(float(res.trades["pnl"].sum()), rel=1e-9)
    assert trades["pips"].to_list()[:3] == pytest.approx(res.to_trades("EURUSD")["pips"].to_list()[:3])


def test_a_stop_swept_as_a_grid_key(ws, monkeypatch, capsys):
    code, out, err = cli(ws, monkeypatch, capsys, "backtest", "--strategy", "sma_cross", "--data", "GOOG:1d",
                         "--param", "fast=10", "--param", "slow=50", "--param", "stop_loss=2%,2atr,0",
                         "--direction", "both", "--json")  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["combos"] == 3
    rows = ws.optimization_results(data["optimization_id"])
    assert sorted(json.loads(p)["stop_loss"] for p in rows["parameters"]) == ["0", "2%", "2atr"]
    assert data["settings"]["stop_loss"] is None and data["best"]["params"]["stop_loss"] in (
        "0",
        "2%",
        "2atr",
    )


def test_run_sweep_keywords_are_the_flags(ws):
    out = run_sweep(ws, "macd", "GOOG:1d", {"fast": [12], "slow": [26], "signal": [9]}, direction="short",
                    commission="0.5/lot", size="5000cash", take_profit="3atr")  # fmt: skip
    assert out.settings["direction"] == "short" and out.settings["size"] == "5000cash"
    assert out.settings["contract"]["symbol"] == "GOOG"
    res = run(ws.bars("GOOG:1d"), "macd", out.best_params, **out.settings)
    assert set(res.trades["direction"]) == {"short"}
    assert out.best_metrics["final_equity"] == pytest.approx(res.metrics["final_equity"], rel=1e-12)


@pytest.mark.parametrize(
    ("args", "start"),
    [
        (["--stop-loss", "2x"], "error: --stop-loss '2x': expected a price distance"),
        (["--commission", "7/lots/2"], "error: --commission '7/lots/2': expected a fraction of notional"),
        (["--size", "1%risk"], "error: --size 1%risk: risk sizing needs a stop"),
        (["--spread", "0.5"], "error: --spread '0.5': must be >= 0 and below 0.1"),
        (["--contract", "lot=abc"], "error: --contract 'lot=abc': lot must be a positive number"),
        (["--param", "stop_loss=1%,x"], "error: --stop-loss 'x': expected"),
        (["--param", "stop_loss=1%", "--stop-loss", "2%"], "error: --stop-loss is given twice"),
        (["--direction", "sideways"], "error: workbench backtest:arguments: argument --direction"),
    ],
)
@pytest.mark.parametrize("command", ["backtest", "optimize"])
def test_bad_values_are_one_line_before_anything_runs(ws, monkeypatch, capsys, command, args, start):
    before = ws.optimizations().height
    code, out, err = cli(ws, monkeypatch, capsys, command, "--strategy", "sma_cross", "--data", "EURUSD:1h",
                         "--param", "fast=10", "--param", "slow=50", *args)  # fmt: skip
    assert code in (1, 2) and out == ""
    expected = start.replace("backtest", command, 1) if "arguments" in start else start
    assert err.count("\n") == 1 and err.startswith(expected), err
    assert ws.optimizations().height == before  # nothing stored
