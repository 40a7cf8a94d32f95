"""Engine settings as users write them: one parser for the values of the CLI flags, the widget controls,
the ``run``/``sweep`` keywords and the stored parameters, so ``--stop-loss 2atr`` on the command line,
``stop_loss="2atr"`` in Python and ``"stop_loss": "2atr"`` in a stored backtest mean the same thing.

=============== ============================== =========================================================
setting         flag / keyword                 values
=============== ============================== =========================================================
direction       ``--direction`` / direction    ``long`` (default), ``short``, ``both``
commission      ``--commission`` / commission  ``0.0002`` fraction of notional, ``0.01%``, ``2bp``;
                                               ``7/lot`` money per lot, ``0.00007/unit`` per unit,
                                               ``2.5/trade`` per order; terms joined with ``+``
                                               (``2.5/trade+0.01%``). Every term is charged on each
                                               fill: on entry and again on exit.
spread          ``--spread`` / spread          ``0.0002`` fraction of price, ``0.02%``, ``2bp``,
                                               ``1.5pips`` (× the contract's pip size)
slippage        ``--slippage`` / slippage      the same forms as spread
size            ``--size`` / size              ``100%`` of equity (default), ``1000`` units, ``2lots``,
                                               ``5000cash`` (or ``$5000``) notional per trade,
                                               ``10%vol`` volatility target, ``1%risk`` fixed
                                               fractional risk to the stop; options after commas:
                                               ``whole`` (whole units), ``window=N`` (vol), ``max=L``
                                               (leverage cap: vol, risk)
stop_loss       ``--stop-loss`` / stop_loss    ``0.0020`` price distance, ``0.5%`` of the entry price,
take_profit     ``--take-profit``              ``20pips``, ``2atr`` (2 × ATR(14) at the signal bar),
trailing_stop   ``--trailing-stop``            ``2atr20`` (ATR(20)); ``0``/empty = off. A ``%``
                                               trailing stop is a percent of the best price since entry
contract        ``--contract`` / contract      ``pip=0.0001,lot=100000,quote=USD`` or a symbol
                                               (``EURUSD``: its default); default: the bars' symbol's
                                               (:func:`contract_for`)
=============== ============================== =========================================================

Errors are one line naming the flag and the accepted forms. :class:`EngineSettings` holds one full set
(parsed), ``to_dict()`` echoes it in the same syntax (what the JSON outputs and the store keep), and
``resolve()`` turns it into the kernel's numbers for one instrument (pips and lots need its contract).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from workbench.errors import ConfigError

__all__ = [
    "Amount",
    "Commission",
    "Contract",
    "CONTRACTS",
    "DIRECTIONS",
    "EngineSettings",
    "FILLS",
    "Size",
    "STOP_NAMES",
    "contract_for",
    "parse_commission",
    "parse_contract",
    "parse_cost",
    "parse_size",
    "parse_stop",
]

FILLS = {"next_open": False, "close": True}
DIRECTIONS = {"long": (True, False), "short": (False, True), "both": (True, True)}
STOP_NAMES = ("stop_loss", "take_profit", "trailing_stop")
ATR_WINDOW = 14

# kernel codes (workbench.backtest._kernel)
SIZE_UNITS, SIZE_FRACTION, SIZE_VOL_TARGET, SIZE_CASH, SIZE_RISK = 0, 1, 2, 3, 4
STOP_FRACTION, STOP_PRICE, STOP_ATR = 0, 1, 2

_NUM = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"


def _fmt(x: float) -> str:
    """A number as short as it reads back exactly (up to 15 significant digits)."""
    text = format(float(x), ".15g")
    return text if "e" in text or "." not in text else text.rstrip("0").rstrip(".")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


# -- instruments -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    """What one unit of an instrument is: ``pip_size`` (the price step ``pips`` count in),
    ``contract_size`` (units per lot) and ``quote_currency`` (the currency prices, P/L, cash and
    commissions are in: the engine converts nothing). ``None`` = unknown (then ``pips``/``lots``
    values are refused, naming ``--contract``)."""

    symbol: str = ""
    pip_size: float | None = None
    contract_size: float | None = None
    quote_currency: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.pip_size is not None:
            parts.append(f"pip={_fmt(self.pip_size)}")
        if self.contract_size is not None:
            parts.append(f"lot={_fmt(self.contract_size)}")
        if self.quote_currency:
            parts.append(f"quote={self.quote_currency}")
        return ",".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "pip_size": self.pip_size,
            "contract_size": self.contract_size,
            "quote_currency": self.quote_currency,
        }


# The sample series of `workbench data samples` (backtesting.test): EURUSD:1h, GOOG:1d, BTCUSD:1mo.
CONTRACTS: dict[str, Contract] = {
    "EURUSD": Contract("EURUSD", 0.0001, 100_000.0, "USD"),
    "GOOG": Contract("GOOG", 0.01, 1.0, "USD"),
    "BTCUSD": Contract("BTCUSD", 1.0, 1.0, "USD"),
}
_CURRENCIES = frozenset(
    "USD EUR GBP JPY CHF AUD NZD CAD SEK NOK DKK SGD HKD CNH MXN ZAR TRY PLN HUF CZK ILS".split()
)


def contract_for(symbol: str | None) -> Contract:
    """The default contract of ``symbol``: the sample series' (``CONTRACTS``), else a six-letter FX pair
    of known currencies (pip 0.0001, 0.01 when quoted in JPY; 100 000 units a lot; the quote currency
    its last three letters), else unknown (``Contract(symbol)``)."""
    sym = (symbol or "").strip().upper()
    if sym in CONTRACTS:
        return CONTRACTS[sym]
    if len(sym) == 6 and sym[:3] in _CURRENCIES and sym[3:] in _CURRENCIES:
        return Contract(sym, 0.01 if sym[3:] == "JPY" else 0.0001, 100_000.0, sym[3:])
    return Contract(sym)


_CONTRACT_KEYS = {
    "pip": "pip_size",
    "pip_size": "pip_size",
    "lot": "contract_size",
    "contract_size": "contract_size",
    "size": "contract_size",
    "quote": "quote_currency",
    "quote_currency": "quote_currency",
    "symbol": "symbol",
}
_CONTRACT_FORMS = "pip=0.0001,lot=100000,quote=USD"


def parse_contract(
    value: Contract | str | Mapping[str, Any] | None, base: Contract | None = None
) -> Contract:
    """``"pip=0.0001,lot=100000,quote=USD"`` (any subset; keys ``pip``/``pip_size``, ``lot``/
    ``contract_size``, ``quote``/``quote_currency``), a mapping of the same keys or a :class:`Contract`,
    laid over ``base`` (the symbol's default); or a symbol (``"EURUSD"``): its default contract."""
    base = base or Contract()
    if value is None or (isinstance(value, str) and not value.strip()):
        return base
    if isinstance(value, Contract):
        return value
    if isinstance(value, str) and "=" not in value:  # a symbol: its default contract
        known = contract_for(value)
        if known.pip_size is None and known.contract_size is None:
            raise ConfigError(
                f"--contract {value!r}: no default contract for that symbol; give it as {_CONTRACT_FORMS}"
            )
        return known
    if isinstance(value, str):
        items: list[tuple[str, Any]] = []
        for part in value.split(","):
            key, sep, val = part.partition("=")
            if not sep or not key.strip() or not val.strip():
                raise ConfigError(f"--contract {value!r}: expected key=value items like {_CONTRACT_FORMS}")
            items.append((key.strip().lower(), val.strip()))
    elif isinstance(value, Mapping):
        items = [(str(k).lower(), v) for k, v in value.items()]
    else:
        raise ConfigError(f"--contract {value!r}: expected a text like {_CONTRACT_FORMS}")
    out: dict[str, Any] = {}
    for key, val in items:
        name = _CONTRACT_KEYS.get(key)
        if name is None:
            raise ConfigError(
                f"--contract {value!r}: unknown key {key!r} (known: pip, lot, quote; e.g. {_CONTRACT_FORMS})"
            )
        if val is None or name in ("symbol", "quote_currency"):
            out[name] = None if val is None else str(val).strip().upper()
            continue
        try:
            num = float(val)
        except (TypeError, ValueError):
            num = math.nan
        if not (num > 0 and math.isfinite(num)):
            raise ConfigError(f"--contract {value!r}: {key} must be a positive number, got {val!r}")
        out[name] = num
    return replace(base, **out)


# -- amounts: costs and stops ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Amount:
    """A number with the unit it was written in: ``""`` (bare: a fraction for costs, a price distance for
    stops), ``"%"``, ``"bp"``, ``"pips"``, ``"atr"`` (with its ``window``)."""

    value: float
    unit: str = ""
    window: int = 0

    def __str__(self) -> str:
        v = _fmt(self.value)
        if self.unit == "atr":
            return f"{v}atr" if self.window == ATR_WINDOW else f"{v}atr{self.window}"
        return v + self.unit

    @property
    def off(self) -> bool:
        return self.value == 0


_COST_RE = re.compile(rf"^({_NUM})\s*(%|bps?|pips?)?$", re.IGNORECASE)
_STOP_RE = re.compile(rf"^({_NUM})\s*(?:(%|pips?)|(atr)\s*(?:\(\s*(\d+)\s*\)|(\d+))?)?$", re.IGNORECASE)
_COST_FORMS = "a fraction of price (0.0002), a percent (0.02%), basis points (2bp) or pips (1.5pips)"
_STOP_FORMS = (
    "a price distance (0.0020), a percent of the entry price (0.5%), pips (20pips) or an ATR multiple "
    "(2atr, 2atr20 for ATR(20)); 0 = off"
)


def _unit(text: str | None) -> str:
    t = (text or "").lower()
    if t.startswith("bp"):
        return "bp"
    if t.startswith("pip"):
        return "pips"
    return t


def parse_cost(name: str, value: Amount | str | float | int | None) -> Amount:
    """``spread``/``slippage``: ``0.0002`` (fraction of price), ``0.02%``, ``2bp``, ``1.5pips``."""
    if value is None:
        return Amount(0.0)
    if isinstance(value, Amount):
        amount = value
    else:
        m = _COST_RE.match(str(value).strip()) if not isinstance(value, bool) else None
        if m is None:
            raise ConfigError(f"{_flag(name)} {value!r}: expected {_COST_FORMS}")
        amount = Amount(float(m.group(1)), _unit(m.group(2)))
    if amount.unit not in ("", "%", "bp", "pips"):
        raise ConfigError(f"{_flag(name)} {str(amount)!r}: expected {_COST_FORMS}")
    limit = {"": 0.1, "%": 10.0, "bp": 1000.0, "pips": math.inf}[amount.unit]
    if not 0 <= amount.value < limit:
        raise ConfigError(
            f"{_flag(name)} {str(amount)!r}: must be >= 0 and below {_fmt(limit)}{amount.unit} "
            f"(a bare number is a fraction of price: 0.0002 = 0.02%; for a price step write pips, e.g. 1.5pips)"
        )
    return amount


def parse_stop(name: str, value: Amount | str | float | int | None) -> Amount | None:
    """``stop_loss``/``take_profit``/``trailing_stop``: ``0.0020`` (price distance), ``0.5%``, ``20pips``,
    ``2atr``, ``2atr20``; ``None``, ``""``, ``0`` and ``off`` = off (``None``)."""
    if value is None:
        return None
    if isinstance(value, Amount):
        amount = value
    else:
        text = str(value).strip()
        if text.lower() in ("", "off", "none"):
            return None
        m = _STOP_RE.match(text) if not isinstance(value, bool) else None
        if m is None:
            raise ConfigError(f"{_flag(name)} {value!r}: expected {_STOP_FORMS}")
        if m.group(3):
            window = int(m.group(4) or m.group(5) or ATR_WINDOW)
            if window < 1:
                raise ConfigError(f"{_flag(name)} {value!r}: the ATR window must be >= 1 (e.g. 2atr14)")
            amount = Amount(float(m.group(1)), "atr", window)
        else:
            amount = Amount(float(m.group(1)), _unit(m.group(2)))
    if amount.unit not in ("", "%", "pips", "atr"):
        raise ConfigError(f"{_flag(name)} {str(amount)!r}: expected {_STOP_FORMS}")
    if not (amount.value >= 0 and math.isfinite(amount.value)):
        raise ConfigError(
            f"{_flag(name)} {str(amount)!r}: must be a distance >= 0 from the entry (0 = off), e.g. 0.5%, "
            "2atr, 20pips, 0.0020"
        )
    return None if amount.value == 0 else amount


@dataclass(frozen=True)
class Commission:
    """Commission terms, each charged on every fill (entry and exit): a ``fraction`` of notional (from a
    bare number, ``%`` or ``bp``), money ``per_unit``, ``per_lot`` and ``per_trade`` (per order).
    ``terms`` keeps them as written, for the echo."""

    terms: tuple[Amount, ...] = ()

    def __str__(self) -> str:
        return "+".join(str(t) for t in self.terms) if self.terms else "0"

    def total(self, unit: str) -> float:
        scale = {"": 1.0, "%": 0.01, "bp": 1e-4}
        if unit == "fraction":
            return sum(t.value * scale[t.unit] for t in self.terms if t.unit in scale)
        return sum(t.value for t in self.terms if t.unit == unit)

    @property
    def fraction(self) -> float:
        return self.total("fraction")


_COMM_RE = re.compile(rf"^({_NUM})\s*(%|bps?|/\s*lots?|/\s*trades?|/\s*orders?|/\s*units?)?$", re.IGNORECASE)
_COMM_FORMS = (
    "a fraction of notional (0.0002), a percent (0.01%), basis points (2bp), money per lot (7/lot), "
    "per unit (0.00007/unit) or per trade (2.5/trade), terms joined with + (2.5/trade+0.01%)"
)


def parse_commission(value: Commission | str | float | int | None) -> Commission:
    """``0.0002``, ``0.01%``, ``2bp``, ``7/lot``, ``0.00007/unit``, ``2.5/trade`` and sums of them."""
    if value is None:
        return Commission()
    if isinstance(value, Commission):
        return value
    if isinstance(value, bool):
        raise ConfigError(f"--commission {value!r}: expected {_COMM_FORMS}")
    terms: list[Amount] = []
    text = _fmt(value) if isinstance(value, int | float) else str(value).strip()
    for part in re.split(r"(?<![0-9.][eE])\+", text) if text else []:
        m = _COMM_RE.match(part.strip())
        if m is None:
            raise ConfigError(f"--commission {value!r}: expected {_COMM_FORMS}")
        unit = (m.group(2) or "").replace(" ", "").lower()
        unit = {"bps": "bp", "/lots": "/lot", "/trades": "/trade", "/order": "/trade", "/orders": "/trade",
                "/units": "/unit"}.get(unit, unit)  # fmt: skip
        terms.append(Amount(float(m.group(1)), unit))
    comm = Commission(tuple(t for t in terms if t.value != 0))
    if not -0.1 <= comm.fraction < 0.1:
        raise ConfigError(
            f"--commission {value!r}: the fraction of notional must be in [-0.1, 0.1) (0.0002 = 0.02%; "
            "money per lot or per trade is written 7/lot, 2.5/trade)"
        )
    for t in comm.terms:
        if t.unit.startswith("/") and not (t.value >= 0 and math.isfinite(t.value)):
            raise ConfigError(f"--commission {value!r}: money per {t.unit[1:]} must be >= 0")
    return comm


# -- sizing ----------------------------------------------------------------------------------------------

SizeMode = Literal["units", "lots", "cash", "fraction", "vol_target", "risk"]
SIZE_MODES: dict[str, int] = {
    "units": SIZE_UNITS,
    "lots": SIZE_UNITS,
    "cash": SIZE_CASH,
    "fraction": SIZE_FRACTION,
    "vol_target": SIZE_VOL_TARGET,
    "risk": SIZE_RISK,
}


@dataclass(frozen=True)
class Size:
    """Position sizing; build it with the class methods or :func:`parse_size` (``--size``).

    ``units(n)`` fixed units; ``lots(n)`` n × the contract size; ``cash(x)`` notional ``x`` at the entry
    fill; ``fraction(f)`` of equity (backtesting.py's arithmetic, costs included); ``vol_target(t)`` the
    fraction ``t / σ`` capped at ``max_leverage``; ``risk(r)``: the units that lose ``r`` × equity when
    the stop (the tighter of stop-loss and trailing stop) is hit, capped at ``max_leverage`` × equity of
    notional (default: no cap). ``whole`` floors to whole units (fraction, cash, vol, risk)."""

    mode: SizeMode = "fraction"
    value: float = 1.0
    whole: bool = False
    window: int = 20
    max_leverage: float = 1.0

    @classmethod
    def units(cls, n: float) -> Size:
        return cls("units", float(n))

    @classmethod
    def lots(cls, n: float) -> Size:
        return cls("lots", float(n))

    @classmethod
    def cash(cls, amount: float, *, whole: bool = False) -> Size:
        return cls("cash", float(amount), whole)

    @classmethod
    def fraction(cls, f: float = 1.0, *, whole: bool = False) -> Size:
        return cls("fraction", float(f), whole)

    @classmethod
    def vol_target(
        cls, target: float, *, window: int = 20, max_leverage: float = 1.0, whole: bool = False
    ) -> Size:
        return cls("vol_target", float(target), whole, int(window), float(max_leverage))

    @classmethod
    def risk(cls, r: float, *, max_leverage: float = math.inf, whole: bool = False) -> Size:
        return cls("risk", float(r), whole, 20, float(max_leverage))

    def __str__(self) -> str:
        opts: list[str] = []
        if self.mode in ("units", "lots"):
            head = _fmt(self.value) + ("lots" if self.mode == "lots" else "")
        elif self.mode == "cash":
            head = f"{_fmt(self.value)}cash"
        elif self.mode == "fraction":
            head = f"{_fmt(round(self.value * 100, 12))}%"
        elif self.mode == "vol_target":
            head = f"{_fmt(round(self.value * 100, 12))}%vol"
            opts.append(f"window={self.window}")
            opts.append(f"max={_fmt(self.max_leverage)}")
        else:
            head = f"{_fmt(round(self.value * 100, 12))}%risk"
            if math.isfinite(self.max_leverage):
                opts.append(f"max={_fmt(self.max_leverage)}")
        if self.whole and self.mode not in ("units", "lots"):
            opts.append("whole")
        return ",".join([head, *opts])

    def _check(self) -> None:
        if self.mode not in SIZE_MODES:
            raise ConfigError(f"--size mode {self.mode!r} is unknown (known: {', '.join(SIZE_MODES)})")
        if not self.value > 0 or not math.isfinite(self.value):
            raise ConfigError(
                f"--size {str(self)!r}: the size must be a positive number (e.g. 100%, 1000, 1%risk)"
            )
        if self.mode == "vol_target" and (self.window < 2 or not self.max_leverage > 0):
            raise ConfigError(f"--size {str(self)!r}: a volatility target needs window >= 2 and max > 0")
        if self.mode == "risk" and not self.max_leverage > 0:
            raise ConfigError(f"--size {str(self)!r}: max (the leverage cap) must be > 0")


_SIZE_RE = re.compile(
    rf"^(\$)?\s*({_NUM})\s*(%\s*(?:vol|risk)?|units?|lots?|cash|\$)?$",
    re.IGNORECASE,
)
_SIZE_FORMS = (
    "100% (of equity), 1000 (units), 2lots, 5000cash (notional per trade), 10%vol (volatility target), "
    "1%risk (risk to the stop); options after commas: whole, window=N, max=L"
)


def parse_size(value: Size | str | float | int | None) -> Size:
    """``--size``: ``100%``, ``1000``, ``2lots``, ``5000cash``/``$5000``, ``10%vol``, ``1%risk`` with
    options ``,whole``, ``,window=N`` (vol), ``,max=L`` (vol, risk leverage cap)."""
    if value is None:
        return Size()
    if isinstance(value, Size):
        value._check()
        return value
    if isinstance(value, bool):
        raise ConfigError(f"--size {value!r}: expected {_SIZE_FORMS}")
    text = _fmt(value) if isinstance(value, int | float) else str(value).strip()
    head, *options = [p.strip() for p in text.split(",")]
    m = _SIZE_RE.match(head)
    if m is None:
        raise ConfigError(f"--size {value!r}: expected {_SIZE_FORMS}")
    num = float(m.group(2))
    unit = (m.group(3) or "").replace(" ", "").lower()
    if m.group(1) or unit in ("$", "cash"):
        size = Size.cash(num)
    elif unit.startswith("lot"):
        size = Size.lots(num)
    elif unit in ("", "unit", "units"):
        size = Size.units(num)
    elif unit == "%":
        size = Size.fraction(num / 100)
    elif unit == "%vol":
        size = Size.vol_target(num / 100)
    else:
        size = Size.risk(num / 100)
    for opt in options:
        key, sep, val = (s.strip().lower() for s in opt.partition("="))
        try:
            if key == "whole" and not sep:
                size = replace(size, whole=True)
            elif key == "window" and size.mode == "vol_target":
                size = replace(size, window=int(val))
            elif key in ("max", "lev", "max_leverage") and size.mode in ("vol_target", "risk"):
                size = replace(size, max_leverage=float(val))
            else:
                raise ValueError
        except ValueError:
            raise ConfigError(
                f"--size {value!r}: option {opt!r} is not understood here (whole; window=N for %vol; "
                "max=L for %vol and %risk)"
            ) from None
    size._check()
    return size


# -- one full set ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resolved:
    """The kernel's numbers for one instrument (see :mod:`workbench.backtest._kernel`)."""

    costs: tuple[float, ...]  # commission fraction, per unit, per order; spread fraction, price; slippage ...
    size_mode: int
    size_value: float
    whole: bool
    max_leverage: float
    stops: tuple[tuple[int, float, int] | None, ...]  # per STOP_NAMES: (kind, value, ATR window) or None


@dataclass(frozen=True)
class EngineSettings:
    """Every setting a backtest runs with, parsed (build with :meth:`build`)."""

    fill: str = "next_open"
    direction: str = "long"
    cash: float = 10_000.0
    commission: Commission = field(default_factory=Commission)
    spread: Amount = Amount(0.0)
    slippage: Amount = Amount(0.0)
    size: Size = Size()
    stop_loss: Amount | None = None
    take_profit: Amount | None = None
    trailing_stop: Amount | None = None
    contract: Contract = Contract()

    @classmethod
    def build(
        cls,
        *,
        fill: str = "next_open",
        direction: str = "long",
        cash: float = 10_000.0,
        commission: Commission | str | float | None = 0.0,
        spread: Amount | str | float | None = 0.0,
        slippage: Amount | str | float | None = 0.0,
        size: Size | str | float | None = None,
        stop_loss: Amount | str | float | None = None,
        take_profit: Amount | str | float | None = None,
        trailing_stop: Amount | str | float | None = None,
        contract: Contract | str | Mapping[str, Any] | None = None,
        symbol: str | None = None,
    ) -> EngineSettings:
        """Parse and check every setting (one-line ``ConfigError`` naming the flag otherwise). The
        contract is ``contract`` laid over ``symbol``'s default (:func:`contract_for`)."""
        if fill not in FILLS:
            raise ConfigError(f"--fill {fill!r} is unknown (known: {', '.join(FILLS)})")
        if direction not in DIRECTIONS:
            raise ConfigError(f"--direction {direction!r} is unknown (known: {', '.join(DIRECTIONS)})")
        try:
            cash_f = float(cash)
        except (TypeError, ValueError):
            cash_f = math.nan
        if not cash_f > 0 or not math.isfinite(cash_f):
            raise ConfigError(f"--cash {cash!r}: must be a positive amount (e.g. 10000)")
        base = contract if isinstance(contract, Contract) else contract_for(symbol)
        out = cls(
            fill=fill,
            direction=direction,
            cash=cash_f,
            commission=parse_commission(commission),
            spread=parse_cost("spread", spread),
            slippage=parse_cost("slippage", slippage),
            size=parse_size(size),
            stop_loss=parse_stop("stop_loss", stop_loss),
            take_profit=parse_stop("take_profit", take_profit),
            trailing_stop=parse_stop("trailing_stop", trailing_stop),
            contract=parse_contract(contract, base),
        )
        out.resolve()  # pips and lots need the contract: fail now, not in the middle of a sweep
        return out

    def stop(self, name: str) -> Amount | None:
        return getattr(self, name)

    def check_grid(self, keys: Any) -> None:
        """Fail fast on settings a grid with parameter names ``keys`` cannot run: a stop given both as a
        setting and as a grid key, risk sizing without any stop."""
        keys = set(keys)
        for name, old in (("stop_loss", "sl"), ("take_profit", "tp"), ("trailing_stop", None)):
            given = [k for k in (name, old) if k in keys] + ([name] if self.stop(name) is not None else [])
            if len(given) > 1:
                raise ConfigError(
                    f"{_flag(name)} is given twice ({' and '.join(given)} in the grid and settings); "
                    "give it once, as a setting or as a grid key"
                )
        if self.size.mode == "risk" and not (
            self.stop_loss or self.trailing_stop or keys & {"stop_loss", "sl", "trailing_stop"}
        ):
            raise ConfigError(
                f"--size {self.size}: risk sizing needs a stop to measure the risk to; add --stop-loss "
                "(e.g. 2atr, 0.5%, 0.0020) or --trailing-stop"
            )

    def to_dict(self) -> dict[str, Any]:
        """Every setting in the flags' syntax (JSON-ready; ``build(**to_dict())`` gives it back)."""
        return {
            "fill": self.fill,
            "direction": self.direction,
            "cash": self.cash,
            "commission": str(self.commission),
            "spread": str(self.spread),
            "slippage": str(self.slippage),
            "size": str(self.size),
            "stop_loss": None if self.stop_loss is None else str(self.stop_loss),
            "take_profit": None if self.take_profit is None else str(self.take_profit),
            "trailing_stop": None if self.trailing_stop is None else str(self.trailing_stop),
            "contract": self.contract.to_dict(),
        }

    def _pip(self, flag: str, amount: Amount | str) -> float:
        if self.contract.pip_size is None:
            raise ConfigError(
                f"{flag} {str(amount)!r}: pips need the instrument's pip size, unknown for "
                f"{self.contract.symbol or 'these bars'!r}; give it with --contract pip=0.0001 "
                "(contract='pip=0.0001')"
            )
        return self.contract.pip_size

    def _lot(self, flag: str, amount: Any) -> float:
        if self.contract.contract_size is None:
            raise ConfigError(
                f"{flag} {str(amount)!r}: lots need the instrument's contract size, unknown for "
                f"{self.contract.symbol or 'these bars'!r}; give it with --contract lot=100000 "
                "(contract='lot=100000')"
            )
        return self.contract.contract_size

    def cost_fraction_and_price(self, name: str) -> tuple[float, float]:
        """``spread``/``slippage`` as (fraction of price, price distance)."""
        a: Amount = getattr(self, name)
        if a.unit == "pips":
            return 0.0, a.value * self._pip(_flag(name), a)
        return a.value * {"": 1.0, "%": 0.01, "bp": 1e-4}[a.unit], 0.0

    def stop_code(self, name: str, amount: Amount | None) -> tuple[int, float, int] | None:
        """(kind, value, ATR window) of a stop for the kernel: ``%`` -> (fraction of the entry price,
        or of the best price for a trailing stop), price and pips -> (price distance), ATR multiples."""
        if amount is None:
            return None
        if amount.unit == "%":
            return STOP_FRACTION, amount.value / 100.0, 0
        if amount.unit == "pips":
            return STOP_PRICE, amount.value * self._pip(_flag(name), amount), 0
        if amount.unit == "atr":
            return STOP_ATR, amount.value, amount.window
        return STOP_PRICE, amount.value, 0

    def resolve(self) -> Resolved:
        c = self.commission
        per_unit = c.total("/unit")
        if c.total("/lot"):
            per_unit += c.total("/lot") / self._lot("--commission", c)
        spread = self.cost_fraction_and_price("spread")
        slip = self.cost_fraction_and_price("slippage")
        s = self.size
        value = s.value * self._lot("--size", s) if s.mode == "lots" else s.value
        return Resolved(
            costs=(c.fraction, per_unit, c.total("/trade"), *spread, *slip),
            size_mode=SIZE_MODES[s.mode],
            size_value=value,
            whole=s.whole,
            max_leverage=s.max_leverage,
            stops=tuple(self.stop_code(n, getattr(self, n)) for n in STOP_NAMES),
        )
