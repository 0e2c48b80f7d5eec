-- Exemptions from a round, with a reason, so that "missed" means missed.

CREATE TABLE round_exemption (
    street_id INTEGER NOT NULL,
    round_id INTEGER NOT NULL,
    resident_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    set_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (street_id, round_id, resident_id),
    FOREIGN KEY (street_id, round_id) REFERENCES testing_round(street_id, id),
    FOREIGN KEY (street_id, resident_id) REFERENCES resident(street_id, id)
);
