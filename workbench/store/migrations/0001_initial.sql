-- 0001: the catalog from the design brief. Later releases add files 0002_*.sql, never edit this one.
CREATE SEQUENCE IF NOT EXISTS object_id_seq START 1;

CREATE TABLE raw_files (
    sha256        VARCHAR PRIMARY KEY,
    stored_as     VARCHAR NOT NULL,      -- raw/<sha256>.<ext>, relative to the workspace
    original_name VARCHAR NOT NULL,
    bytes         BIGINT NOT NULL,
    format        VARCHAR NOT NULL,
    kind          VARCHAR NOT NULL,      -- backtest | parameters | optimization | bars
    object_id     BIGINT,                -- backtests.id / parameter_sets.id / optimizations.id
    ingested_at   TIMESTAMP NOT NULL
);

CREATE TABLE ingest_log (
    attempt_id   VARCHAR PRIMARY KEY,
    file_sha256  VARCHAR,
    path         VARCHAR NOT NULL,
    format       VARCHAR,
    status       VARCHAR NOT NULL,       -- ingested | duplicate | rejected
    object_id    BIGINT,
    rows         BIGINT NOT NULL DEFAULT 0,
    error        VARCHAR,
    started_at   TIMESTAMP NOT NULL,
    finished_at  TIMESTAMP NOT NULL
);

CREATE TABLE backtests (
    id               BIGINT PRIMARY KEY,
    name             VARCHAR NOT NULL,
    source           VARCHAR NOT NULL,   -- file path as given, or 'sweep:<strategy>'
    origin           VARCHAR NOT NULL,   -- imported | sweep
    format           VARCHAR,
    platform         VARCHAR,
    strategy         VARCHAR,
    symbol           VARCHAR,
    timeframe        VARCHAR,
    currency         VARCHAR,
    start_time       TIMESTAMP,
    end_time         TIMESTAMP,
    initial_balance  DOUBLE,
    final_balance    DOUBLE,
    net_profit       DOUBLE,
    gross_profit     DOUBLE,
    gross_loss       DOUBLE,
    total_trades     BIGINT,
    winning_trades   BIGINT,
    losing_trades    BIGINT,
    win_rate         DOUBLE,
    profit_factor    DOUBLE,
    sharpe_ratio     DOUBLE,
    sortino_ratio    DOUBLE,
    max_drawdown     DOUBLE,
    max_drawdown_pct DOUBLE,
    parameters       JSON,
    stated           JSON,
    meta             JSON,
    file_sha256      VARCHAR,
    created_at       TIMESTAMP NOT NULL
);

CREATE TABLE trades (
    backtest_id      BIGINT NOT NULL,
    seq              INTEGER NOT NULL,   -- order in the file
    trade_id         VARCHAR,
    open_time        TIMESTAMP,
    close_time       TIMESTAMP,
    symbol           VARCHAR,
    direction        VARCHAR,
    volume           DOUBLE,
    entry_price      DOUBLE,
    exit_price       DOUBLE,
    stop_loss        DOUBLE,
    take_profit      DOUBLE,
    commission       DOUBLE,
    swap             DOUBLE,
    profit           DOUBLE,
    net_profit       DOUBLE,
    pips             DOUBLE,
    duration_seconds DOUBLE,
    comment          VARCHAR
);

CREATE TABLE cash_flows (
    backtest_id BIGINT NOT NULL,
    time        TIMESTAMP,
    amount      DOUBLE NOT NULL,
    kind        VARCHAR NOT NULL,
    comment     VARCHAR
);

CREATE TABLE parameter_sets (
    id          BIGINT PRIMARY KEY,
    name        VARCHAR NOT NULL,
    source      VARCHAR NOT NULL,
    format      VARCHAR,
    strategy    VARCHAR,
    symbol      VARCHAR,
    timeframe   VARCHAR,
    meta        JSON,
    file_sha256 VARCHAR,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE parameters (
    set_id BIGINT NOT NULL,              -- parameter_sets.id (or backtests.id when owner = 'backtest')
    owner  VARCHAR NOT NULL,             -- parameter_set | backtest
    name   VARCHAR NOT NULL,
    value  JSON,
    type   VARCHAR NOT NULL              -- bool | int | float | str
);

CREATE TABLE optimizations (
    id              BIGINT PRIMARY KEY,
    name            VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,
    origin          VARCHAR NOT NULL,    -- imported | ray_tune | sweep
    format          VARCHAR,
    strategy        VARCHAR,
    symbol          VARCHAR,
    timeframe       VARCHAR,
    start_time      TIMESTAMP,
    end_time        TIMESTAMP,
    initial_balance DOUBLE,
    currency        VARCHAR,
    algo            VARCHAR,
    objectives      JSON,
    meta            JSON,
    file_sha256     VARCHAR,
    created_at      TIMESTAMP NOT NULL
);

CREATE TABLE optimization_results (
    optimization_id BIGINT NOT NULL,
    trial           BIGINT NOT NULL,
    parameters      JSON NOT NULL,
    objectives      JSON NOT NULL,
    metrics         JSON,
    rank            INTEGER,             -- Pareto rank (1 = front) or position by the objective
    fold            INTEGER              -- walk-forward fold, NULL for in-sample / whole period
);

CREATE TABLE bars (
    symbol    VARCHAR NOT NULL,
    timeframe VARCHAR NOT NULL,
    ts        TIMESTAMP NOT NULL,
    open      DOUBLE NOT NULL,
    high      DOUBLE NOT NULL,
    low       DOUBLE NOT NULL,
    close     DOUBLE NOT NULL,
    volume    DOUBLE
);

CREATE TABLE embeddings_metadata (
    chunk_id    VARCHAR PRIMARY KEY,
    collection  VARCHAR NOT NULL,
    kind        VARCHAR NOT NULL,
    backtest_id BIGINT,
    text_sha256 VARCHAR NOT NULL,
    model       VARCHAR NOT NULL,
    metadata    JSON,
    created_at  TIMESTAMP NOT NULL
);

CREATE TABLE models (
    id         BIGINT PRIMARY KEY,
    name       VARCHAR NOT NULL,
    version    INTEGER NOT NULL,
    kind       VARCHAR NOT NULL,
    path       VARCHAR,
    params     JSON,
    metrics    JSON,
    created_at TIMESTAMP NOT NULL
);
