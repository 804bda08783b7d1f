-- Training rows say when their values were computed (`as_of`): an upsert replaces a row only with values at least
-- as new, so a retried old request arriving after a newer one cannot overwrite it. Rows stored before carry ''
-- (older than any real instant).
ALTER TABLE ml_training_data ADD COLUMN as_of TEXT NOT NULL DEFAULT '';
