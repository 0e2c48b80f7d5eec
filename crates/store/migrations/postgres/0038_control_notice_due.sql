-- A stay-home order's notice (暂停下楼) still to be told: set by the order's
-- own insert when its status keeps people at home (封控, 临时管控: a hand-set
-- order's, an alert's temporary control), cleared once the notice is queued
-- (or there was nothing to tell). The server tells again, at start and every
-- minute, the orders still marked a while after they were set: a crash
-- between the order's commit and its notice no longer loses the notice.
-- Orders set before this migration are taken as told (0).
ALTER TABLE control_order ADD COLUMN notice_due INTEGER NOT NULL DEFAULT 0;
CREATE INDEX control_order_notice_due ON control_order (notice_due) WHERE notice_due <> 0;
