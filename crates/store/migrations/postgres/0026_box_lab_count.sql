-- The tubes the lab counted in a box when it received it (none: it counted
-- the receipt as a whole): a box's own break shows at the lab.
ALTER TABLE transport_box ADD COLUMN lab_tubes BIGINT;
