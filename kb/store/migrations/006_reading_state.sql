-- 006: reading state.  A post is unread until a row in post_reads says otherwise; a post is
-- saved while it has a row in post_saves.  Both go with the post (ON DELETE CASCADE).
CREATE TABLE post_reads (
    post_id  TEXT PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
    read_at  TEXT NOT NULL          -- ISO 8601 UTC
);

CREATE TABLE post_saves (
    post_id   TEXT PRIMARY KEY REFERENCES posts(id) ON DELETE CASCADE,
    saved_at  TEXT NOT NULL         -- ISO 8601 UTC
);
CREATE INDEX post_saves_time ON post_saves(saved_at);

-- The tags or categories a source gave a post (forum tags, feed categories), for the
-- killfile's mute_tags.  Replaced whenever a source reports the post's tags again.
CREATE TABLE post_tags (
    post_id  TEXT NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
    tag      TEXT NOT NULL,
    PRIMARY KEY (post_id, tag)
);
