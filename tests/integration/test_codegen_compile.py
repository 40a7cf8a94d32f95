"""The compile check for real: Mono's mcs compiles the cAlgo.API reference stub once per session, then
every generated cBot and the ten real open-source cBots in ../shared/fixtures/cbots as libraries against
it; the stub rejects what cTrader's API rejects (wrong members and signatures); the CLI reports the
compiler, the stub and the errors; and the .cbotset goes through the real `workbench ingest` back to the
same parameters."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from workbench.codegen import generate, read_parameters
from workbench.codegen.compiler import compile_csharp, find_mcs, stub_dll

ROOT = Path(__file__).resolve().parents[2]
CBOTS = (ROOT / ".." / "shared" / "fixtures" / "cbots").resolve()
REAL_CBOTS = sorted(CBOTS.glob("*.cs"))
WORKBENCH = [sys.executable, "-m", "workbench"]
TEMPLATED = ("sma_cross", "ema_cross", "macd", "rsi_reversion", "bollinger_breakout", "donchian_breakout")


@pytest.fixture(scope="session")
def cache(tmp_path_factory) -> Path:
    """The stub compiled once for the session (each test then only compiles its bot)."""
    exe = find_mcs()
    assert exe, "mcs is not installed (Debian: apt-get install mono-mcs; .ci/system-deps installs it)"
    folder = tmp_path_factory.getbasetemp().parent / "codegen-stub"  # shared by xdist workers
    stub_dll(exe, folder)
    return folder


def test_ten_real_cbots_are_there():
    assert len(REAL_CBOTS) == 10, f"expected the ten real cBots in {CBOTS}"


@pytest.mark.parametrize("path", REAL_CBOTS, ids=lambda p: p.stem)
def test_real_cbot_compiles_against_the_stub(cache, path):
    r = compile_csharp([path], cache=cache)
    assert r.compiled is True, r.errors
    assert r.compiler.startswith("mcs ") and Path(r.stub).is_file()


@pytest.mark.parametrize("name", TEMPLATED)
def test_generated_cbot_compiles(cache, tmp_path, name):
    # every setting the templates branch on at once (the C# is the same template whatever the values)
    settings = {"direction": "both", "size": "1%risk,max=5", "stop_loss": "2atr", "take_profit": "1%",
                "trailing_stop": "3atr20"}  # fmt: skip
    r = generate(name, None, settings, out_dir=tmp_path, cache=cache)
    assert r.compiled is True, r.errors
    assert r.errors == [] and r.compiler.startswith("mcs ")


BROKEN = {
    "no such member": "var x = Symbol.NoSuchMember;",
    "StopLoss is double?": 'double sl = Positions.Find("x").StopLoss;',
    "old overload takes a long volume": 'ExecuteMarketOrder(TradeType.Buy, Symbol, 1000.5, "x");',
    "DataSeries is read-only": "Bars.ClosePrices[0] = 1.0;",
    "no such indicator": "Indicators.NoSuchIndicator(14);",
}


def _robot(tmp_path: Path, name: str, line: str) -> Path:
    src = tmp_path / f"{name}.cs"
    src.write_text(
        "using cAlgo.API;\nusing cAlgo.API.Internals;\nnamespace cAlgo.Robots {\n"
        "[Robot(TimeZone = TimeZones.UTC, AccessRights = AccessRights.None)]\n"
        f"public class {name} : Robot {{\n protected override void OnStart() {{\n" + line + "\n }\n}\n}\n"
    )
    return src


def test_the_stub_rejects_what_the_api_rejects(cache, tmp_path):
    assert compile_csharp([_robot(tmp_path, "Fine", 'Print("fine");')], cache=cache).compiled is True
    for i, (why, line) in enumerate(BROKEN.items()):
        r = compile_csharp([_robot(tmp_path, f"Broken{i}", line)], cache=cache)
        assert r.compiled is False, why
        assert r.errors and all(f"Broken{i}.cs:" in e and ": CS" in e for e in r.errors), r.errors


def _cli(home: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*WORKBENCH, "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def test_cli_check_and_no_compiler(tmp_path):
    out = _cli(tmp_path / "ws", "codegen", "--strategy", "rsi_reversion", "-p", "window=9", "-p", "lower=20",
               "--direction", "both", "--check", "-o", str(tmp_path / "bots"), "--json")  # fmt: skip
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["compiled"] is True and data["compiler"].startswith("mcs ") and Path(data["stub"]).is_file()
    assert data["errors"] == [] and data["params"] == {"window": 9, "lower": 20.0, "upper": 70.0}
    assert {Path(f).name for f in data["files"]} == {"RsiReversionBot.cs", "RsiReversionBot.cbotset",
                                                     "RsiReversionBot.parity.json"}  # fmt: skip
    assert any(p["item"] == "rsi(9)" and p["status"] == "warm-up" for p in data["parity"])
    none = _cli(tmp_path / "ws", "codegen", "--strategy", "sma_cross", "--check", "-o", str(tmp_path / "b2"),
                "--json", env={"WORKBENCH_MCS": str(tmp_path / "no-mcs")})  # fmt: skip
    assert none.returncode == 0, none.stderr
    data = json.loads(none.stdout)
    assert data["compiled"] is None and data["compiler"] is None
    assert any("no C# compiler here" in n for n in data["notes"])
    bad = _cli(tmp_path / "ws", "codegen", "--strategy", "model", "-o", str(tmp_path / "b3"), "--json")
    assert bad.returncode == 1 and bad.stdout == "" and len(bad.stderr.strip().splitlines()) == 1
    assert bad.stderr.startswith("error: ") and "cannot be generated" in bad.stderr


def _engine_backtest(home: Path) -> tuple[int, dict, dict]:
    """A real engine run stored as `workbench backtest` stores its best (strategy, params, settings)."""
    import workbench as wb
    from workbench.backtest import run
    from workbench.optimize.store import store_backtest

    n = 400
    rng = np.random.default_rng(7)
    c = 1.1 + np.cumsum(rng.normal(0, 0.001, n))
    ts = pl.datetime_range(
        dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1) + dt.timedelta(hours=n - 1), "1h", eager=True
    )
    bars = pl.DataFrame(
        {"ts": ts, "open": c, "high": c + 5e-4, "low": c - 5e-4, "close": c, "volume": np.ones(n)}
    )
    params = {"fast": 6, "slow": 21}
    res = run(bars, "ema_cross", params, direction="both", stop_loss="2atr", take_profit="0.5%", size="2%risk",
              contract="EURUSD")  # fmt: skip
    ws = wb.open(home)
    with ws.store.transaction() as con:
        bid = store_backtest(con, res, name="ema_cross test", symbol="EURUSD", timeframe="1h")
    return bid, params, res.settings


def test_backtest_to_cbot_and_cbotset_round_trip_through_ingest(tmp_path):
    home = tmp_path / "ws"
    bid, params, settings = _engine_backtest(home)
    out = _cli(home, "codegen", str(bid), "--check", "-o", str(tmp_path / "bots"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["compiled"] is True and data["strategy"] == "ema_cross" and data["params"] == params
    cbotset = next(Path(f) for f in data["files"] if f.endswith(".cbotset"))
    assert cbotset.name == "EmaCrossBot, EURUSD h1.cbotset"
    ing = _cli(home, "ingest", str(cbotset), "--json")
    assert ing.returncode == 0, ing.stderr
    rec = json.loads(ing.stdout)["files"][0]
    assert rec["status"] == "ingested" and rec["format"] == "ctrader_cbotset"
    sets = json.loads(_cli(home, "parameters", "--json").stdout)["parameter_sets"]
    row = next(s for s in sets if s["strategy"] == "EmaCrossBot")
    assert (row["symbol"], row["timeframe"]) == ("EURUSD", "h1")
    back = json.loads(_cli(home, "parameters", str(row["id"]), "--json").stdout)["parameters"]
    assert back == json.loads(cbotset.read_text())["Parameters"]  # the file's values, typed
    got_params, got_settings = read_parameters(row["strategy"], back)
    assert got_params == params
    for key in ("direction", "size", "stop_loss", "take_profit", "trailing_stop"):
        assert got_settings[key] == (str(settings[key]) if settings[key] is not None else None), key


# -- does the generated bot trade like the backtest? ------------------------------------------------------


@pytest.fixture(scope="module")
def replay_bars() -> pl.DataFrame:
    n = 700
    rng = np.random.default_rng(3)
    c = 1.1 + np.cumsum(rng.normal(0, 0.001, n))
    o = np.r_[c[0], c[:-1]] + rng.normal(0, 0.0002, n)  # gaps between a close and the next open
    h = np.maximum(o, c) + np.abs(rng.normal(0, 0.0006, n))
    lo = np.minimum(o, c) - np.abs(rng.normal(0, 0.0006, n))
    ts = pl.datetime_range(
        dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1) + dt.timedelta(hours=n - 1), "1h", eager=True
    )
    return pl.DataFrame({"ts": ts, "open": o, "high": h, "low": lo, "close": c, "volume": np.ones(n)})


REPLAY_PARAMS = {
    "sma_cross": {"fast": 5, "slow": 20},
    "ema_cross": {"fast": 5, "slow": 20},
    "macd": {"fast": 6, "slow": 13, "signal": 5},
    "rsi_reversion": {"window": 7, "lower": 30.0, "upper": 70.0},
    "bollinger_breakout": {"window": 10, "k": 1.5},
    "donchian_breakout": {"entry": 10, "exit": 5},
}
REPLAY_SETTINGS = {
    "both-stops": {"direction": "both", "size": "50%", "stop_loss": "2atr", "take_profit": "1%", "trailing_stop": "0.3%"},
    "long-risk": {"direction": "long", "size": "1%risk,max=20", "stop_loss": "0.002", "trailing_stop": "3atr20"},
    "short-units": {"direction": "short", "size": "1000"},
}  # fmt: skip


@pytest.mark.parametrize("case", REPLAY_SETTINGS, ids=str)
@pytest.mark.parametrize("name", TEMPLATED)
def test_generated_cbot_trades_like_the_backtest(cache, tmp_path, replay_bars, name, case):
    """The generated C# replayed (mono) over the same bars, with the engine's indicator values and fills,
    makes the engine's trades: same bars, sides, units, prices and P/L (see workbench.codegen.replay)."""
    from workbench.backtest import run
    from workbench.codegen.replay import replay_cbot

    settings = {**REPLAY_SETTINGS[case], "contract": "EURUSD"}
    engine = run(replay_bars, name, REPLAY_PARAMS[name], **settings).trades
    generate(name, REPLAY_PARAMS[name], settings, out_dir=tmp_path, check=False)
    bot = replay_cbot(next(tmp_path.glob("*.cs")), replay_bars, cache=cache)
    assert engine.height >= 3, "too few trades to compare"
    assert bot.height == engine.height
    assert bot["entry_bar"].to_list() == engine["entry_bar"].to_list()
    assert bot["exit_bar"].to_list() == engine["exit_bar"].to_list()
    assert bot["direction"].to_list() == [1 if d == "long" else -1 for d in engine["direction"]]
    for ours, theirs in (
        ("entry_price", "entry_price"),
        ("exit_price", "exit_price"),
        ("units", "size"),
        ("pnl", "pnl"),
    ):
        np.testing.assert_allclose(
            bot[ours].to_numpy(), engine[theirs].to_numpy(), rtol=1e-9, atol=1e-9, err_msg=ours
        )


def test_replay_catches_a_wrong_bot(cache, tmp_path, replay_bars):
    """The comparison is not blind: a bot with a wrong decision rule or a wrong size trades differently."""
    from workbench.backtest import run
    from workbench.codegen.replay import replay_cbot

    generate("sma_cross", {"fast": 5, "slow": 20}, {"direction": "long"}, out_dir=tmp_path, check=False)
    src = tmp_path / "SmaCrossBot.cs"
    good = src.read_text()
    engine = run(replay_bars, "sma_cross", {"fast": 5, "slow": 20}, direction="long").trades
    assert replay_cbot(src, replay_bars, cache=cache)["exit_bar"].to_list() == engine["exit_bar"].to_list()
    right = "return a.Last(Closed + 1) > b.Last(Closed + 1) && a.Last(Closed) < b.Last(Closed); }"
    lagged = "return a.Last(Closed + 2) > b.Last(Closed + 2) && a.Last(Closed) < b.Last(Closed); }"  # over two bars
    assert right in good
    src.write_text(good.replace(right, lagged, 1))
    assert replay_cbot(src, replay_bars, cache=cache)["exit_bar"].to_list() != engine["exit_bar"].to_list()
    src.write_text(
        good.replace(
            "units = Account.Equity * SizeValue / 100.0 / price;",
            "units = Account.Equity * SizeValue / 100.0 / (price * 1.01);",
        )
    )
    assert not np.allclose(
        replay_cbot(src, replay_bars, cache=cache)["units"].to_numpy(), engine["size"].to_numpy(), rtol=1e-6
    )


def test_generate_reports_the_replay(cache, tmp_path, replay_bars):
    # costs are the platform's: the replay is compared with the engine's run without them
    settings = {
        "direction": "both",
        "stop_loss": "1.5atr",
        "commission": "7/lot",
        "spread": "1pips",
        "contract": "EURUSD",
    }
    r = generate("ema_cross", {"fast": 8, "slow": 30}, settings, out_dir=tmp_path, check=False, cache=cache,
                 replay_bars=replay_bars)  # fmt: skip
    rp = r.replay
    assert rp["same_trades"] is True and rp["bot_trades"] == rp["engine_trades"] >= 3
    assert rp["max_abs_pnl_diff"] < 1e-6 and rp["engine_bankrupt"] is False
    with pytest.raises(Exception, match="ctrader"):
        generate("ema_cross", None, None, target="mql5", out_dir=tmp_path / "m", replay_bars=replay_bars)
