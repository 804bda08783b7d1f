-- Several horizons (issue 13): the registry holds one active model per horizon. `horizon_minutes` is the
-- model's horizon (base bar minutes × label horizon, as `Timeframe::minutes` counts them: 1d = 1440, 1w = 10080,
-- 1mo = 43200), set at registration; rows registered before this migration get it from their stored config.
-- `activated_at` orders the active models: `GET /models/active` without a horizon answers the newest activation.
ALTER TABLE ml_model_versions ADD COLUMN horizon_minutes INTEGER;
ALTER TABLE ml_model_versions ADD COLUMN activated_at TEXT;
UPDATE ml_model_versions SET horizon_minutes = CAST(json_extract(config, '$.data.labels.horizon') AS INTEGER) * (CASE json_extract(config, '$.data.base') WHEN '1m' THEN 1 WHEN '5m' THEN 5 WHEN '10m' THEN 10 WHEN '15m' THEN 15 WHEN '30m' THEN 30 WHEN '1h' THEN 60 WHEN '4h' THEN 240 WHEN '1d' THEN 1440 WHEN '1w' THEN 10080 WHEN '1mo' THEN 43200 END) WHERE horizon_minutes IS NULL;
UPDATE ml_model_versions SET activated_at = created_at WHERE is_active = 1;
CREATE INDEX idx_ml_model_versions_active ON ml_model_versions (is_active, horizon_minutes);
