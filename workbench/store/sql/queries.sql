-- Every SQL statement the workbench runs, by name. Loaded by workbench.store.sql.Q.
-- Sections start with "-- name: <name>"; parameters are positional ($1, $2, ...).

-- name: raw_file_by_sha
SELECT sha256, stored_as, original_name, format, kind, object_id FROM raw_files WHERE sha256 = $1;

-- name: raw_files_of_size
SELECT count(*) FROM raw_files WHERE bytes = $1;

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
    max_drawdown, max_drawdown_pct, parameters, stated, meta, file_sha256, created_at,
    warnings, anomalies, platform_figures, assumptions, timezone)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
    $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36);

-- name: insert_trades_from_frame
INSERT INTO trade_rows SELECT $1 AS backtest_id, * FROM frame;

-- Trades beyond a size are a Parquet part (migration 0006, ADR 0014): `trades` is a view over trade_rows
-- and the parts listed in trade_parts, rebuilt by workbench.store.Store.refresh_trades_view from the two
-- templates ({parts}: the parts template or nothing; {paths}: the list of workspace-relative paths).

-- name: insert_trade_part
INSERT INTO trade_parts VALUES ($1, $2, $3, $4, $5);

-- name: trade_part_paths
SELECT backtest_id, path FROM trade_parts ORDER BY backtest_id;

-- name: trades_view_template
CREATE OR REPLACE VIEW trades AS
SELECT backtest_id, seq, trade_id, open_time, close_time, symbol, direction, volume, entry_price, exit_price,
    stop_loss, take_profit, commission, swap, profit, net_profit, pips, duration_seconds, comment
FROM trade_rows
{parts};

-- name: trades_view_parts_template
-- A part stores neither seq (its row number) nor duration_seconds (its times give it, to the last bit as
-- trade_rows computes it); parts written before they were dropped still hold both, hence union_by_name.
UNION ALL
SELECT backtest_id, CAST(file_row_number + 1 AS INTEGER) AS seq, trade_id, open_time, close_time, symbol,
    direction, volume, entry_price, exit_price, stop_loss, take_profit, commission, swap, profit, net_profit,
    pips, (epoch_us(close_time) - epoch_us(open_time)) / 1e6 AS duration_seconds, comment
FROM read_parquet({paths}, hive_partitioning = true, hive_types = {'backtest_id': BIGINT},
    file_row_number = true, union_by_name = true)

-- name: insert_cash_flows_from_frame
INSERT INTO cash_flows SELECT $1 AS backtest_id, * FROM frame;

-- name: insert_parameters_from_frame
INSERT INTO parameters SELECT * FROM frame;

-- name: insert_parameter_set
INSERT INTO parameter_sets VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: insert_optimization
INSERT INTO optimizations (id, name, source, origin, format, strategy, symbol, timeframe, start_time, end_time,
    initial_balance, currency, algo, objectives, meta, file_sha256, created_at, deflated_sharpe, pbo)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19);

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

-- name: object_kind
SELECT 'a parameter set' AS kind, 'workbench parameters ' || $1 AS hint FROM parameter_sets WHERE id = $1
UNION ALL SELECT 'an optimisation', 'workbench optimizations ' || $1 FROM optimizations WHERE id = $1;

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

-- ---------------------------------------------------------------------------------------------
-- RAG (workbench/rag): the embeddings catalog and the fact queries. Weekday/date are of the
-- close time (when P/L is realised), hour of the open time, as in workbench.analytics.breakdowns.
-- $1 of every rag_fact_* query is the list of backtest ids in scope (see workbench.rag.facts.Ctx).

-- name: rag_embedded_chunks
SELECT chunk_id, text_sha256 FROM embeddings_metadata
WHERE model = $1 AND list_contains($2::BIGINT[], backtest_id);

-- name: rag_upsert_embeddings_metadata
INSERT OR REPLACE INTO embeddings_metadata SELECT * FROM frame;

-- name: rag_delete_embeddings_metadata
DELETE FROM embeddings_metadata WHERE list_contains($1::VARCHAR[], chunk_id);

-- name: rag_embeddings_count
SELECT collection, kind, count(*) AS chunks FROM embeddings_metadata GROUP BY ALL ORDER BY ALL;

-- name: rag_backtests_with_trades
SELECT b.id FROM backtests b WHERE EXISTS (SELECT 1 FROM trades t WHERE t.backtest_id = b.id) ORDER BY b.id;

-- name: rag_fact_weekday
SELECT isodow(close_time) AS dow, dayname(close_time) AS weekday, count(*) AS trades,
    count(*) FILTER (WHERE net_profit > 0) AS wins, count(*) FILTER (WHERE net_profit < 0) AS losses,
    round(sum(net_profit), 2) AS net_profit
FROM trades WHERE list_contains($1::BIGINT[], backtest_id) AND close_time IS NOT NULL
GROUP BY ALL ORDER BY dow;

-- name: rag_fact_timezones
SELECT coalesce(timezone, 'not stated') AS timezone, count(*) AS backtests FROM backtests
WHERE list_contains($1::BIGINT[], id) GROUP BY 1 ORDER BY 2 DESC;

-- name: rag_fact_hour
SELECT hour(open_time) AS hour, count(*) AS trades,
    count(*) FILTER (WHERE net_profit > 0) AS wins, round(sum(net_profit), 2) AS net_profit
FROM trades WHERE list_contains($1::BIGINT[], backtest_id) AND open_time IS NOT NULL
GROUP BY ALL ORDER BY hour;

-- name: rag_fact_symbol
SELECT coalesce(t.symbol, b.symbol, '?') AS symbol, count(*) AS trades,
    count(*) FILTER (WHERE t.net_profit > 0) AS wins, round(sum(t.net_profit), 2) AS net_profit
FROM trades t JOIN backtests b ON b.id = t.backtest_id
WHERE list_contains($1::BIGINT[], t.backtest_id)
GROUP BY ALL ORDER BY net_profit, symbol;

-- name: rag_fact_direction
SELECT coalesce(direction, '?') AS direction, count(*) AS trades,
    count(*) FILTER (WHERE net_profit > 0) AS wins, round(sum(net_profit), 2) AS net_profit
FROM trades WHERE list_contains($1::BIGINT[], backtest_id)
GROUP BY ALL ORDER BY direction;

-- name: rag_fact_extreme_trades
SELECT backtest_id, seq, trade_id, coalesce(symbol, '') AS symbol, direction, open_time, close_time,
    round(net_profit, 2) AS net_profit, comment
FROM trades WHERE list_contains($1::BIGINT[], backtest_id)
ORDER BY net_profit * $2 DESC, backtest_id, seq LIMIT $3;

-- name: rag_fact_extreme_days
SELECT backtest_id, CAST(close_time AS DATE) AS date, count(*) AS trades, round(sum(net_profit), 2) AS net_profit
FROM trades WHERE list_contains($1::BIGINT[], backtest_id) AND close_time IS NOT NULL
GROUP BY ALL ORDER BY sum(net_profit) * $2 DESC, backtest_id, date LIMIT $3;

-- name: rag_fact_weekday_by_backtest
SELECT t.backtest_id, b.name, b.parameters, count(*) AS trades, round(sum(t.net_profit), 2) AS net_profit
FROM trades t JOIN backtests b ON b.id = t.backtest_id
WHERE list_contains($1::BIGINT[], t.backtest_id) AND isodow(t.close_time) = $2
GROUP BY ALL ORDER BY trades DESC, t.backtest_id;

-- name: rag_scope
SELECT id, name, currency, origin FROM backtests WHERE total_trades > 0 ORDER BY id;

-- name: rag_fact_backtests
SELECT b.id AS backtest_id, b.name, b.currency, count(*) AS trades,
    round(sum(t.net_profit), 2) AS net_profit,
    round(count(*) FILTER (WHERE t.net_profit > 0) / count(*), 4) AS win_rate,
    round(sum(t.net_profit) FILTER (WHERE t.net_profit > 0)
        / nullif(-sum(t.net_profit) FILTER (WHERE t.net_profit < 0), 0), 4) AS profit_factor,
    round(b.max_drawdown_pct, 2) AS max_drawdown_pct
FROM trades t JOIN backtests b ON b.id = t.backtest_id
WHERE list_contains($1::BIGINT[], t.backtest_id)
GROUP BY ALL ORDER BY net_profit DESC, b.id;

-- name: rag_fact_streaks
WITH o AS (
    SELECT backtest_id, seq, close_time, net_profit, sign(net_profit) AS s,
        row_number() OVER (PARTITION BY backtest_id ORDER BY close_time, open_time, trade_id) AS rn
    FROM trades WHERE list_contains($1::BIGINT[], backtest_id)
), g AS (
    SELECT *, rn - row_number() OVER (PARTITION BY backtest_id, s ORDER BY rn) AS grp FROM o
)
SELECT backtest_id, CAST(s AS INTEGER) AS sign, count(*) AS length, round(sum(net_profit), 2) AS net_profit,
    min(close_time) AS first_close, max(close_time) AS last_close, list(seq ORDER BY rn) AS seqs
FROM g WHERE s = $2
GROUP BY backtest_id, s, grp ORDER BY length DESC, sum(net_profit) * $2 DESC, backtest_id LIMIT $3;

-- name: rag_trades_by_seq
SELECT backtest_id, seq, trade_id, coalesce(symbol, '') AS symbol, direction, open_time, close_time,
    round(net_profit, 2) AS net_profit, comment
FROM trades WHERE backtest_id = $1 AND list_contains($2::INTEGER[], seq) ORDER BY seq;

-- name: rag_max_drawdown_backtest
SELECT id FROM backtests WHERE list_contains($1::BIGINT[], id) AND total_trades > 0
ORDER BY max_drawdown_pct DESC NULLS LAST, id LIMIT 1;

-- ---------------------------------------------------------------------------------------------
-- Optimisation (workbench/optimize): sweeps and Ray Tune runs.

-- name: set_optimization_overfitting
UPDATE optimizations SET deflated_sharpe = $2, pbo = $3, meta = json_merge_patch(meta, $4::JSON) WHERE id = $1;

-- ---------------------------------------------------------------------------------------------
-- Service (workbench/service): what /metrics reports from the catalog at scrape time.

-- name: service_ingest_counts
SELECT status, count(*) AS files, coalesce(sum(rows), 0) AS rows FROM ingest_log GROUP BY status ORDER BY status;

-- name: service_catalog_counts
SELECT (SELECT count(*) FROM backtests) AS backtests,
       (SELECT count(*) FROM optimization_results r JOIN optimizations o ON o.id = r.optimization_id
        WHERE o.origin <> 'imported') AS trials;

-- ---------------------------------------------------------------------------------------------
-- Machine learning (workbench/ml): the registry's mirror, promotion decisions, regimes per bar.

-- name: ml_next_model_id
SELECT nextval('object_id_seq');

-- name: ml_insert_model
INSERT INTO models VALUES ($1, $2, $3, $4, $5, $6::JSON, $7::JSON, $8);

-- name: ml_insert_lineage
INSERT INTO model_lineage VALUES ($1, $2, $3, $4, $5, $6, $7, $8::JSON, '[]');

-- name: ml_list_models
SELECT m.id, m.name, m.version, m.kind, l.symbol, l.timeframe, l.feature_set_version, m.metrics, l.aliases,
    l.run_id, m.path, l.tracking_uri, l.bars_sha256, m.params, l.lineage, m.created_at
FROM models m JOIN model_lineage l ON l.model_id = m.id
WHERE $1::VARCHAR IS NULL OR m.name = $1 ORDER BY m.name, m.version;

-- name: ml_clear_alias
UPDATE model_lineage SET aliases = to_json(list_filter(CAST(aliases AS VARCHAR[]), lambda a: a <> $2))
WHERE model_id IN (SELECT id FROM models WHERE name = $1) AND tracking_uri = $3;

-- name: ml_add_alias
UPDATE model_lineage SET aliases = to_json(list_distinct(list_append(CAST(aliases AS VARCHAR[]), $3)))
WHERE model_id IN (SELECT id FROM models WHERE name = $1 AND version = $2) AND tracking_uri = $4;

-- name: ml_insert_promotion
INSERT INTO model_promotions VALUES ($1, $2, $3, $4, $5::JSON, $6::JSON, $7);

-- name: ml_promotions
SELECT * FROM model_promotions WHERE name = $1 ORDER BY decided_at, version;

-- name: ml_delete_regimes
DELETE FROM regimes WHERE symbol = $1 AND timeframe = $2 AND method = $3;

-- name: ml_regimes_of
SELECT ts, regime, probability FROM regimes WHERE symbol = $1 AND timeframe = $2 AND method = $3 ORDER BY ts;

-- name: ml_trade_regimes
-- The regime at each trade's entry: the last stored regime bar at or before its open time.
SELECT t.seq, r.regime FROM trades t
ASOF LEFT JOIN (SELECT ts, regime FROM regimes WHERE symbol = $2 AND timeframe = $3 AND method = $4) r
    ON t.open_time >= r.ts
WHERE t.backtest_id = $1 ORDER BY t.seq;

-- Paper trading (issue 16; migration 0005) ----------------------------------------------------------------

-- name: paper_insert_session
INSERT INTO paper_sessions VALUES ($1, $2::JSON, $3, 0, NULL, NULL, $4, $4);

-- name: paper_session
SELECT name, config, status, bars_processed, last_ts, state, created_at, updated_at
FROM paper_sessions WHERE name = $1;

-- name: paper_sessions
SELECT name, status, bars_processed, last_ts, created_at, updated_at FROM paper_sessions ORDER BY created_at;

-- name: paper_update_session
UPDATE paper_sessions SET status = $2, bars_processed = $3, last_ts = $4, state = $5::JSON, updated_at = $6
WHERE name = $1;

-- name: paper_set_status
UPDATE paper_sessions SET status = $2, updated_at = $3 WHERE name = $1;

-- name: paper_insert_bars
INSERT INTO paper_bars SELECT $1 AS session, * FROM frame;

-- name: paper_bars_of
SELECT ts, open, high, low, close, volume FROM paper_bars WHERE session = $1 ORDER BY bar;

-- name: paper_insert_orders
INSERT INTO paper_orders SELECT $1 AS session, * FROM frame;

-- name: paper_update_order
UPDATE paper_orders SET status = $3, rule = $4, reason = $5, units = $6, fill_bar = $7
WHERE session = $1 AND order_id = $2;

-- name: paper_insert_fills
INSERT INTO paper_fills SELECT $1 AS session, * FROM frame;

-- name: paper_insert_trades
INSERT INTO paper_trades SELECT $1 AS session, * FROM frame;

-- name: paper_insert_equity
INSERT INTO paper_equity SELECT $1 AS session, * FROM frame;

-- name: paper_insert_checkpoint
INSERT OR REPLACE INTO paper_checkpoints VALUES ($1, $2, $3, $4, $5, $6::JSON, $7);

-- name: paper_last_checkpoint
SELECT bar, path, blob, info FROM paper_checkpoints WHERE session = $1 AND policy = $2 ORDER BY bar DESC LIMIT 1;

-- name: paper_insert_risk_event
INSERT INTO paper_risk_events VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10);

-- name: paper_next_risk_seq
SELECT coalesce(max(seq), 0) + 1 FROM paper_risk_events WHERE session = $1;

-- name: paper_insert_control
INSERT INTO paper_controls VALUES ($1, (SELECT coalesce(max(seq), 0) + 1 FROM paper_controls WHERE session = $1),
    $2, $3, $4, $5, NULL, NULL);

-- name: paper_pending_controls
SELECT seq, action, reason, actor FROM paper_controls WHERE session = $1 AND applied_at IS NULL ORDER BY seq;

-- name: paper_apply_control
UPDATE paper_controls SET applied_at = $3, result = $4 WHERE session = $1 AND seq = $2;

-- name: paper_trades_of
SELECT trade_id, direction, size, entry_bar, exit_bar, entry_time, exit_time, entry_price, exit_price,
    commission, pnl, exit_reason, entry_order, exit_order
FROM paper_trades WHERE session = $1 ORDER BY trade_id;

-- name: paper_fills_of
SELECT fill_id, order_id, bar, ts, side, units, price, commission, what FROM paper_fills WHERE session = $1
ORDER BY fill_id;

-- name: paper_orders_of
SELECT order_id, bar, ts, kind, target, from_pos, status, rule, reason, units, fill_bar FROM paper_orders
WHERE session = $1 ORDER BY order_id;

-- name: paper_equity_of
SELECT bar, ts, equity, drawdown_pct, position, units FROM paper_equity WHERE session = $1 ORDER BY bar;

-- name: paper_risk_events_of
SELECT seq, kind, at_time, actor, rule, reason, from_state, to_state, bar FROM paper_risk_events WHERE session = $1
ORDER BY seq;

-- name: paper_controls_of
SELECT seq, action, reason, actor, at_time, applied_at, result FROM paper_controls WHERE session = $1 ORDER BY seq;
