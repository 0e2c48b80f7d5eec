-- Lab results per tube, alerts (an abnormal pool), and the follow-up each
-- member of an abnormal or invalid tube needs (single-tube retest, re-sample).

ALTER TABLE tube ADD COLUMN result TEXT;
ALTER TABLE tube ADD COLUMN result_ms INTEGER;

CREATE TABLE alert (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL,
    tube_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (street_id, id),
    UNIQUE (street_id, tube_id, kind),
    FOREIGN KEY (street_id, tube_id) REFERENCES tube(street_id, id)
);

CREATE TABLE follow_up (
    street_id INTEGER NOT NULL,
    alert_id INTEGER,
    round_id INTEGER NOT NULL,
    tube_id INTEGER NOT NULL,
    resident_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (street_id, tube_id, resident_id, kind),
    FOREIGN KEY (street_id, resident_id) REFERENCES resident(street_id, id)
);
