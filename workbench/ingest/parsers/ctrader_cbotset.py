"""cTrader / cAlgo cBot parameter sets (``.cbotset``), both layouts, one parser ``ctrader_cbotset``.

* Modern (cTrader 4.x/5.x) JSON::

      {"Chart": {"Symbol": "NAS100.cash", "Period": "m1"}, "Parameters": {"Name": value, ...}}

  Values are already typed (true/false, ints, floats written ``2000.0``, strings for times,
  timeframes and some enums; other enums as ints).
* Legacy cAlgo (2015-2018) INI, UTF-8 with BOM::

      [ChartParameters]
      Symbol = XAUUSD
      Timeframe = m1

      [cBotParameters]
      TrailingStops = True
      MbfxFilter = -1

  Untyped text: ``True``/``False`` -> bool, integers -> int, decimals -> float, anything else
  (enum names like ``Open``, symbol names) -> str.

One parser handles both: the detector recognises either layout and the parser picks by the
first non-blank character. Symbol is kept as written; the timeframe is lower-cased (``m1``,
``h1``, ``m4``). The strategy (cBot) name comes from cAlgo's file-name convention
``<BotName>, <SYMBOL> <tf>.cbotset`` when the name follows it, else it is None.
"""

from __future__ import annotations

import json
import re
from pathlib import PurePath
from typing import Any

from workbench.errors import DataError
from workbench.ingest.records import Parsed
from workbench.ingest.registry import parser
from workbench.ingest.text import clean, decode

__all__: list[str] = []

_FILE_NAME = re.compile(r"^(?P<bot>.+?),\s*(?P<symbol>\S+)\s+(?P<tf>[A-Za-z]+\d*)\.cbotset$", re.I)
_SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]$")
_INT = re.compile(r"^[-+]?\d+$")
_FLOAT = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+(\.\d*)?[eE][-+]?\d+)$")


def _text(head: bytes) -> str:
    return head.decode("utf-8-sig", errors="replace").lstrip()


def _detect(head: bytes, name: str) -> bool:
    text = _text(head)
    if text.startswith("{"):
        return bool(re.search(r'"Chart"\s*:', text[:2000])) and bool(re.search(r'"Parameters"\s*:', text))
    return text.startswith("[ChartParameters]") or text.startswith("[cBotParameters]")


def _typed(value: str) -> bool | int | float | str:
    """``True`` -> True, ``-1`` -> -1, ``0.9`` -> 0.9, ``Open`` -> "Open"."""
    if value in ("True", "False", "true", "false"):
        return value.lower() == "true"
    if _INT.match(value):
        return int(value)
    if _FLOAT.match(value):
        return float(value)
    return value


def _from_name(name: str) -> tuple[str | None, str | None, str | None]:
    m = _FILE_NAME.match(PurePath(name).name)
    if not m:
        return None, None, None
    return clean(m.group("bot")), m.group("symbol"), m.group("tf").lower()


def _parse_ini(text: str) -> tuple[dict[str, str], dict[str, Any]]:
    sections: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    for no, line in enumerate(text.splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith(";") or s.startswith("#"):
            continue
        if m := _SECTION.match(s):
            current = sections.setdefault(m.group("name").strip().lower(), {})
            continue
        if current is None:
            raise DataError(f"{s!r} before any [section] header", where=f"line {no}")
        key, sep, value = s.partition("=")
        if not sep or not key.strip():
            raise DataError(f"expected 'Name = Value', got {s!r} (truncated file?)", where=f"line {no}")
        current[key.strip()] = value.strip()
    if "cbotparameters" not in sections:
        raise DataError("no [cBotParameters] section (truncated file?)", where="cBotParameters")
    chart = {k.lower(): v for k, v in sections.get("chartparameters", {}).items()}
    params = {k: _typed(v) for k, v in sections["cbotparameters"].items()}
    return chart, params


def _plain(value: Any) -> bool | int | float | str:
    if isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, separators=(",", ":"))  # null / list / object: kept as JSON text


def _parse_json(text: str) -> tuple[dict[str, str], dict[str, Any]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"invalid JSON ({e.msg}; truncated file?)", where=f"line {e.lineno}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("Parameters"), dict):
        raise DataError('expected an object with a "Parameters" object', where="Parameters")
    chart = doc.get("Chart") or {}
    if not isinstance(chart, dict):
        raise DataError('"Chart" must be an object', where="Chart")
    chart = {k.lower(): v for k, v in chart.items()}
    params = {str(k): _plain(v) for k, v in doc["Parameters"].items()}
    return chart, params


@parser("ctrader_cbotset", detect=_detect, priority=20)
def parse(data: bytes, name: str) -> Parsed:
    """cTrader cBot parameter set (.cbotset), modern JSON or legacy cAlgo INI layout."""
    text = decode(data).lstrip("\ufeff")
    layout = "json" if text.lstrip().startswith("{") else "ini"
    chart, params = _parse_json(text) if layout == "json" else _parse_ini(text)
    bot, name_symbol, name_tf = _from_name(name)
    symbol = clean(str(chart.get("symbol") or "")) or name_symbol
    tf_raw = chart.get("period") or chart.get("timeframe")
    timeframe = clean(str(tf_raw)).lower() if tf_raw else name_tf
    title = " ".join(x for x in (bot, symbol, timeframe) if x) if bot else PurePath(name).stem
    return Parsed(
        format="ctrader_cbotset",
        kind="parameters",
        name=title,
        platform="ctrader",
        strategy=bot,
        symbol=symbol or None,
        timeframe=timeframe or None,
        parameters=params,
        meta={"layout": layout},
    )
