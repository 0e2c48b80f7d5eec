-- What a message is (abnormal_pool, late_member, cleared, confirmed,
-- withdrawn, call_down, call_held, test), stored when it is queued. Before,
-- the delivery lists read it from the title its text began with, so a round or
-- a point named with another message's title (「【网格卫士 测试消息】广场」)
-- made a call-down read as a test message. Messages queued before this
-- migration have none (NULL) and are still read from their title.
ALTER TABLE notification ADD COLUMN kind TEXT;
