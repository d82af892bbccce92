-- 002: passages of the current version of each post, their embedding state, chunk-level FTS.
CREATE TABLE chunks (
    cid             INTEGER PRIMARY KEY,         -- stable rowid, shared with chunks_fts
    id              TEXT NOT NULL UNIQUE,        -- "<post_id>:<version>:<position>"
    post_id         TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,
    position        INTEGER NOT NULL,
    start           INTEGER NOT NULL,            -- character offsets in the version text
    "end"           INTEGER NOT NULL,
    heading         TEXT NOT NULL DEFAULT '',    -- section heading path
    text            TEXT NOT NULL,               -- the passage (version text [start:end])
    tokens          INTEGER NOT NULL,            -- tokens of header + passage
    content_hash    TEXT NOT NULL,               -- sha256 of the embedded text (header + passage)
    embedded_model  TEXT,                        -- model id whose vector is in the index; NULL = pending
    UNIQUE (post_id, version, position)
);
CREATE INDEX chunks_embedded ON chunks(embedded_model);
CREATE INDEX chunks_hash ON chunks(content_hash);

-- Which version of each post is chunked, with what chunker and title (re-chunk when any changes).
CREATE TABLE chunk_state (
    post_id     TEXT PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    chunker     TEXT NOT NULL,
    title       TEXT NOT NULL,
    chunked_at  TEXT NOT NULL
);

-- Vectors still to delete from the index (chunks of superseded versions).  A row stays until
-- the vector store confirmed the delete, so an interrupted `kb index` finishes the job next time.
CREATE TABLE chunk_tombstones (id TEXT PRIMARY KEY);

-- Keyword search over passages (bm25); rowid = chunks.cid.
CREATE VIRTUAL TABLE chunks_fts USING fts5(title, heading, text, tokenize = 'porter unicode61');

-- Deleting a post (or its chunks) must not leave orphans in the FTS table or the vector index.
CREATE TRIGGER chunks_ad AFTER DELETE ON chunks BEGIN
    DELETE FROM chunks_fts WHERE rowid = old.cid;
    INSERT OR IGNORE INTO chunk_tombstones (id) SELECT old.id WHERE old.embedded_model IS NOT NULL;
END;
