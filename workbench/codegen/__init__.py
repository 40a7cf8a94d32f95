"""Code generation: a library strategy (or an inferred one) out as a platform bot that compiles.

>>> from workbench.codegen import generate
>>> r = generate("sma_cross", {"fast": 20, "slow": 30}, {"direction": "both", "stop_loss": "2atr"},
...              target="ctrader", out_dir="exports")                          # doctest: +SKIP
>>> r.compiled, r.compiler, r.files                                             # doctest: +SKIP

Targets (:data:`TARGETS`): ``ctrader`` (a C# cBot from Jinja2 templates, one per strategy over a shared
base, with its ``.cbotset``; compiled with Mono's ``mcs`` against a reference stub of cAlgo.API) and
``mql5`` (a MetaTrader 5 expert advisor, checked structurally only). Every bot comes with a parity report
(:func:`parity_report`) naming what maps one-to-one onto the platform and what differs. See docs/codegen.md.
"""

from __future__ import annotations

from workbench.codegen.api import CodegenResult, default_out_dir, generate, generate_from_backtest
from workbench.codegen.cbotset import read_parameters, write_cbotset
from workbench.codegen.compiler import STUB_SOURCE, compile_csharp, find_mcs
from workbench.codegen.model import BotModel, bot_model
from workbench.codegen.parity import parity_report
from workbench.codegen.targets import TARGETS

__all__ = [
    "CodegenResult",
    "generate",
    "generate_from_backtest",
    "default_out_dir",
    "TARGETS",
    "BotModel",
    "bot_model",
    "parity_report",
    "read_parameters",
    "write_cbotset",
    "compile_csharp",
    "find_mcs",
    "STUB_SOURCE",
]
