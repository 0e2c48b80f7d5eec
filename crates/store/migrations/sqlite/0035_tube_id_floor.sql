-- A tube's id is never given to another tube: an empty tube is withdrawn
-- (its row removed, its barcode free again) when it is closed or changed
-- away from, and a station that still knows the withdrawn tube's id must
-- never reach another tube through it; nor may the audit log's
-- withdraw_tube name an id a later tube has. As for residents (0031) and
-- points (0033): the largest id removed is kept, and new tubes are
-- numbered above it.
INSERT INTO id_floor (tbl, id) SELECT 'tube', COALESCE(MAX(id), 0) FROM tube;
CREATE TRIGGER tube_id_floor AFTER DELETE ON tube
BEGIN
    UPDATE id_floor SET id = MAX(id, OLD.id) WHERE tbl = 'tube';
END;
