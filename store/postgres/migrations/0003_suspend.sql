-- Recycled numbers: a binding can be suspended until the phone links again.
-- last_seen is the time of the phone's last inbound text (updated_at also
-- moves on web logins, operator commands and outbox opt-outs); existing rows
-- start from updated_at, which is never earlier than their last text.
-- verified_at is when the binding was last proven by a code.
ALTER TABLE phones ADD COLUMN last_seen BIGINT NOT NULL DEFAULT 0;
UPDATE phones SET last_seen = updated_at;
ALTER TABLE phones ADD COLUMN verified_at BIGINT NOT NULL DEFAULT 0;
UPDATE phones SET verified_at = bound_at;
-- Only a binding can be suspended, and a suspension always says why.
ALTER TABLE phones ADD COLUMN suspended_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE phones ADD COLUMN suspend_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE phones ADD CHECK (suspended_at = 0 OR user_id IS NOT NULL);
ALTER TABLE phones ADD CHECK (suspend_reason IN ('', 'silent', 'lost', 'reassigned') AND (suspended_at = 0) = (suspend_reason = ''));

-- Delivery errors that say a number is gone or changed hands, one row per
-- message (ref: Twilio's MessageSid or the outbox job), kept 30 days.
CREATE TABLE lost_deliveries (
	phone TEXT NOT NULL,
	ref   TEXT NOT NULL,
	code  INTEGER NOT NULL,
	at    BIGINT NOT NULL,
	PRIMARY KEY (phone, ref)
);
CREATE INDEX lost_deliveries_at ON lost_deliveries (at);

-- Every wrong code, by the account it was meant for: the per-account cap
-- counts them across phones. Kept two days.
CREATE TABLE wrong_codes (
	id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	user_id TEXT NOT NULL,
	phone   TEXT NOT NULL,
	at      BIGINT NOT NULL
);
CREATE INDEX wrong_codes_user ON wrong_codes (user_id, at);
