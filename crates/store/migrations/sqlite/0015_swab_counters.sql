-- Swab counters kept by the database itself as registrations are stored: a
-- scan reads its tube's fill and its point's count from one row each instead
-- of counting registrations; a tube that reaches its pool size closes in the
-- statement that filled it. One insert statement is then the scan writer's
-- whole write (no separate transaction around it).
ALTER TABLE tube ADD COLUMN fill INTEGER NOT NULL DEFAULT 0;
ALTER TABLE testing_point ADD COLUMN swabs INTEGER NOT NULL DEFAULT 0;
UPDATE tube SET fill = (SELECT COUNT(*) FROM registration r WHERE r.street_id = tube.street_id AND r.tube_id = tube.id);
UPDATE testing_point SET swabs = (SELECT COUNT(*) FROM registration r WHERE r.street_id = testing_point.street_id AND r.point_id = testing_point.id);
CREATE TRIGGER registration_counted AFTER INSERT ON registration
BEGIN
    UPDATE tube SET fill = fill + 1,
        state = CASE WHEN state = 'open' AND fill + 1 >= pool_size THEN 'closed' ELSE state END,
        closed_ms = CASE WHEN state = 'open' AND fill + 1 >= pool_size THEN COALESCE(closed_ms, NEW.stored_ms) ELSE closed_ms END
    WHERE street_id = NEW.street_id AND id = NEW.tube_id;
    UPDATE testing_point SET swabs = swabs + 1 WHERE street_id = NEW.street_id AND id = NEW.point_id;
END;
