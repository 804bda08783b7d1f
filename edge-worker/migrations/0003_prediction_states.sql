-- Every prediction reaches a terminal state: pending → scored | unscorable | expired. Scoring selects by target
-- time (prediction_time + horizon), fewest failed attempts first, so no row can hold the queue.

ALTER TABLE ml_predictions ADD COLUMN target_time TEXT;
ALTER TABLE ml_predictions ADD COLUMN status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'scored', 'unscorable', 'expired'));
ALTER TABLE ml_predictions ADD COLUMN score_attempts INTEGER NOT NULL DEFAULT 0;
UPDATE ml_predictions SET target_time = strftime('%Y-%m-%dT%H:%M:%SZ', prediction_time, '+' || horizon_minutes || ' minutes');
UPDATE ml_predictions SET status = 'scored' WHERE realized_price IS NOT NULL;
CREATE INDEX idx_ml_predictions_due ON ml_predictions (status, score_attempts, target_time);
