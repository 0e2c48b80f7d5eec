-- Scanning stations: enrolled at one testing point for one round by a
-- one-time code, then holding a bearer token (both stored hashed).

CREATE TABLE station (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    point_id INTEGER NOT NULL,
    round_id INTEGER NOT NULL,
    label TEXT NOT NULL,
    enroll_hash TEXT NOT NULL,
    token_hash TEXT,
    created_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    enrolled_ms INTEGER,
    expires_ms INTEGER NOT NULL,
    revoked_ms INTEGER,
    UNIQUE (street_id, id),
    UNIQUE (street_id, enroll_hash),
    UNIQUE (street_id, token_hash),
    FOREIGN KEY (street_id, point_id) REFERENCES testing_point(street_id, id)
);
