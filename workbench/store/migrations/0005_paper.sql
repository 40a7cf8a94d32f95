-- Issue 16: paper trading sessions, durable bar by bar (one short transaction per step; see
-- docs/adr/0012-paper-trading-durable-state.md). Primary keys make a fill, order, trade or equity row
-- written twice an error instead of a silent double.
CREATE TABLE paper_sessions (
    name VARCHAR PRIMARY KEY,
    config JSON NOT NULL,          -- PaperConfig.to_dict()
    status VARCHAR NOT NULL,       -- running | stopped | finished | failed
    bars_processed BIGINT NOT NULL,
    last_ts TIMESTAMP,
    state JSON,                    -- broker, risk manager, counters and policy state after the last step
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE TABLE paper_bars (
    session VARCHAR NOT NULL, bar BIGINT NOT NULL, ts TIMESTAMP NOT NULL,
    open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE,
    PRIMARY KEY (session, bar)
);
CREATE TABLE paper_orders (
    session VARCHAR NOT NULL, order_id BIGINT NOT NULL, bar BIGINT NOT NULL, ts TIMESTAMP,
    kind VARCHAR NOT NULL,         -- signal | stop_loss | take_profit | trailing_stop | bankrupt | kill_switch
    target INTEGER NOT NULL, from_pos INTEGER NOT NULL,
    status VARCHAR NOT NULL,       -- pending | filled | resized | rejected | cancelled
    rule VARCHAR, reason VARCHAR,  -- the rule that fired and why (every order not filled carries one)
    units DOUBLE, fill_bar BIGINT,
    PRIMARY KEY (session, order_id)
);
CREATE TABLE paper_fills (
    session VARCHAR NOT NULL, fill_id BIGINT NOT NULL, order_id BIGINT NOT NULL, bar BIGINT NOT NULL,
    ts TIMESTAMP, side INTEGER NOT NULL, units DOUBLE NOT NULL, price DOUBLE NOT NULL,
    commission DOUBLE NOT NULL, what VARCHAR NOT NULL,
    PRIMARY KEY (session, fill_id)
);
CREATE TABLE paper_trades (
    session VARCHAR NOT NULL, trade_id BIGINT NOT NULL, direction VARCHAR NOT NULL, size DOUBLE NOT NULL,
    entry_bar BIGINT NOT NULL, exit_bar BIGINT NOT NULL, entry_time TIMESTAMP, exit_time TIMESTAMP,
    entry_price DOUBLE NOT NULL, exit_price DOUBLE NOT NULL, commission DOUBLE NOT NULL, pnl DOUBLE NOT NULL,
    exit_reason VARCHAR NOT NULL, entry_order BIGINT, exit_order BIGINT,
    PRIMARY KEY (session, trade_id)
);
CREATE TABLE paper_equity (
    session VARCHAR NOT NULL, bar BIGINT NOT NULL, ts TIMESTAMP NOT NULL, equity DOUBLE NOT NULL,
    drawdown_pct DOUBLE NOT NULL, position INTEGER NOT NULL, units DOUBLE NOT NULL,
    PRIMARY KEY (session, bar)
);
CREATE TABLE paper_checkpoints (
    session VARCHAR NOT NULL, bar BIGINT NOT NULL, policy VARCHAR NOT NULL,
    path VARCHAR,                  -- a file in the workspace (e.g. an SB3 zip), or NULL
    blob BLOB,                     -- or the checkpoint itself (a pickled river model)
    info JSON, created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (session, bar, policy)
);
CREATE TABLE paper_risk_events (
    session VARCHAR NOT NULL, seq BIGINT NOT NULL, kind VARCHAR NOT NULL, at_time TIMESTAMP NOT NULL,
    actor VARCHAR, rule VARCHAR, reason VARCHAR, from_state VARCHAR, to_state VARCHAR, bar BIGINT,
    PRIMARY KEY (session, seq)
);
CREATE TABLE paper_controls (
    session VARCHAR NOT NULL, seq BIGINT NOT NULL, action VARCHAR NOT NULL, reason VARCHAR, actor VARCHAR,
    at_time TIMESTAMP NOT NULL, applied_at TIMESTAMP, result VARCHAR,
    PRIMARY KEY (session, seq)
);
