-- Testing rounds: the round, its expected population (a snapshot taken when it
-- opens), testing points, tubes and registrations (one swab in one tube).

CREATE TABLE testing_round (
    street_id INTEGER NOT NULL REFERENCES street(id),
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    starts_ms INTEGER NOT NULL,
    ends_ms INTEGER NOT NULL,
    pool_size INTEGER NOT NULL,
    state TEXT NOT NULL,
    opened_ms INTEGER,
    created_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (street_id, id)
);

CREATE TABLE round_expected (
    street_id INTEGER NOT NULL,
    round_id INTEGER NOT NULL,
    resident_id INTEGER NOT NULL,
    PRIMARY KEY (street_id, round_id, resident_id),
    FOREIGN KEY (street_id, round_id) REFERENCES testing_round(street_id, id),
    FOREIGN KEY (street_id, resident_id) REFERENCES resident(street_id, id)
);

CREATE TABLE testing_point (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    community_id INTEGER NOT NULL,
    stations INTEGER NOT NULL,
    UNIQUE (street_id, id),
    FOREIGN KEY (street_id, round_id) REFERENCES testing_round(street_id, id),
    FOREIGN KEY (street_id, community_id) REFERENCES community(street_id, id)
);

CREATE TABLE tube (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    barcode TEXT NOT NULL,
    state TEXT NOT NULL,
    pool_size INTEGER NOT NULL,
    opened_ms INTEGER NOT NULL,
    closed_ms INTEGER,
    UNIQUE (street_id, id),
    UNIQUE (street_id, round_id, barcode),
    FOREIGN KEY (street_id, point_id) REFERENCES testing_point(street_id, id)
);

CREATE TABLE registration (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    client_id TEXT NOT NULL,
    round_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    tube_id INTEGER NOT NULL,
    resident_id INTEGER,
    raw_code TEXT NOT NULL,
    purpose TEXT NOT NULL,
    duplicate_of INTEGER,
    problem TEXT NOT NULL DEFAULT '',
    scanned_ms INTEGER NOT NULL,
    stored_ms INTEGER NOT NULL,
    station TEXT NOT NULL DEFAULT '',
    UNIQUE (street_id, id),
    UNIQUE (street_id, client_id),
    FOREIGN KEY (street_id, tube_id) REFERENCES tube(street_id, id)
);
CREATE INDEX registration_round_resident ON registration (street_id, round_id, resident_id);
CREATE INDEX registration_tube ON registration (street_id, tube_id);
-- One first routine swab per resident per round: a second one is stored as a
-- duplicate of it, even when two stations scan the same person at once.
CREATE UNIQUE INDEX registration_first_routine ON registration (street_id, round_id, resident_id)
    WHERE purpose = 'routine' AND duplicate_of IS NULL AND resident_id IS NOT NULL;
