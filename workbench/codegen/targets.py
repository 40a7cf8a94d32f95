"""Code generation targets, in a registry: ``ctrader`` (C# cBot + .cbotset, compiled against the
cAlgo.API stub) and ``mql5`` (MetaTrader 5 expert advisor, checked structurally only: no MQL5 compiler
here). A target renders a :class:`~workbench.codegen.model.BotModel` into files and checks them."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from workbench._registry import Registry
from workbench.codegen.model import BotModel, BotParam
from workbench.errors import StrategyError

__all__ = ["Target", "TARGETS", "Rendered", "Checked", "template_env"]

TEMPLATES = Path(__file__).with_name("templates")


@dataclass(frozen=True)
class Rendered:
    sources: list[Path]  # the code files (what is compiled / checked)
    extra: list[Path]  # parameter files etc.


@dataclass(frozen=True)
class Checked:
    compiled: bool | None
    compiler: str | None
    stub: str | None
    errors: list[str]
    notes: list[str]


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    extension: str
    render: Callable[[BotModel, Path], Rendered]
    check: Callable[[Rendered, Path | None], Checked]


TARGETS: Registry[Target] = Registry("codegen target")


def _cs_literal(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise StrategyError(f"value {v!r} has no C# literal")
        text = repr(v)
        return text if ("." in text or "e" in text) else text + ".0"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    raise StrategyError(f"value {v!r} has no literal")


def _default(p: BotParam) -> str:
    if p.kind in ("int", "double", "bool", "string"):
        return _cs_literal(float(p.default) if p.kind == "double" else p.default)
    return f"{p.kind}.{p.default}"  # an enum member


def template_env(target: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES / target)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
        autoescape=False,
    )
    env.filters["cs"] = _cs_literal
    env.filters["cs_default"] = _default
    return env


def render_template(target: str, model: BotModel, extension: str) -> str:
    env = template_env(target)
    name = f"{model.strategy}.{extension}.j2"
    try:
        tpl = env.get_template(name)
    except jinja2.TemplateNotFound:
        known = sorted(t.split(".")[0] for t in env.list_templates() if not t.startswith(("base", "_")))
        raise StrategyError(
            f"strategy {model.strategy!r} has no {target} template (templates: {', '.join(known)}); "
            f"add workbench/codegen/templates/{target}/{name}"
        ) from None
    return tpl.render(m=model)


# -- cTrader --------------------------------------------------------------------------------------------


def _render_ctrader(model: BotModel, out_dir: Path) -> Rendered:
    from workbench.codegen.cbotset import write_cbotset

    src = out_dir / f"{model.class_name}.cs"
    src.write_text(render_template("ctrader", model, "cs"), encoding="utf-8")
    return Rendered([src], [write_cbotset(model, out_dir)])


def _check_ctrader(rendered: Rendered, cache: Path | None) -> Checked:
    from workbench.codegen.compiler import compile_csharp

    r = compile_csharp(rendered.sources, cache=cache)
    notes = [r.note] if r.note else []
    if r.warnings:
        notes.append(f"{len(r.warnings)} compiler warning(s): " + "; ".join(r.warnings[:5]))
    return Checked(r.compiled, r.compiler, r.stub, list(r.errors), notes)


TARGETS.add(
    "ctrader",
    Target("ctrader", "cTrader cBot (C#, cAlgo.API) + .cbotset", "cs", _render_ctrader, _check_ctrader),
)


# -- MetaTrader 5 ---------------------------------------------------------------------------------------

_MQ_BUILTINS = frozenset(
    """iMA iRSI iBands iMACD iATR iHighest iLowest iHigh iLow iClose iTime CopyBuffer IndicatorRelease
    PositionsTotal PositionGetTicket PositionGetString PositionGetInteger PositionGetDouble
    SymbolInfoDouble AccountInfoDouble MathMin MathMax MathFloor MathIsValidNumber NormalizeDouble
    PrintFormat Print""".split()
)
_MQ_KEYWORDS = frozenset("if else for while return switch sizeof".split())
_MQ_METHODS = frozenset("SetExpertMagicNumber Buy Sell PositionClose PositionModify".split())


def _mq_literal(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return _cs_literal(v)
    return str(v)


def _strip_mq(text: str) -> str:
    """The code without comments, string and character literals (kept as empty quotes)."""
    import re

    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def check_mql5(text: str, model: BotModel | None = None) -> list[str]:
    """Structural check of an MQL5 expert advisor (no compiler here): balanced brackets, the event
    handlers, one ``input`` per strategy parameter with its default, every called function defined in the
    file or one of the MQL5 built-ins the templates use. Returns the problems (empty: passed)."""
    import re

    code = _strip_mq(text)
    problems: list[str] = []
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[tuple[str, int]] = []
    for line_no, line in enumerate(code.splitlines(), start=1):
        for ch in line:
            if ch in "([{":
                stack.append((ch, line_no))
            elif ch in pairs:
                if not stack or stack[-1][0] != pairs[ch]:
                    problems.append(f"line {line_no}: unbalanced {ch!r}")
                    break
                stack.pop()
    problems += [f"line {n}: {ch!r} never closed" for ch, n in stack[:3]]
    handlers = {
        "int OnInit()": r"int\s+OnInit\s*\(\s*\)",
        "void OnTick()": r"void\s+OnTick\s*\(\s*\)",
        "void OnDeinit(const int)": r"void\s+OnDeinit\s*\(",
    }
    problems += [f"missing handler {name}" for name, sig in handlers.items() if not re.search(sig, code)]
    defined = set(re.findall(r"^\s*(?:\w+)\s+(\w+)\s*\([^;{]*\)\s*\{", code, flags=re.M))
    defined |= set(re.findall(r"^\s*(?:bool|double|int|void|ulong)\s+(\w+)\s*\(", code, flags=re.M))
    for m in re.finditer(r"(?<![\w.])([A-Za-z_]\w*)\s*\(", code):
        name = m.group(1)
        if name in defined or name in _MQ_BUILTINS or name in _MQ_KEYWORDS:
            continue
        problems.append(f"line {code[: m.start()].count(chr(10)) + 1}: unknown function {name!r}")
    for m in re.finditer(r"\.\s*([A-Za-z_]\w*)\s*\(", code):
        if m.group(1) not in _MQ_METHODS:
            problems.append(f"unknown method .{m.group(1)}()")
    if model is not None:
        for p in model.params:
            want = rf"^input\s+{p.kind}\s+{p.prop}\s*=\s*{re.escape(_mq_literal(p.default))}\s*;"
            if not re.search(want, code, flags=re.M):
                problems.append(f"no input {p.kind} {p.prop} = {_mq_literal(p.default)}")
    return sorted(set(problems))


def _render_mql5(model: BotModel, out_dir: Path) -> Rendered:
    import hashlib

    env = template_env("mql5")
    env.filters["mq"] = _mq_literal
    name = f"{model.strategy}.mq5.j2"
    try:
        tpl = env.get_template(name)
    except jinja2.TemplateNotFound:
        raise StrategyError(
            f"strategy {model.strategy!r} has no mql5 template; add workbench/codegen/templates/mql5/{name}"
        ) from None
    magic = int(hashlib.sha256(model.class_name.encode()).hexdigest()[:6], 16)
    src = out_dir / f"{model.class_name}.mq5"
    src.write_text(tpl.render(m=model, magic=magic), encoding="utf-8")
    return Rendered([src], [])


def _check_mql5(rendered: Rendered, cache: Path | None) -> Checked:
    errors: list[str] = []
    for src in rendered.sources:
        errors += [f"{src.name}: {p}" for p in check_mql5(src.read_text(encoding="utf-8"))]
    note = "no MQL5 compiler here: checked structurally only (brackets, handlers, inputs, functions)"
    return Checked(None, None, None, errors, [note])


TARGETS.add(
    "mql5",
    Target(
        "mql5",
        "MetaTrader 5 expert advisor (MQL5), checked structurally only",
        "mq5",
        _render_mql5,
        _check_mql5,
    ),
)
