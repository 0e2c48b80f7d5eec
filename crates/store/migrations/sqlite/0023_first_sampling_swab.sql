-- A door-to-door swab samples a resident for the round as a routine one at a
-- point does: the first of either is the resident's first swab, and a later
-- one of either is stored as its duplicate (a person sampled at a point and
-- again at the door is told and flagged). Swabs already stored follow the
-- rule: the earliest stored first stays first, and every other sampling swab of
-- the resident in the round (duplicates of a former first too) points at it.
UPDATE registration SET duplicate_of = (
    SELECT MIN(f.id) FROM registration f
    WHERE f.street_id = registration.street_id AND f.round_id = registration.round_id
      AND f.resident_id = registration.resident_id
      AND f.purpose IN ('routine', 'door_to_door') AND f.duplicate_of IS NULL)
WHERE purpose IN ('routine', 'door_to_door') AND resident_id IS NOT NULL
  AND id <> (
    SELECT MIN(f.id) FROM registration f
    WHERE f.street_id = registration.street_id AND f.round_id = registration.round_id
      AND f.resident_id = registration.resident_id
      AND f.purpose IN ('routine', 'door_to_door') AND f.duplicate_of IS NULL);

DROP INDEX registration_first_routine;
CREATE UNIQUE INDEX registration_first_swab ON registration (street_id, round_id, resident_id)
    WHERE purpose IN ('routine', 'door_to_door') AND duplicate_of IS NULL AND resident_id IS NOT NULL;
