-- Residents, their phones, and the city-wide document lookup.

CREATE TABLE resident (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL,
    household_id INTEGER,
    name TEXT NOT NULL,
    gender TEXT NOT NULL,
    doc_kind TEXT,
    doc_number TEXT,
    birth_date TEXT,
    residence TEXT NOT NULL,
    flags INTEGER NOT NULL DEFAULT 0,
    notes TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    UNIQUE (street_id, id),
    UNIQUE (street_id, uid),
    FOREIGN KEY (street_id, household_id) REFERENCES household(street_id, id)
);
CREATE INDEX resident_household ON resident (street_id, household_id);
CREATE INDEX resident_name ON resident (street_id, name);

CREATE TABLE resident_phone (
    street_id INTEGER NOT NULL,
    resident_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    number TEXT NOT NULL,
    relation TEXT NOT NULL,
    PRIMARY KEY (street_id, resident_id, seq),
    FOREIGN KEY (street_id, resident_id) REFERENCES resident(street_id, id) ON DELETE CASCADE
);

-- The one city-wide lookup: a document number belongs to one resident.
CREATE TABLE document_registry (
    doc_kind TEXT NOT NULL,
    doc_number TEXT NOT NULL,
    street_id INTEGER NOT NULL,
    resident_id INTEGER NOT NULL,
    PRIMARY KEY (doc_kind, doc_number)
);
CREATE INDEX document_registry_resident ON document_registry (street_id, resident_id);

