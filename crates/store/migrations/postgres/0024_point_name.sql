-- A point's name is its own within its community in a round: the app checks
-- it when a point is added, and this index holds when two requests add the
-- same name at once. Points of one name made before are told apart by id.
UPDATE testing_point SET name = name || ' (' || CAST(id AS TEXT) || ')'
WHERE EXISTS (SELECT 1 FROM testing_point q
              WHERE q.street_id = testing_point.street_id AND q.round_id = testing_point.round_id
                AND q.community_id = testing_point.community_id AND q.name = testing_point.name
                AND q.id < testing_point.id);
CREATE UNIQUE INDEX testing_point_name ON testing_point (street_id, round_id, community_id, name);
