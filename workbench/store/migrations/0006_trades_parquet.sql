-- 0006 (issue 12, ADR 0014): big trade lists live in Parquet under parquet/trades/, behind a `trades` view.
--   trade_rows   the trades kept in the catalog (every backtest below the size threshold): the old table
--   trade_parts  one row per backtest whose trades are a Parquet part, with its path relative to the
--                workspace (parquet/trades/backtest_id=N/part-0.parquet), rows and bytes
--   trades       a view: trade_rows UNION ALL the parts listed in trade_parts. Rebuilt in the transaction
--                that adds a part (workbench.store.Store.add_trades_part), so only committed parts are
--                seen; relative paths resolve through DuckDB's file_search_path, which every connection
--                of the store sets to the workspace folder (a moved or restored workspace still works).
-- Readers keep reading `trades`; writers insert into `trade_rows`.
ALTER TABLE trades RENAME TO trade_rows;

CREATE TABLE trade_parts (
    backtest_id BIGINT PRIMARY KEY,
    path        VARCHAR NOT NULL,
    rows        BIGINT NOT NULL,
    bytes       BIGINT NOT NULL,
    created_at  TIMESTAMP NOT NULL
);

CREATE VIEW trades AS
SELECT backtest_id, seq, trade_id, open_time, close_time, symbol, direction, volume, entry_price, exit_price,
    stop_loss, take_profit, commission, swap, profit, net_profit, pips, duration_seconds, comment
FROM trade_rows;
