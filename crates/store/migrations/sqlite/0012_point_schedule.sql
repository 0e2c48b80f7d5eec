-- Positions and the testing-point schedule: where buildings and points stand
-- (metres east and north of the street's origin; NULL = unknown), whether a
-- point stands inside a compound, its hours and configured rate (people per
-- station per hour), and the round's current call-down plan. Re-planning
-- replaces only the calls of slots not yet started.

ALTER TABLE building ADD COLUMN x_m INTEGER;
ALTER TABLE building ADD COLUMN y_m INTEGER;
ALTER TABLE testing_point ADD COLUMN compound_id INTEGER;
ALTER TABLE testing_point ADD COLUMN x_m INTEGER;
ALTER TABLE testing_point ADD COLUMN y_m INTEGER;
ALTER TABLE testing_point ADD COLUMN opens_ms INTEGER;
ALTER TABLE testing_point ADD COLUMN closes_ms INTEGER;
ALTER TABLE testing_point ADD COLUMN rate_per_station_h INTEGER NOT NULL DEFAULT 100;

CREATE TABLE schedule_plan (
    street_id INTEGER NOT NULL,
    round_id INTEGER NOT NULL,
    anchor_ms INTEGER NOT NULL,
    slot_ms INTEGER NOT NULL,
    until_ms INTEGER NOT NULL,
    max_queue INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    planned_by TEXT NOT NULL,
    planned_ms INTEGER NOT NULL,
    PRIMARY KEY (street_id, round_id),
    FOREIGN KEY (street_id, round_id) REFERENCES testing_round(street_id, id)
);

CREATE TABLE schedule_call (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    starts_ms INTEGER NOT NULL,
    ends_ms INTEGER NOT NULL,
    building_id INTEGER NOT NULL,
    unit_id INTEGER NOT NULL,
    people INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    UNIQUE (street_id, id),
    UNIQUE (street_id, round_id, unit_id),
    FOREIGN KEY (street_id, round_id) REFERENCES schedule_plan(street_id, round_id),
    FOREIGN KEY (street_id, point_id) REFERENCES testing_point(street_id, id),
    FOREIGN KEY (street_id, building_id) REFERENCES building(street_id, id),
    FOREIGN KEY (street_id, unit_id) REFERENCES unit(street_id, id)
);
CREATE INDEX schedule_call_slot ON schedule_call (street_id, round_id, starts_ms);
