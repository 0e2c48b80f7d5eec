-- The residents added since a round opened (not in its snapshot) are found
-- live while it samples; when sampling closes they are kept here, with their
-- place then, so a resident registered weeks later is no "added, missed" of a
-- round long over. Rounds that closed sampling before this migration keep the
-- live reading (sampling_closed_ms stays empty).
ALTER TABLE testing_round ADD COLUMN sampling_closed_ms BIGINT;

CREATE TABLE round_added (
    street_id BIGINT NOT NULL,
    round_id BIGINT NOT NULL,
    resident_id BIGINT NOT NULL,
    community_id BIGINT NOT NULL,
    grid_id BIGINT NOT NULL,
    building_id BIGINT NOT NULL,
    PRIMARY KEY (street_id, round_id, resident_id),
    FOREIGN KEY (street_id, round_id) REFERENCES testing_round(street_id, id),
    FOREIGN KEY (street_id, resident_id) REFERENCES resident(street_id, id)
);
