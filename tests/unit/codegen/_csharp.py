"""A reader of generated cBots for the structural tests: tree-sitter-c-sharp's syntax tree, turned back
into the engine's terms (indicator lines and crossings) by an independent mapping of cAlgo's built-ins."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import tree_sitter_c_sharp as tcs
from tree_sitter import Language, Node, Parser

from workbench.backtest.spec import Const, Cross, Diff, Ind, Smooth

_PARSER = Parser(Language(tcs.language()))


def _nodes(node: Node, kind: str):
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type == kind:
            yield n
        stack.extend(reversed(n.children))


def _text(n: Node) -> str:
    return n.text.decode()


def _literal(n: Node) -> Any:
    t = _text(n)
    if n.type == "integer_literal":
        return int(t)
    if n.type == "real_literal":
        return float(t)
    if n.type == "boolean_literal":
        return t == "true"
    if n.type == "string_literal":
        return t[1:-1]
    if n.type == "prefix_unary_expression" and t.startswith("-"):
        return -_literal(n.children[1])
    return t  # an enum member: DirectionMode.Both


@dataclass
class CBot:
    tree_ok: bool
    class_name: str | None = None
    base: str | None = None
    robot_attribute: bool = False
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # prop -> {type, DefaultValue, ...}
    indicators: dict[str, tuple[str, list[str]]] = field(default_factory=dict)  # field -> (Kind, args)
    signals: dict[str, str] = field(default_factory=dict)  # longEntry -> "CrossAbove(...)" source
    methods: set[str] = field(default_factory=set)

    def value(self, expr: str) -> Any:
        """A parameter's default, a number, or the expression itself."""
        if expr in self.params:
            return self.params[expr]["DefaultValue"]
        try:
            return int(expr)
        except ValueError:
            try:
                return float(expr)
            except ValueError:
                return expr


def read(source: bytes) -> CBot:
    tree = _PARSER.parse(source)
    bot = CBot(tree_ok=not tree.root_node.has_error)
    for cls in _nodes(tree.root_node, "class_declaration"):
        bot.class_name = _text(cls.child_by_field_name("name"))
        bases = [c for c in cls.children if c.type == "base_list"]
        bot.base = _text(bases[0]).lstrip(":").strip() if bases else None
        bot.robot_attribute = any(_text(a).startswith("Robot(") for a in _nodes(cls, "attribute"))
    for prop in _nodes(tree.root_node, "property_declaration"):
        attrs = [a for a in _nodes(prop, "attribute") if _text(a.child_by_field_name("name")) == "Parameter"]
        if not attrs:
            continue
        name = _text(prop.child_by_field_name("name"))
        info: dict[str, Any] = {"type": _text(prop.child_by_field_name("type"))}
        for arg in _nodes(attrs[0], "attribute_argument"):
            kids = [c for c in arg.children if c.type not in ("=",)]
            if len(kids) == 2 and kids[0].type == "identifier":
                info[_text(kids[0])] = _literal(kids[1])
            else:
                info["Name"] = _literal(kids[0])
        bot.params[name] = info
    for method in _nodes(tree.root_node, "method_declaration"):
        mname = _text(method.child_by_field_name("name"))
        bot.methods.add(mname)
        for asg in _nodes(method, "assignment_expression"):
            left, right = asg.child_by_field_name("left"), asg.child_by_field_name("right")
            if mname == "OnStart" and right.type == "invocation_expression":
                fn = _text(right.child_by_field_name("function"))
                if fn.startswith("Indicators."):
                    args = [
                        _text(a)
                        for a in right.child_by_field_name("arguments").children
                        if a.type == "argument"
                    ]
                    bot.indicators[_text(left)] = (fn.split(".", 1)[1], args)
            if mname == "OnBarClosed":
                bot.signals[_text(left)] = _text(right)
    return bot


# -- cAlgo built-ins in the engine's terms (the oracle mapping) ------------------------------------------

_MA = {"SimpleMovingAverage": "sma", "ExponentialMovingAverage": "ema", "RelativeStrengthIndex": "rsi"}


def _call(expr: str) -> tuple[str, list[str]]:
    name, _, rest = expr.partition("(")
    return name.strip(), [a.strip() for a in rest.rstrip(")").split(",")]


def to_cross(bot: CBot, expr: str) -> Cross:
    """``CrossAbove(_fast.Result, _slow.Result)`` -> ``Cross(sma(10), sma(50), +1)`` in spec terms."""
    fn, args = _call(expr)
    direction = {"CrossAbove": 1, "CrossBelow": -1}[fn]
    a, b, *shift = args

    def ref(x: str) -> tuple[str, list[Any], str]:
        fld, _, member = x.partition(".")
        kind, iargs = bot.indicators[fld]
        return kind, [bot.value(v) for v in iargs], member

    if a == "Bars.ClosePrices":
        kind, iargs, member = ref(b)
        if kind == "BollingerBands":
            assert iargs[0] == "Bars.ClosePrices" and iargs[3] == "MovingAverageType.Simple" and not shift
            n, k = iargs[1], iargs[2]
            level = {"Top": float(k), "Main": 0.0, "Bottom": -float(k)}[member]
            return Cross(Ind("zscore", (n,)), Const(level), direction)
        if kind == "DonchianChannel":
            assert shift == ["1"], "the engine's channel excludes the current bar: read cAlgo's one bar back"
            n = iargs[0]
            return Cross(Ind("close"), Ind({"Top": "highest", "Bottom": "lowest"}[member], (n,)), direction)
        raise AssertionError(f"unexpected line {b}")
    kind, iargs, member = ref(a)
    if kind == "MacdCrossOver":
        assert iargs[0] == "Bars.ClosePrices"
        slow, fast, sig = iargs[1:]
        line = Diff(Ind("ema", (fast,)), Ind("ema", (slow,)))
        assert member == "MACD" and b.endswith(".Signal") and ref(b)[1] == iargs
        return Cross(line, Smooth(line, sig), direction)
    assert iargs[0] == "Bars.ClosePrices" and member == "Result"
    left = Ind(_MA[kind], (iargs[1],))
    if b in bot.params:
        return Cross(left, Const(float(bot.value(b))), direction)
    kind_b, args_b, member_b = ref(b)
    assert args_b[0] == "Bars.ClosePrices" and member_b == "Result"
    return Cross(left, Ind(_MA[kind_b], (args_b[1],)), direction)


def rules_of(bot: CBot) -> tuple[Cross | None, ...]:
    """(long_entry, long_exit, short_entry, short_exit) as the bot computes them."""
    out = []
    for name in ("longEntry", "longExit", "shortEntry", "shortExit"):
        expr = bot.signals[name]
        while expr in bot.signals:  # shortEntry = longExit
            expr = bot.signals[expr]
        out.append(to_cross(bot, expr))
    return tuple(out)
