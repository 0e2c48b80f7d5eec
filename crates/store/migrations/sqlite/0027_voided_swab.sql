-- A registration made by mistake (a wrong code scanned, a person scanned and
-- not swabbed) and taken back while its tube is still at the point: moved
-- here, out of every count, with who took it back, when and why. Its client
-- id stays known, so a station's replay of it is refused instead of storing
-- it again.
CREATE TABLE voided_swab (
    street_id INTEGER NOT NULL,
    id INTEGER NOT NULL,
    client_id TEXT NOT NULL,
    round_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    tube_id INTEGER NOT NULL,
    resident_id INTEGER,
    raw_code TEXT NOT NULL,
    purpose TEXT NOT NULL,
    problem TEXT NOT NULL,
    scanned_ms INTEGER NOT NULL,
    stored_ms INTEGER NOT NULL,
    station TEXT NOT NULL,
    voided_ms INTEGER NOT NULL,
    voided_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (street_id, id),
    UNIQUE (street_id, client_id)
);
CREATE INDEX voided_swab_tube ON voided_swab (street_id, tube_id);

-- A registration's id is never used again once its row has left the table
-- (a swab taken back): SQLite would give the largest id removed to the next
-- row without AUTOINCREMENT, and a station's "take back" sent twice, or the
-- audit log, would then name another person's swab. The table is rebuilt
-- with the same columns, keys, indexes and counter trigger.
CREATE TABLE registration_new (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO registration_new (street_id, id, client_id, round_id, point_id, tube_id, resident_id, raw_code, purpose, duplicate_of, problem, scanned_ms, stored_ms, station)
    SELECT street_id, id, client_id, round_id, point_id, tube_id, resident_id, raw_code, purpose, duplicate_of, problem, scanned_ms, stored_ms, station FROM registration;
DROP TABLE registration;
ALTER TABLE registration_new RENAME TO registration;
CREATE INDEX registration_round_resident ON registration (street_id, round_id, resident_id);
CREATE INDEX registration_tube ON registration (street_id, tube_id);
CREATE INDEX registration_point ON registration (street_id, point_id);
CREATE INDEX registration_flagged ON registration (street_id, round_id, id)
    WHERE problem <> '' OR duplicate_of IS NOT NULL;
CREATE UNIQUE INDEX registration_first_swab ON registration (street_id, round_id, resident_id)
    WHERE purpose IN ('routine', 'door_to_door') AND duplicate_of IS NULL AND resident_id IS NOT NULL;
CREATE TRIGGER registration_counted AFTER INSERT ON registration
BEGIN
    UPDATE tube SET fill = fill + 1,
        state = CASE WHEN state = 'open' AND fill + 1 >= pool_size THEN 'closed' ELSE state END,
        closed_ms = CASE WHEN state = 'open' AND fill + 1 >= pool_size THEN COALESCE(closed_ms, NEW.stored_ms) ELSE closed_ms END
    WHERE street_id = NEW.street_id AND id = NEW.tube_id;
    UPDATE testing_point SET swabs = swabs + 1 WHERE street_id = NEW.street_id AND id = NEW.point_id;
END;
