-- Retrain records (`mtf retrain`, POST /api/v1/retrains): one row per run id (a hash of the run's inputs), the
-- whole record as JSON plus the columns the list is ordered and filtered by.
CREATE TABLE ml_retrains (
  id TEXT PRIMARY KEY,
  finished_at TEXT NOT NULL,
  decision TEXT NOT NULL CHECK (decision IN ('promoted', 'rejected', 'skipped')),
  champion TEXT,
  challenger TEXT,
  record TEXT NOT NULL,
  received_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX idx_ml_retrains_finished ON ml_retrains (finished_at DESC);
-- Model health reads a version's scored rows newest first.
CREATE INDEX idx_ml_predictions_model_scored ON ml_predictions (model_version, status, target_time DESC);
