-- Supplies issued to testing points, and the chain a tube travels after it is
-- closed: sealed bag (密封袋) → transport box (转运箱) → hand-over to a
-- transporter (交接) → lab receipt (实验室接收). Every packing step keeps the
-- count the person counted, so the report can set it against the system's.

ALTER TABLE testing_round ADD COLUMN bag_capacity INTEGER NOT NULL DEFAULT 20;

CREATE TABLE supply_issue (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    quantity INTEGER NOT NULL,
    first_barcode TEXT,
    last_barcode TEXT,
    batch TEXT,
    received_by TEXT NOT NULL DEFAULT '',
    issued_by TEXT NOT NULL,
    issued_ms INTEGER NOT NULL,
    UNIQUE (street_id, id),
    FOREIGN KEY (street_id, point_id) REFERENCES testing_point(street_id, id)
);
CREATE INDEX supply_issue_point ON supply_issue (street_id, point_id);

CREATE TABLE handoff (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    transporter_name TEXT NOT NULL,
    transporter_phone TEXT NOT NULL DEFAULT '',
    transporter_account TEXT NOT NULL DEFAULT '',
    counted_boxes INTEGER NOT NULL,
    counted_tubes INTEGER NOT NULL,
    counted_people INTEGER,
    handed_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (street_id, id),
    FOREIGN KEY (street_id, point_id) REFERENCES testing_point(street_id, id)
);

CREATE TABLE lab_receipt (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL,
    counted_boxes INTEGER,
    counted_tubes INTEGER NOT NULL,
    counted_people INTEGER,
    received_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (street_id, id),
    FOREIGN KEY (street_id, round_id) REFERENCES testing_round(street_id, id)
);

CREATE TABLE transport_box (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    barcode TEXT NOT NULL,
    counted_bags INTEGER NOT NULL,
    counted_tubes INTEGER NOT NULL,
    packed_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    handoff_id INTEGER,
    receipt_id INTEGER,
    UNIQUE (street_id, id),
    UNIQUE (street_id, round_id, barcode),
    FOREIGN KEY (street_id, point_id) REFERENCES testing_point(street_id, id),
    FOREIGN KEY (street_id, handoff_id) REFERENCES handoff(street_id, id),
    FOREIGN KEY (street_id, receipt_id) REFERENCES lab_receipt(street_id, id)
);

CREATE TABLE sample_bag (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    round_id INTEGER NOT NULL,
    point_id INTEGER NOT NULL,
    barcode TEXT NOT NULL,
    counted_tubes INTEGER NOT NULL,
    packed_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    box_id INTEGER,
    UNIQUE (street_id, id),
    UNIQUE (street_id, round_id, barcode),
    FOREIGN KEY (street_id, point_id) REFERENCES testing_point(street_id, id),
    FOREIGN KEY (street_id, box_id) REFERENCES transport_box(street_id, id)
);

-- A tube is in one bag at most.
CREATE TABLE bag_tube (
    street_id INTEGER NOT NULL,
    tube_id INTEGER NOT NULL,
    bag_id INTEGER NOT NULL,
    PRIMARY KEY (street_id, tube_id),
    FOREIGN KEY (street_id, tube_id) REFERENCES tube(street_id, id),
    FOREIGN KEY (street_id, bag_id) REFERENCES sample_bag(street_id, id)
);
CREATE INDEX bag_tube_bag ON bag_tube (street_id, bag_id);
