-- A group robot's signing secret (DingTalk's and Feishu's 加签): each attempt
-- signs its request with it. Empty: the robot does not check signatures.
ALTER TABLE alert_channel ADD COLUMN secret TEXT NOT NULL DEFAULT '';
