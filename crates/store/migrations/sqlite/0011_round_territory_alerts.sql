-- A round's territory (the communities it covers; none = the whole street),
-- where each expected resident lived when the round opened (so coverage of a
-- grid or building reads only that grid or building), the alert channels
-- (group-robot webhooks) with a durable outbox, disinfection tasks, and the
-- outcome of each retest.

CREATE TABLE round_community (
    street_id INTEGER NOT NULL,
    round_id INTEGER NOT NULL,
    community_id INTEGER NOT NULL,
    PRIMARY KEY (street_id, round_id, community_id),
    FOREIGN KEY (street_id, round_id) REFERENCES testing_round(street_id, id),
    FOREIGN KEY (street_id, community_id) REFERENCES community(street_id, id)
);

ALTER TABLE round_expected ADD COLUMN community_id INTEGER;
ALTER TABLE round_expected ADD COLUMN grid_id INTEGER;
ALTER TABLE round_expected ADD COLUMN building_id INTEGER;
UPDATE round_expected SET building_id = (
    SELECT u.building_id FROM resident r
    JOIN household h ON h.street_id = r.street_id AND h.id = r.household_id
    JOIN unit u ON u.street_id = h.street_id AND u.id = h.unit_id
    WHERE r.street_id = round_expected.street_id AND r.id = round_expected.resident_id);
UPDATE round_expected SET grid_id = (
    SELECT b.grid_id FROM building b WHERE b.street_id = round_expected.street_id AND b.id = round_expected.building_id);
UPDATE round_expected SET community_id = (
    SELECT g.community_id FROM grid g WHERE g.street_id = round_expected.street_id AND g.id = round_expected.grid_id);
CREATE INDEX round_expected_community ON round_expected (street_id, round_id, community_id);
CREATE INDEX round_expected_grid ON round_expected (street_id, round_id, grid_id);
CREATE INDEX round_expected_building ON round_expected (street_id, round_id, building_id);

ALTER TABLE follow_up ADD COLUMN resolved_ms INTEGER;

CREATE TABLE alert_channel (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    url TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    created_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (street_id, id),
    FOREIGN KEY (street_id) REFERENCES street(id)
);

-- One message to one channel; written in the transaction that raised it,
-- delivered (with retries) by the dispatcher.
CREATE TABLE notification (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL,
    alert_id INTEGER,
    body TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    next_ms INTEGER NOT NULL,
    delivered_ms INTEGER,
    UNIQUE (street_id, id),
    FOREIGN KEY (street_id, channel_id) REFERENCES alert_channel(street_id, id)
);
CREATE INDEX notification_pending ON notification (state, next_ms);

CREATE TABLE disinfection_task (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    alert_id INTEGER NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    done_ms INTEGER,
    done_by TEXT,
    UNIQUE (street_id, id),
    UNIQUE (street_id, alert_id),
    FOREIGN KEY (street_id, point_id) REFERENCES testing_point(street_id, id)
);
