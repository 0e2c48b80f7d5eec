-- Accounts, role grants on the territory, login sessions, household links.
-- Accounts and their grants and sessions are city-level (small, replicated as
-- reference tables under Citus); household links belong to a street.

CREATE TABLE app_user (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    must_change INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until_ms INTEGER NOT NULL DEFAULT 0,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL
);

CREATE TABLE user_grant (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES app_user(id),
    role TEXT NOT NULL,
    node_kind TEXT NOT NULL,
    street_id INTEGER NOT NULL,
    node_id INTEGER NOT NULL,
    from_ms INTEGER NOT NULL,
    until_ms INTEGER,
    granted_by TEXT NOT NULL,
    handover_from INTEGER REFERENCES app_user(id),
    note TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
CREATE INDEX user_grant_user ON user_grant (user_id);

CREATE TABLE user_session (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES app_user(id),
    csrf TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    address TEXT NOT NULL DEFAULT ''
);
CREATE INDEX user_session_user ON user_session (user_id);

CREATE TABLE household_link (
    street_id INTEGER NOT NULL,
    token_hash TEXT NOT NULL,
    household_id INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    revoked_ms INTEGER,
    PRIMARY KEY (street_id, token_hash),
    FOREIGN KEY (street_id, household_id) REFERENCES household(street_id, id)
);
