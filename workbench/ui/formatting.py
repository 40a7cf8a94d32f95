"""How the widgets and dashboards name and write figures: the HTML report's conventions
(:mod:`workbench.reports.static`), so a number reads the same in a report, a dashboard and a widget.

* names: ``max_drawdown_pct`` -> ``Max drawdown %`` (the report's labels); a duration shown as
  ``2:48:40`` drops its unit from the name (``avg_trade_duration_seconds`` -> ``Avg trade duration``);
* numbers: thousands separators and 2 decimals, ``_pct`` values with ``%``, whole numbers without
  decimals (:func:`tabulator_formatters` says the same to a Panel ``Tabulator``, which keeps sorting
  on the numbers).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from workbench.reports.static import MISSING
from workbench.reports.static import _label as report_label

__all__ = ["metric_label", "metric_labels", "table_frame", "tabulator_formatters", "tabulator_titles"]

DURATION_SUFFIX = "_seconds"  # written as h:mm:ss by the report's fmt()


def metric_label(key: str) -> str:
    """The report's name for a metric or column; durations lose the unit their value no longer has."""
    if key.endswith(DURATION_SUFFIX):
        key = key.removesuffix(DURATION_SUFFIX)
    return report_label(key)


def metric_labels(keys: Iterable[str]) -> dict[str, str]:
    """``{key: label}`` for :func:`workbench.reports.static.mapping_table`'s ``labels``."""
    return {k: metric_label(k) for k in keys}


def _money(precision: int, suffix: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "money", "thousand": ",", "decimal": ".", "precision": precision}
    if suffix:
        spec.update({"symbol": suffix, "symbolAfter": True})
    return spec


def tabulator_formatters(frame: pl.DataFrame, *, plain: Iterable[str] = ("id",)) -> dict[str, Any]:
    """Tabulator cell formatters for ``frame``'s numeric columns, as the report writes them:
    ``1,234.57``, ``13.34 %``, ``1,234`` (columns in ``plain`` are left as they are)."""
    skip = set(plain)
    out: dict[str, Any] = {}
    for name, dtype in frame.schema.items():
        if name in skip or not dtype.is_numeric():
            continue
        if name.endswith("_pct"):
            out[name] = _money(2, " %")
        elif dtype.is_integer():
            out[name] = _money(0)
        else:
            out[name] = _money(2)
    return out


def tabulator_titles(columns: Iterable[str], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Column headers: the report's labels, ``overrides`` first."""
    overrides = overrides or {}
    return {c: overrides.get(c, metric_label(c)) for c in columns}


def _shown(value: float | None) -> float | str:
    """A float cell as the report writes the values a number format cannot: ``—``, ``∞``, ``-∞``."""
    if value is None or math.isnan(value):
        return MISSING
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    return value


def table_frame(frame: pl.DataFrame) -> Any:
    """``frame`` as the pandas frame a Tabulator shows: numbers stay numbers (formatted by
    :func:`tabulator_formatters`, sortable); a missing or infinite value is written as the report
    writes it (``—``, ``∞``) where Tabulator would print ``NaN`` or ``Infinity``."""
    out = frame.to_pandas()
    for name, dtype in frame.schema.items():
        values = frame[name].to_list()
        if dtype.is_float() and any(_shown(v) is not v for v in values):
            out[name] = [_shown(v) for v in values]
    return out
