-- Overfitting checks stored with every optimisation (workbench/optimize/overfit.py, docs/optimize.md):
-- the deflated Sharpe ratio of the chosen trial (Bailey & López de Prado 2014) and the probability of
-- backtest overfitting by combinatorially symmetric cross-validation (Bailey et al. 2015). NULL where they
-- cannot be computed (imported optimisations without returns, fewer than two valid trials); the details
-- (trials, blocks, splits, the chosen trial's Sharpe, skew, kurtosis) are in meta.overfitting.
ALTER TABLE optimizations ADD COLUMN deflated_sharpe DOUBLE;
ALTER TABLE optimizations ADD COLUMN pbo DOUBLE;
