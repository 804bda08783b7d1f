-- Every (version, sha256) ever registered, kept after a version is pruned: a version name is never re-used for
-- different bytes (its artifact URL is served as immutable).

CREATE TABLE ml_model_history (
  version TEXT PRIMARY KEY,
  sha256 TEXT NOT NULL,
  registered_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT OR IGNORE INTO ml_model_history (version, sha256, registered_at) SELECT version, sha256, created_at FROM ml_model_versions;
