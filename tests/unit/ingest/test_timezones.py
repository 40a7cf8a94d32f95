"""Every stored time is UTC and each backtest says where its times came from (issue 12, time zones)."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from workbench.errors import ConfigError, DataError
from workbench.ingest.records import TRADES_SCHEMA, Parsed, conform
from workbench.ingest.timezones import UNKNOWN_SERVER_TIME, parse_zone, to_utc


def _parsed(
    times: list[tuple[datetime, datetime]], *, platform: str = "mt4", tz: str | None = None
) -> Parsed:
    rows = [
        dict(trade_id=str(i), open_time=o, close_time=c, direction="long", net_profit=1.0)
        for i, (o, c) in enumerate(times)
    ]
    meta = {"timezone": tz} if tz else {}
    return Parsed(
        format="t",
        kind="backtest",
        name="t",
        platform=platform,
        trades=conform(rows, TRADES_SCHEMA),
        meta=meta,
    )


def test_zone_texts() -> None:
    assert parse_zone("UTC+0") is None and parse_zone("GMT") is None
    assert parse_zone("UTC+3").total_seconds() == 3 * 3600
    assert parse_zone("-05:30").total_seconds() == -(5 * 3600 + 1800)
    assert parse_zone("Europe/Athens") == "Europe/Athens"
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_zone("Mars/Olympus")


def test_a_stated_fixed_offset_is_applied() -> None:
    p = to_utc(_parsed([(datetime(2015, 6, 1, 3), datetime(2015, 6, 1, 5))], platform="ctrader", tz="UTC+3"))
    assert p.trades["open_time"][0] == datetime(2015, 6, 1, 0)
    assert p.meta["timezone"] == "UTC (from UTC+3)"


def test_metatrader_without_tz_is_recorded_as_unknown_server_time_and_kept_as_printed() -> None:
    p = to_utc(_parsed([(datetime(2020, 1, 6, 23), datetime(2020, 1, 7, 1))]))
    assert p.meta["timezone"] == UNKNOWN_SERVER_TIME
    assert p.trades["open_time"][0] == datetime(2020, 1, 6, 23)


def test_server_tz_converts_with_daylight_saving() -> None:
    # Europe/Athens: UTC+2 in January, UTC+3 in July (an EET broker server)
    winter, summer = datetime(2020, 1, 6, 12), datetime(2020, 7, 6, 12)
    p = to_utc(_parsed([(winter, winter), (summer, summer)]), server_tz="Europe/Athens")
    assert p.trades["open_time"].to_list() == [datetime(2020, 1, 6, 10), datetime(2020, 7, 6, 9)]
    assert p.meta["timezone"] == "UTC (from Europe/Athens)" and "--tz" in p.meta["assumed"]["timezone"]
    with pytest.raises(ConfigError, match="--tz"):
        to_utc(_parsed([(winter, winter)]), server_tz="Nowhere/Land")


def test_a_wall_clock_time_skipped_by_dst_is_an_error() -> None:
    skipped = datetime(2020, 3, 29, 3, 30)  # Europe/Athens jumps 03:00 -> 04:00
    with pytest.raises(DataError, match="does not exist"):
        to_utc(_parsed([(skipped, skipped)], tz="Europe/Athens"))


def test_trades_csv_timezone_header_is_honoured(tmp_path) -> None:
    from workbench.workspace import open_workspace

    csv = tmp_path / "t.csv"
    csv.write_text(
        "# timezone: America/New_York\n# initial_balance: 1000\n"
        "trade_id,open_time,close_time,symbol,direction,net_profit\n"
        "1,2021-07-01 09:30:00,2021-07-01 16:00:00,SPY,buy,12.5\n"
    )
    ws = open_workspace(tmp_path / "lake")
    (f,) = ws.ingest([csv]).files
    assert f.status == "ingested", f.error
    bt = ws.backtest(f.backtest_id)
    assert bt.trades["open_time"][0] == datetime(2021, 7, 1, 13, 30)
    assert bt.info["timezone"] == "UTC (from America/New_York)"
    by_hour = ws.breakdown(f.backtest_id, "hour")
    assert by_hour["key"].to_list() == [13] or by_hour["key"].cast(pl.Utf8).to_list() == ["13"]
    assert by_hour["timezone"][0] == "UTC (from America/New_York)"
