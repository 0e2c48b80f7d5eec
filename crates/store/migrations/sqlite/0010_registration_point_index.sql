-- The point's running count, read on every scan.

CREATE INDEX registration_point ON registration (street_id, point_id);
