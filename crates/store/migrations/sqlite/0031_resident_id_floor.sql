-- A resident's id is never given to another person. A pending walk-in
-- merged into the resident they turned out to be leaves the table, and
-- SQLite gives the largest id removed to the next row inserted (without
-- AUTOINCREMENT, which the table cannot gain without a rebuild that the
-- five tables referring to it forbid): the audit log's "merged=1-40001"
-- would then name someone else. The largest id ever removed is kept here,
-- and new residents are numbered above it (`StoreTx::insert_residents`).
CREATE TABLE id_floor (tbl TEXT PRIMARY KEY, id INTEGER NOT NULL);
INSERT INTO id_floor (tbl, id) SELECT 'resident', COALESCE(MAX(id), 0) FROM resident;
CREATE TRIGGER resident_id_floor AFTER DELETE ON resident
BEGIN
    UPDATE id_floor SET id = MAX(id, OLD.id) WHERE tbl = 'resident';
END;
