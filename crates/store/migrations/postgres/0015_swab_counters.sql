-- Swab counters kept by the database itself as registrations are stored: a
-- scan reads its tube's fill and its point's count from one row each instead
-- of counting registrations; a tube that reaches its pool size closes in the
-- statement that filled it. One insert statement is then the scan writer's
-- whole write (no separate transaction around it).
ALTER TABLE tube ADD COLUMN fill BIGINT NOT NULL DEFAULT 0;
ALTER TABLE testing_point ADD COLUMN swabs BIGINT NOT NULL DEFAULT 0;
UPDATE tube SET fill = (SELECT COUNT(*) FROM registration r WHERE r.street_id = tube.street_id AND r.tube_id = tube.id);
UPDATE testing_point SET swabs = (SELECT COUNT(*) FROM registration r WHERE r.street_id = testing_point.street_id AND r.point_id = testing_point.id);
-- One statement-level trigger: each tube and point of an insert is updated
-- once, with the number of its new rows (a row-level trigger would update the
-- same tube row once per swab, each a new row version).
CREATE FUNCTION registration_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tube t SET fill = t.fill + n.k,
        state = CASE WHEN t.state = 'open' AND t.fill + n.k >= t.pool_size THEN 'closed' ELSE t.state END,
        closed_ms = CASE WHEN t.state = 'open' AND t.fill + n.k >= t.pool_size THEN COALESCE(t.closed_ms, n.at) ELSE t.closed_ms END
    FROM (SELECT street_id, tube_id, COUNT(*) AS k, MAX(stored_ms) AS at FROM inserted GROUP BY street_id, tube_id) n
    WHERE t.street_id = n.street_id AND t.id = n.tube_id;
    UPDATE testing_point p SET swabs = p.swabs + n.k
    FROM (SELECT street_id, point_id, COUNT(*) AS k FROM inserted GROUP BY street_id, point_id) n
    WHERE p.street_id = n.street_id AND p.id = n.point_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER registration_counted AFTER INSERT ON registration
    REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION registration_counted();
