-- Personal codes: the server's signing keys (city-level, rotated by adding a
-- key and retiring the old one) and each resident's code generation (bumped
-- to revoke a lost code and issue a new one).

CREATE TABLE signing_key (
    id INTEGER PRIMARY KEY,
    secret TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    retired_ms INTEGER
);

ALTER TABLE resident ADD COLUMN code_generation INTEGER NOT NULL DEFAULT 0;
