-- SQLite twin of migrations/postgres/0001_registry.sql: ids are rowid aliases
-- (SQLite is never distributed), street_id stays in every unique key.
-- Registry: territory, households, residents, documents, control status, audit.
-- Every table below street level carries street_id as the first column of its
-- primary and unique keys (the distribution column for Citus). city and
-- district are small reference tables; document_registry is the one city-wide
-- lookup keyed by document number.

CREATE TABLE city (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    code TEXT UNIQUE
);

CREATE TABLE district (
    id INTEGER PRIMARY KEY,
    city_id INTEGER NOT NULL REFERENCES city(id),
    name TEXT NOT NULL,
    code TEXT UNIQUE,
    UNIQUE (city_id, name)
);

CREATE TABLE street (
    id INTEGER PRIMARY KEY,
    district_id INTEGER NOT NULL REFERENCES district(id),
    name TEXT NOT NULL,
    code TEXT UNIQUE,
    UNIQUE (district_id, name)
);

CREATE TABLE community (
    street_id INTEGER NOT NULL REFERENCES street(id),
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    code TEXT,
    UNIQUE (street_id, id),
    UNIQUE (street_id, name),
    UNIQUE (street_id, code)
);

CREATE TABLE grid (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    code TEXT,
    unassigned INTEGER NOT NULL DEFAULT 0,
    UNIQUE (street_id, id),
    UNIQUE (street_id, community_id, name),
    UNIQUE (street_id, code),
    FOREIGN KEY (street_id, community_id) REFERENCES community(street_id, id)
);

CREATE TABLE compound (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    community_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (street_id, id),
    UNIQUE (street_id, community_id, name),
    FOREIGN KEY (street_id, community_id) REFERENCES community(street_id, id)
);

CREATE TABLE building (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    compound_id INTEGER NOT NULL,
    grid_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    floors INTEGER,
    elevator INTEGER,
    UNIQUE (street_id, id),
    UNIQUE (street_id, compound_id, name),
    FOREIGN KEY (street_id, compound_id) REFERENCES compound(street_id, id),
    FOREIGN KEY (street_id, grid_id) REFERENCES grid(street_id, id)
);
CREATE INDEX building_grid ON building (street_id, grid_id);

CREATE TABLE unit (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    building_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (street_id, id),
    UNIQUE (street_id, building_id, name),
    FOREIGN KEY (street_id, building_id) REFERENCES building(street_id, id)
);

CREATE TABLE household (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    unit_id INTEGER NOT NULL,
    room TEXT NOT NULL,
    UNIQUE (street_id, id),
    UNIQUE (street_id, unit_id, room),
    FOREIGN KEY (street_id, unit_id) REFERENCES unit(street_id, id)
);

