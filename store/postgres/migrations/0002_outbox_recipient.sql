-- Jobs for one recipient go out one at a time, oldest first: Claim takes a
-- pending job only when no older pending job has the same kind, phone and
-- user. This index answers that question.
CREATE INDEX outbox_recipient ON outbox (kind, phone, user_id, id) WHERE state = 'pending';
