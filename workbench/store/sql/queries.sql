-- Every SQL statement the workbench runs, by name. Loaded by workbench.store.sql.Q.
-- Sections start with "-- name: <name>"; parameters are positional ($1, $2, ...).

-- name: raw_file_by_sha
SELECT sha256, stored_as, original_name, format, kind, object_id FROM raw_files WHERE sha256 = $1;

-- name: next_object_id
SELECT nextval('object_id_seq');

-- name: insert_raw_file
INSERT INTO raw_files VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: insert_ingest_log
INSERT INTO ingest_log VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: insert_backtest
INSERT INTO backtests (id, name, source, origin, format, platform, strategy, symbol, timeframe, currency,
    start_time, end_time, initial_balance, final_balance, net_profit, gross_profit, gross_loss,
    total_trades, winning_trades, losing_trades, win_rate, profit_factor, sharpe_ratio, sortino_ratio,
    max_drawdown, max_drawdown_pct, parameters, stated, meta, file_sha256, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
    $22, $23, $24, $25, $26, $27, $28, $29, $30, $31);

-- name: insert_trades_from_frame
INSERT INTO trades SELECT $1 AS backtest_id, * FROM frame;

-- name: insert_cash_flows_from_frame
INSERT INTO cash_flows SELECT $1 AS backtest_id, * FROM frame;

-- name: insert_parameters_from_frame
INSERT INTO parameters SELECT * FROM frame;

-- name: insert_parameter_set
INSERT INTO parameter_sets VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: insert_optimization
INSERT INTO optimizations VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17);

-- name: insert_optimization_results_from_frame
INSERT INTO optimization_results SELECT * FROM frame;

-- name: delete_bars_range
DELETE FROM bars WHERE symbol = $1 AND timeframe = $2 AND ts BETWEEN $3 AND $4;

-- name: insert_bars_from_frame
INSERT INTO bars SELECT * FROM frame;

-- name: list_backtests
SELECT id, name, origin, format, platform, strategy, symbol, timeframe, currency, start_time, end_time,
    initial_balance, final_balance, net_profit, total_trades, win_rate, profit_factor, sharpe_ratio,
    max_drawdown, max_drawdown_pct, created_at
FROM backtests ORDER BY id;

-- name: backtest_by_id
SELECT * FROM backtests WHERE id = $1;

-- name: trades_of_backtest
SELECT * EXCLUDE (backtest_id) FROM trades WHERE backtest_id = $1 ORDER BY seq;

-- name: cash_flows_of_backtest
SELECT * EXCLUDE (backtest_id) FROM cash_flows WHERE backtest_id = $1 ORDER BY time;

-- name: parameters_of
SELECT name, value, type FROM parameters WHERE set_id = $1 AND owner = $2 ORDER BY name;

-- name: list_parameter_sets
SELECT * FROM parameter_sets ORDER BY id;

-- name: list_optimizations
SELECT * FROM optimizations ORDER BY id;

-- name: optimization_results_of
SELECT * EXCLUDE (optimization_id) FROM optimization_results WHERE optimization_id = $1 ORDER BY fold NULLS FIRST, trial;

-- name: bars_of
SELECT ts, open, high, low, close, volume FROM bars WHERE symbol = $1 AND timeframe = $2 ORDER BY ts;

-- name: bar_series
SELECT symbol, timeframe, count(*) AS bars, min(ts) AS first, max(ts) AS last
FROM bars GROUP BY ALL ORDER BY symbol, timeframe;

-- name: ingest_log
SELECT * FROM ingest_log ORDER BY started_at, attempt_id;

-- name: table_counts
SELECT table_name, estimated_size FROM duckdb_tables() ORDER BY table_name;
