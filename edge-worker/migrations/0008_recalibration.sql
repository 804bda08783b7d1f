-- Live recalibration at the edge (issue 13): the adaptive conformal state of each (model version, symbol), fed by
-- the outcomes of the edge's own predictions as accuracy tracking scores them (src/recalibration.rs). `state` is
-- the JSON of mtf_model::recalibration::AdaptiveBand; `last_target` the newest target instant it has observed.
CREATE TABLE ml_recalibration (
  model_version TEXT NOT NULL,
  symbol TEXT NOT NULL,
  state TEXT NOT NULL,
  last_target TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (model_version, symbol)
);
