-- Scheduled predictions (the cron's, computed at the edge): at most one per (model, symbol, horizon, instant).
-- Predictions posted by browsers keep source 'client' and are not constrained (two tabs may post the same one).

ALTER TABLE ml_predictions ADD COLUMN source TEXT NOT NULL DEFAULT 'client';
CREATE UNIQUE INDEX idx_ml_predictions_scheduled ON ml_predictions (model_version, symbol, horizon_minutes, prediction_time) WHERE source = 'edge';
