-- A registration made by mistake (a wrong code scanned, a person scanned and
-- not swabbed) and taken back while its tube is still at the point: moved
-- here, out of every count, with who took it back, when and why. Its client
-- id stays known, so a station's replay of it is refused instead of storing
-- it again.
CREATE TABLE voided_swab (
    street_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    client_id TEXT NOT NULL,
    round_id BIGINT NOT NULL,
    point_id BIGINT NOT NULL,
    tube_id BIGINT NOT NULL,
    resident_id BIGINT,
    raw_code TEXT NOT NULL,
    purpose TEXT NOT NULL,
    problem TEXT NOT NULL,
    scanned_ms BIGINT NOT NULL,
    stored_ms BIGINT NOT NULL,
    station TEXT NOT NULL,
    voided_ms BIGINT NOT NULL,
    voided_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    PRIMARY KEY (street_id, id),
    UNIQUE (street_id, client_id)
);
CREATE INDEX voided_swab_tube ON voided_swab (street_id, tube_id);
