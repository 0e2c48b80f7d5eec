-- Control status history and the audit log.

CREATE TABLE control_order (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    target_kind TEXT NOT NULL,
    target_id INTEGER NOT NULL,
    status TEXT NOT NULL,
    from_ms INTEGER NOT NULL,
    until_ms INTEGER,
    reason TEXT NOT NULL,
    set_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (street_id, id)
);
CREATE INDEX control_order_target ON control_order (street_id, target_kind, target_id);

-- Append-only; holds ids, never personal values. street_id 0: city-wide acts.
CREATE TABLE audit_event (
    street_id INTEGER NOT NULL,
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    address TEXT NOT NULL DEFAULT '',
    UNIQUE (street_id, id)
);
