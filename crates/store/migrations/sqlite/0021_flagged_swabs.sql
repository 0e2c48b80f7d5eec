-- Swabs the server flagged (a problem, or a second routine swab), for the
-- round's review list: a partial index holds only those.
CREATE INDEX registration_flagged ON registration (street_id, round_id, id)
    WHERE problem <> '' OR duplicate_of IS NOT NULL;
