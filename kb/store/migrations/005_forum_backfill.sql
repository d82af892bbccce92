-- 005: forum sources (ForumMagnum GraphQL), per-source filters, blog homepages, and the
-- checkpoints of `kb backfill` and of forum windows.
-- sources.kind gains 'forum'; SQLite cannot alter a CHECK, so the table is rebuilt (the
-- migration runs with foreign keys off, so posts keep their source_id).
CREATE TABLE sources_new (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    url              TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL CHECK (kind IN ('feed', 'page', 'forum')),
    added_at         TEXT NOT NULL,
    etag             TEXT,
    last_modified    TEXT,
    last_fetched_at  TEXT,
    last_success_at  TEXT,
    last_status      TEXT,          -- "ok", "not modified", "error"
    last_error       TEXT,
    last_counts      TEXT,          -- JSON {"new": n, "updated": n, "unchanged": n}
    min_karma        INTEGER,       -- forum: only posts with at least this karma (NULL: all)
    tags             TEXT,          -- forum: JSON list of tag names, a post needs one (NULL: all)
    home_url         TEXT,          -- blog: the site's homepage (where its archive is looked for)
    archive          TEXT,          -- blog: the archive found ("wordpress URL", "none", ...)
    window_until     TEXT           -- forum: end of the last window `kb ingest` completed
);
INSERT INTO sources_new (id, name, url, kind, added_at, etag, last_modified, last_fetched_at,
                         last_success_at, last_status, last_error, last_counts)
    SELECT id, name, url, kind, added_at, etag, last_modified, last_fetched_at,
           last_success_at, last_status, last_error, last_counts FROM sources;
DROP TABLE sources;
ALTER TABLE sources_new RENAME TO sources;

-- One row per window of a source's history that `kb backfill` started: the posts of
-- [start, end) are stored up to `position` (forum/archive offset, page number or list index),
-- written in the same transaction as the posts of that page; done_at when complete.
CREATE TABLE backfill_windows (
    id          INTEGER PRIMARY KEY,
    source_id   INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    start       TEXT NOT NULL,      -- ISO 8601 UTC, inclusive
    end         TEXT NOT NULL,      -- ISO 8601 UTC, exclusive
    position    INTEGER NOT NULL DEFAULT 0,
    seen        INTEGER NOT NULL DEFAULT 0,   -- posts of the window stored or found unchanged
    started_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    done_at     TEXT,
    UNIQUE (source_id, start, end)
);
CREATE INDEX backfill_windows_source ON backfill_windows(source_id, done_at);
