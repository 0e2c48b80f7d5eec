-- A testing point's id is never given to another point either: one added by
-- mistake and removed (nothing happened at it) left its id to the next
-- point added, and the audit log's remove_point and add_point would name the
-- same id for two points. As for residents (0031): the largest id removed
-- is kept, and new points are numbered above it.
INSERT INTO id_floor (tbl, id) SELECT 'testing_point', COALESCE(MAX(id), 0) FROM testing_point;
CREATE TRIGGER testing_point_id_floor AFTER DELETE ON testing_point
BEGIN
    UPDATE id_floor SET id = MAX(id, OLD.id) WHERE tbl = 'testing_point';
END;
