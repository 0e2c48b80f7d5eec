-- A street's registry version: a roster import reads it before planning and,
-- first thing in its write transaction, moves it one on only if it is still
-- what it read (`StoreTx::bump_registry_version`). Two imports into one
-- street at the same moment so never both write a plan made from the same
-- registry: the second finds the version moved, plans again against what the
-- first wrote, and reports those rows unchanged instead of adding everyone
-- twice. No row yet reads as version 0.
CREATE TABLE registry_version (
    street_id BIGINT NOT NULL REFERENCES street(id),
    version BIGINT NOT NULL,
    PRIMARY KEY (street_id)
);
