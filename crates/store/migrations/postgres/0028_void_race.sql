-- A station's scan and its take-back by client id (`voided_swab` with a
-- negative id: a scan never stored) can reach the server at the same moment
-- from two connections. Each side now takes the same transaction-scoped
-- advisory lock on (street, client id) before it looks at the other's table,
-- so one decides after the other has committed: the scan writer leaves out a
-- client id already taken back (the caller answers `voided`), and a
-- take-back finding the scan stored takes that swab back instead.
CREATE FUNCTION gw_client_key(street BIGINT, client TEXT) RETURNS BIGINT
LANGUAGE sql IMMUTABLE AS $$ SELECT hashtextextended(street::text || '/' || client, 28) $$;

CREATE OR REPLACE FUNCTION gw_write_scans(
    t_street BIGINT[], t_round BIGINT[], t_point BIGINT[], t_barcode TEXT[], t_pool INTEGER[], t_ms BIGINT[], t_use TEXT[],
    r_street BIGINT[], r_client TEXT[], r_round BIGINT[], r_point BIGINT[], r_tube BIGINT[], r_resident BIGINT[],
    r_raw TEXT[], r_purpose TEXT[], r_duplicate BIGINT[], r_problem TEXT[], r_scanned BIGINT[], r_stored BIGINT[],
    r_station TEXT[])
RETURNS TABLE (o_kind INTEGER, o_street BIGINT, o_id BIGINT, o_text TEXT, o_n BIGINT)
LANGUAGE plpgsql AS $$
BEGIN
    -- In key order, so two writers (two servers on one database) cannot
    -- deadlock on them; held to the commit.
    PERFORM pg_advisory_xact_lock(l.k)
    FROM (SELECT DISTINCT gw_client_key(u.s, u.c) AS k FROM unnest(r_street, r_client) AS u(s, c) ORDER BY 1) l;

    RETURN QUERY
    INSERT INTO tube AS x (street_id, round_id, point_id, barcode, state, pool_size, opened_ms, tube_use)
    SELECT u.s, u.r, u.p, u.b, 'open', u.k, u.m, u.w
    FROM unnest(t_street, t_round, t_point, t_barcode, t_pool, t_ms, t_use) AS u(s, r, p, b, k, m, w)
    ON CONFLICT DO NOTHING
    RETURNING 0, x.street_id, x.id, x.barcode, x.round_id;

    -- A new statement, so a new snapshot: a take-back committed while this
    -- cycle waited for its locks is seen.
    RETURN QUERY
    INSERT INTO registration AS x (street_id, client_id, round_id, point_id, tube_id, resident_id, raw_code,
        purpose, duplicate_of, problem, scanned_ms, stored_ms, station)
    SELECT * FROM unnest(r_street, r_client, r_round, r_point, r_tube, r_resident, r_raw, r_purpose,
        r_duplicate, r_problem, r_scanned, r_stored, r_station) AS u(s, c, r, p, t, i, w, pu, d, pr, sc, st, sn)
    WHERE NOT EXISTS (SELECT 1 FROM voided_swab v WHERE v.street_id = u.s AND v.client_id = u.c)
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
