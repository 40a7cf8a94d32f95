"""The MQL5 target: no compiler here, so a structural check (and it says so)."""

from __future__ import annotations

import re

import pytest

from workbench.codegen import bot_model, generate
from workbench.codegen.targets import check_mql5

CALLS = {  # the indicator calls each EA must make, with the strategy's inputs as arguments
    "sma_cross": [r"iMA\(_Symbol, _Period, Fast, 0, MODE_SMA, PRICE_CLOSE\)", r"iMA\(_Symbol, _Period, Slow, 0, MODE_SMA, PRICE_CLOSE\)"],
    "ema_cross": [r"iMA\(_Symbol, _Period, Fast, 0, MODE_EMA, PRICE_CLOSE\)", r"iMA\(_Symbol, _Period, Slow, 0, MODE_EMA, PRICE_CLOSE\)"],
    "macd": [r"iMACD\(_Symbol, _Period, Fast, Slow, Signal, PRICE_CLOSE\)"],
    "rsi_reversion": [r"iRSI\(_Symbol, _Period, Window, PRICE_CLOSE\)", r"CrossBelow\(r2, Lower, r1, Lower\)",
                      r"CrossAbove\(r2, Upper, r1, Upper\)"],
    "bollinger_breakout": [r"iBands\(_Symbol, _Period, Window, 0, K, PRICE_CLOSE\)"],
    "donchian_breakout": [r"CrossAbove\(c2, Highest\(Entry, 2\), c1, Highest\(Entry, 1\)\)",
                          r"CrossBelow\(c2, Lowest\(Exit, 2\), c1, Lowest\(Exit, 1\)\)"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CALLS))
def test_mql5_expert_is_checked_structurally_and_says_so(tmp_path, name):
    m = bot_model(name)
    r = generate(
        name,
        None,
        {"direction": "both", "stop_loss": "1%", "size": "1%risk"},
        target="mql5",
        out_dir=tmp_path,
    )
    assert r.compiled is None and r.compiler is None and r.errors == []
    assert any("no MQL5 compiler here" for n in r.notes)
    src = next(f for f in r.files if f.endswith(".mq5"))
    text = open(src).read()
    assert check_mql5(text, m) == []
    for call in CALLS[name]:
        assert re.search(call, text), call
    for p in m.params:
        assert re.search(rf"^input {p.kind} {p.prop} = {p.default!r};", text, flags=re.M)
    assert "input ENUM_WB_DIRECTION Direction = WB_BOTH;" in text
    assert {p["item"] for p in r.parity} >= {"fill", "stop_loss", "size"}


def test_the_structural_check_finds_mistakes(tmp_path):
    r = generate("sma_cross", {"fast": 5, "slow": 30}, None, target="mql5", out_dir=tmp_path)
    text = open(r.files[0]).read()
    m = bot_model("sma_cross", {"fast": 5, "slow": 30})
    assert check_mql5(text, m) == []
    assert any(
        "never closed" in p or "unbalanced" in p
        for p in check_mql5(text.replace("   lastBar = bar;\n", "   {\n"), m)
    )
    assert any("unknown function 'iSMA'" in p for p in check_mql5(text.replace("iMA(", "iSMA("), m))
    assert any("no input int Fast = 5" in p for p in check_mql5(text.replace("Fast = 5;", "Fast = 6;"), m))
    assert any("OnTick" in p for p in check_mql5(text.replace("void OnTick()", "void OnTock()"), m))


def test_mql5_parity_names_its_own_differences():
    from workbench.codegen import parity_report

    macd = {p["item"]: p for p in parity_report(bot_model("macd"), "mql5")}
    assert macd["macd(12,26,9)"]["status"] == "differs" and "SIMPLE" in macd["macd(12,26,9)"]["note"]
    atr = {p["item"]: p for p in parity_report(bot_model("sma_cross", None, {"stop_loss": "2atr"}), "mql5")}
    assert atr["stop_loss"]["status"] == "differs"
