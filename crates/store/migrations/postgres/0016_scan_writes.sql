-- The scan writer's whole cycle in one round trip and one commit: the tubes
-- opened in this moment, the registrations (the counter trigger runs at the
-- end of their insert), then the counters of every tube and point the batch
-- touched, as they stand after it. Arrays in, so the statement is the same
-- whatever the batch size (prepared once per connection). Rows out:
--   0: an opened tube (street, id, barcode, round)
--   1: a stored registration (street, id, client id)
--   2: a tube's fill after the batch (street, id, '', fill)
--   3: a point's swab count after the batch (street, id, '', swabs)
-- A row a unique key refuses (a taken barcode, a replayed client id, a second
-- first-routine swab) is left out; the caller resolves it.
CREATE FUNCTION gw_write_scans(
    t_street BIGINT[], t_round BIGINT[], t_point BIGINT[], t_barcode TEXT[], t_pool INTEGER[], t_ms BIGINT[],
    r_street BIGINT[], r_client TEXT[], r_round BIGINT[], r_point BIGINT[], r_tube BIGINT[], r_resident BIGINT[],
    r_raw TEXT[], r_purpose TEXT[], r_duplicate BIGINT[], r_problem TEXT[], r_scanned BIGINT[], r_stored BIGINT[],
    r_station TEXT[])
RETURNS TABLE (o_kind INTEGER, o_street BIGINT, o_id BIGINT, o_text TEXT, o_n BIGINT)
LANGUAGE plpgsql AS $$
BEGIN
    RETURN QUERY
    INSERT INTO tube AS x (street_id, round_id, point_id, barcode, state, pool_size, opened_ms)
    SELECT u.s, u.r, u.p, u.b, 'open', u.k, u.m
    FROM unnest(t_street, t_round, t_point, t_barcode, t_pool, t_ms) AS u(s, r, p, b, k, m)
    ON CONFLICT DO NOTHING
    RETURNING 0, x.street_id, x.id, x.barcode, x.round_id;

    RETURN QUERY
    INSERT INTO registration AS x (street_id, client_id, round_id, point_id, tube_id, resident_id, raw_code,
        purpose, duplicate_of, problem, scanned_ms, stored_ms, station)
    SELECT * FROM unnest(r_street, r_client, r_round, r_point, r_tube, r_resident, r_raw, r_purpose,
        r_duplicate, r_problem, r_scanned, r_stored, r_station)
    ON CONFLICT DO NOTHING
    RETURNING 1, x.street_id, x.id, x.client_id, CAST(0 AS BIGINT);

    -- One key lookup per tube and point (LIMIT 1 keeps each a lookup: as a
    -- plain join the planner may hash the whole table, and this function's
    -- plan is kept for the connection's life while the tables grow).
    RETURN QUERY
    SELECT 2, t.street_id, t.id, '', t.fill
    FROM (SELECT DISTINCT k.s, k.i FROM unnest(r_street, r_tube) AS k(s, i)) k
    CROSS JOIN LATERAL (SELECT x.street_id, x.id, x.fill FROM tube x WHERE x.street_id = k.s AND x.id = k.i LIMIT 1) t;

    RETURN QUERY
    SELECT 3, p.street_id, p.id, '', p.swabs
    FROM (SELECT DISTINCT k.s, k.i FROM unnest(r_street, r_point) AS k(s, i)) k
    CROSS JOIN LATERAL (SELECT x.street_id, x.id, x.swabs FROM testing_point x WHERE x.street_id = k.s AND x.id = k.i LIMIT 1) p;
END
$$;

-- The counter trigger of 0015 joined the inserted rows to the whole tube and
-- point tables; its plan, made while they were small, read them in full for
-- every insert as they grew. Now one key lookup per tube and point, in key
-- order (two inserts at once then lock rows in the same order).
CREATE OR REPLACE FUNCTION registration_counted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    n RECORD;
BEGIN
    FOR n IN SELECT i.street_id, i.tube_id, COUNT(*) AS k, MAX(i.stored_ms) AS at FROM inserted i
             GROUP BY i.street_id, i.tube_id ORDER BY i.street_id, i.tube_id LOOP
        UPDATE tube t SET fill = t.fill + n.k,
            state = CASE WHEN t.state = 'open' AND t.fill + n.k >= t.pool_size THEN 'closed' ELSE t.state END,
            closed_ms = CASE WHEN t.state = 'open' AND t.fill + n.k >= t.pool_size THEN COALESCE(t.closed_ms, n.at) ELSE t.closed_ms END
        WHERE t.street_id = n.street_id AND t.id = n.tube_id;
    END LOOP;
    FOR n IN SELECT i.street_id, i.point_id, COUNT(*) AS k FROM inserted i
             GROUP BY i.street_id, i.point_id ORDER BY i.street_id, i.point_id LOOP
        UPDATE testing_point p SET swabs = p.swabs + n.k
        WHERE p.street_id = n.street_id AND p.id = n.point_id;
    END LOOP;
    RETURN NULL;
END
$$;
