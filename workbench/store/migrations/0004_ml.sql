-- Issue 14 (machine learning, docs/ml.md): the model registry's mirror in the catalog, promotion
-- decisions, and regimes stored per bar.
--   models        (0001) one row per registered model version: kind = the model (lightgbm ...), path = its
--                 artifact URI, params, metrics (CV scores). MLflow is the registry; this mirror lets
--                 `workbench ml models` list them without importing MLflow.
--   model_lineage one row per models row: the MLflow run, tracking URI, bar series and its content hash,
--                 feature set version, lineage JSON (label spec, CV scheme and scores, params, seed,
--                 workbench version) and the aliases it holds (e.g. ["production"]).
--   model_promotions  every promotion decision: promoted or not, the evidence and the reasons.
--   regimes       a regime per bar of a stored series (forward-filtered HMM state, change-point segment):
--                 method (hmm | changepoint), the state, its probability; `ws.breakdown(id, "regime")`.
CREATE TABLE model_lineage (
    model_id            BIGINT PRIMARY KEY,  -- models.id
    run_id              VARCHAR NOT NULL,    -- the MLflow run
    tracking_uri        VARCHAR NOT NULL,    -- where it is registered
    symbol              VARCHAR,
    timeframe           VARCHAR,
    bars_sha256         VARCHAR,             -- content hash of the bar series it was trained on
    feature_set_version VARCHAR NOT NULL,
    lineage             JSON NOT NULL,       -- label spec, CV scheme and scores, params, seed, versions
    aliases             JSON NOT NULL        -- e.g. ["production"]
);

CREATE TABLE model_promotions (
    name        VARCHAR NOT NULL,
    version     INTEGER NOT NULL,
    alias       VARCHAR NOT NULL,
    promoted    BOOLEAN NOT NULL,
    reasons     JSON NOT NULL,          -- list of one-line reasons (each check passed or failed)
    evidence    JSON NOT NULL,          -- {cv_scheme, cv_mean, chance, deflated_sharpe, trials, ...}
    decided_at  TIMESTAMP NOT NULL
);

CREATE TABLE regimes (
    symbol      VARCHAR NOT NULL,
    timeframe   VARCHAR NOT NULL,
    method      VARCHAR NOT NULL,       -- hmm | changepoint
    ts          TIMESTAMP NOT NULL,     -- the bar's ts
    regime      INTEGER,                -- NULL where undefined (warm-up)
    probability DOUBLE                  -- the regime's forward-filtered probability (hmm), NULL otherwise
);
