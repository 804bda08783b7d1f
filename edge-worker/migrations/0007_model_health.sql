-- Monitoring (issue 16). Model health computed by the monitoring step after each accuracy run (GET
-- /api/v1/models/{v}/health serves it while no prediction of the version was scored after `computed_at`;
-- `source`: `all` or a prediction source).
CREATE TABLE ml_model_health (
  version TEXT NOT NULL,
  source TEXT NOT NULL,
  computed_at TEXT NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (version, source)
);
-- The inputs of the edge's own (cron) predictions, newest window step (K × F normalised values as JSON), for
-- feature drift against the artifact's training reference. One row per (version, symbol, instant).
CREATE TABLE ml_feature_obs (
  model_version TEXT NOT NULL,
  symbol TEXT NOT NULL,
  at TEXT NOT NULL,
  inputs TEXT NOT NULL,
  PRIMARY KEY (model_version, symbol, at)
);
CREATE INDEX idx_ml_feature_obs_at ON ml_feature_obs (model_version, at DESC);
