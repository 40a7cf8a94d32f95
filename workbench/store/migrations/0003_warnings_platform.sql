-- Issue 12: what validation found and what had to be assumed, kept with every backtest.
--   warnings     JSON list of one-line platform quirks (secondary totals counted by the platform's own rule...)
--   anomalies    JSON list of {row, trade_id, what}: rows the platform wrote that break an invariant (kept)
--   platform_figures JSON {convention, printed: {...}, reproduced: {...}}: the file's printed totals and the
--                same figures recomputed under the platform's convention (e.g. MT5 gross per deal)
--   assumptions  JSON list: what the metrics had to assume (unknown initial balance, ...)
--   timezone     the source's zone or offset ("UTC+0", "Europe/Athens", "server time, offset unknown")
ALTER TABLE backtests ADD COLUMN warnings JSON;
ALTER TABLE backtests ADD COLUMN anomalies JSON;
ALTER TABLE backtests ADD COLUMN platform_figures JSON;
ALTER TABLE backtests ADD COLUMN assumptions JSON;
ALTER TABLE backtests ADD COLUMN timezone VARCHAR;
