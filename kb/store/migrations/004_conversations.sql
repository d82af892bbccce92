-- `kb ask` exchanges, so `kb ask --continue` can rewrite a follow-up into a standalone question.
CREATE TABLE IF NOT EXISTS ask_exchanges (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    asked_at    TEXT NOT NULL,             -- ISO UTC
    question    TEXT NOT NULL,             -- as the user typed it
    standalone  TEXT NOT NULL,             -- after rewriting a follow-up (= question otherwise)
    answer      TEXT NOT NULL,             -- the checked answer text, or the abstention
    abstained   INTEGER NOT NULL DEFAULT 0,
    citations   TEXT NOT NULL DEFAULT '[]',  -- JSON: the citation objects of the answer
    model_id    TEXT NOT NULL DEFAULT '',
    parent_id   INTEGER REFERENCES ask_exchanges(id) ON DELETE SET NULL
);
CREATE INDEX IF NOT EXISTS ask_exchanges_asked_at ON ask_exchanges(asked_at);
