-- SQLite twin of migrations/postgres/0034_registry_version.sql: a street's
-- registry version, moved on by every roster import's write transaction only
-- if it is still what the import read before planning.
CREATE TABLE registry_version (
    street_id INTEGER NOT NULL PRIMARY KEY REFERENCES street(id),
    version INTEGER NOT NULL
);
