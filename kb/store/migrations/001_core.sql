-- 001: sources, posts, post URLs, versions, full-text search.
CREATE TABLE sources (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    url              TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL CHECK (kind IN ('feed', 'page')),
    added_at         TEXT NOT NULL,
    etag             TEXT,
    last_modified    TEXT,
    last_fetched_at  TEXT,
    last_success_at  TEXT,
    last_status      TEXT,          -- "ok", "not modified", "error"
    last_error       TEXT,
    last_counts      TEXT           -- JSON {"new": n, "updated": n, "unchanged": n}
);

CREATE TABLE posts (
    id             TEXT PRIMARY KEY,          -- LW/AF 17-char id, or "u" + hash of canonical URL
    title          TEXT NOT NULL,
    authors        TEXT NOT NULL DEFAULT '[]', -- JSON list of names
    published      TEXT,                       -- ISO 8601 UTC, the true posting time
    site           TEXT NOT NULL DEFAULT '',   -- host, e.g. www.lesswrong.com
    canonical_url  TEXT NOT NULL,
    is_af          INTEGER NOT NULL DEFAULT 0,
    source_id      INTEGER REFERENCES sources(id) ON DELETE SET NULL,
    first_seen_at  TEXT NOT NULL,
    changed_at     TEXT                         -- set when a later version arrived
);
CREATE INDEX posts_published ON posts(published);

CREATE TABLE post_urls (
    url      TEXT PRIMARY KEY,                 -- normalized URL
    post_id  TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE
);
CREATE INDEX post_urls_post ON post_urls(post_id);

CREATE TABLE post_versions (
    id            INTEGER PRIMARY KEY,
    post_id       TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    version       INTEGER NOT NULL,            -- 1, 2, ... per post
    content_hash  TEXT NOT NULL,               -- sha256 of the normalized text
    text          TEXT NOT NULL,               -- clean Markdown
    origin        TEXT NOT NULL DEFAULT '',    -- where this text came from (feed/page/file URL)
    fetched_at    TEXT NOT NULL,
    modified      TEXT,                        -- the page's own "modified" date, if any
    UNIQUE (post_id, version)
);
CREATE INDEX post_versions_hash ON post_versions(post_id, content_hash);

-- One row per post: title + text of its current version.
CREATE VIRTUAL TABLE posts_fts USING fts5(
    post_id UNINDEXED, title, text, tokenize = 'porter unicode61'
);

-- Small key/value state (first-run markers, last successful daily run, ...).
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT);
