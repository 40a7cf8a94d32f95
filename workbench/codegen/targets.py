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
