-- Residents changed since a moment (a round's opening): coverage's "added" count
-- reads only those, not the whole street.
CREATE INDEX resident_updated ON resident (street_id, updated_ms);
