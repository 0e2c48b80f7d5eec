-- The audit log read by what it concerns: a round's call-down pushes (is
-- this slot pushed already?) and `gridwarden audit` for one target. Without
-- it each such read scanned the whole log, which only grows.
CREATE INDEX audit_event_target ON audit_event (street_id, target_kind, target_id);
