-- 003: per-post summaries, stored digests and a cache of digest-writing model calls.

-- One summary per (post version text, model, prompt version).  Rows of earlier versions
-- and other models are kept; status 'pending' means the model failed and kb will retry.
CREATE TABLE summaries (
    id              INTEGER PRIMARY KEY,
    post_id         TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    content_hash    TEXT NOT NULL,
    model_id        TEXT NOT NULL,
    prompt_version  TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('ok', 'pending')),
    summary         TEXT NOT NULL DEFAULT '',
    relevance       TEXT CHECK (relevance IN ('core', 'related', 'off-topic')),
    implications    TEXT NOT NULL DEFAULT '',
    method          TEXT NOT NULL DEFAULT '',   -- json | json-retry | text | map-reduce+...
    error           TEXT,
    calls           INTEGER NOT NULL DEFAULT 0, -- model calls spent on it
    created_at      TEXT NOT NULL,
    UNIQUE (post_id, content_hash, model_id, prompt_version)
);
CREATE INDEX summaries_post ON summaries(post_id, version);

-- The structured digest of one day (JSON) and its rendered Markdown.
CREATE TABLE digests (
    day          TEXT PRIMARY KEY,              -- YYYY-MM-DD in digest.timezone
    json         TEXT NOT NULL,
    markdown     TEXT NOT NULL,
    model_id     TEXT NOT NULL,
    inputs_hash  TEXT NOT NULL,                 -- posts, summaries, model, prompt version
    complete     INTEGER NOT NULL DEFAULT 1,    -- 0 while some post of the day is pending
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- Results of theme/connection writing calls and embeddings used by the digest, keyed by a
-- hash of (kind, inputs, model id, prompt version): an unchanged day costs no model call.
CREATE TABLE digest_cache (
    key         TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    value       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
