-- The roadmap's tables in SQLite (D1). Timestamps are RFC 3339 UTC text; JSON columns are JSON text.

CREATE TABLE ml_predictions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  symbol TEXT NOT NULL,
  model_version TEXT NOT NULL,
  prediction_time TEXT NOT NULL,          -- instant the prediction is for (only bars ended by then were used)
  horizon_minutes INTEGER NOT NULL,
  predicted_price REAL NOT NULL,
  interval_low REAL NOT NULL,
  interval_high REAL NOT NULL,
  confidence REAL NOT NULL,
  signal TEXT NOT NULL CHECK (signal IN ('buy', 'sell', 'hold')),
  last_close REAL NOT NULL,
  attention_weights TEXT,                 -- JSON
  payload TEXT NOT NULL,                  -- the whole prediction JSON
  realized_price REAL,                    -- filled by the cron accuracy tracking
  realized_error REAL,                    -- predicted - realized
  hit INTEGER,                            -- 1 when the direction was right
  in_interval INTEGER,                    -- 1 when the realized price lay in [interval_low, interval_high]
  evaluated_at TEXT,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX idx_ml_predictions_symbol_time ON ml_predictions (symbol, prediction_time DESC);
CREATE INDEX idx_ml_predictions_pending ON ml_predictions (realized_price) WHERE realized_price IS NULL;

CREATE TABLE ml_model_versions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  version TEXT NOT NULL UNIQUE,           -- name@version
  model_path TEXT NOT NULL,               -- KV key of the artifact bytes
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  training_start TEXT NOT NULL,
  training_end TEXT NOT NULL,
  metrics TEXT NOT NULL,                  -- JSON (walk-forward metrics and baselines)
  config TEXT NOT NULL,                   -- JSON (model and data configuration)
  is_active INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE ml_training_data (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  symbol TEXT NOT NULL,
  timeframe TEXT NOT NULL,
  timestamp TEXT NOT NULL,
  features TEXT NOT NULL,                 -- JSON
  target REAL,
  created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  UNIQUE (symbol, timeframe, timestamp)
);
CREATE INDEX idx_ml_training_symbol_time ON ml_training_data (symbol, timeframe, timestamp DESC);
