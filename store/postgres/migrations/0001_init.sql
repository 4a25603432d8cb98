-- The PostgreSQL twin of store/migrations/0001_init.sql: the same tables,
-- columns, CHECKs and partial unique indexes. Times are unix milliseconds.

-- Settings: single values (the instance nonce, the ping).
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value BYTEA NOT NULL
);

-- One row per phone that ever texted us.
CREATE TABLE phones (
	phone         TEXT PRIMARY KEY,
	state         TEXT NOT NULL CHECK (state IN ('idle', 'awaiting_login', 'awaiting_code', 'subscribed', 'opted_out')),
	expires_at    BIGINT NOT NULL DEFAULT 0,
	user_id       TEXT,
	email         TEXT NOT NULL DEFAULT '',
	bound_at      BIGINT NOT NULL DEFAULT 0,
	link_hash     BYTEA,
	code_mac      BYTEA,
	code_user_id  TEXT NOT NULL DEFAULT '',
	code_email    TEXT NOT NULL DEFAULT '',
	code_login    TEXT NOT NULL DEFAULT '',
	code_attempts INTEGER NOT NULL DEFAULT 0,
	reply_window  BIGINT NOT NULL DEFAULT 0,
	reply_count   INTEGER NOT NULL DEFAULT 0,
	created_at    BIGINT NOT NULL,
	updated_at    BIGINT NOT NULL,
	CHECK (state <> 'subscribed' OR user_id IS NOT NULL),
	CHECK (state <> 'awaiting_code' OR code_mac IS NOT NULL),
	CHECK (state <> 'awaiting_login' OR link_hash IS NOT NULL)
);

-- One account per phone, one phone per account.
CREATE UNIQUE INDEX phones_user ON phones (user_id) WHERE user_id IS NOT NULL;

-- One-time login links; only the SHA-256 of the token is kept.
CREATE TABLE links (
	hash       BYTEA PRIMARY KEY,
	phone      TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_at    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX links_phone ON links (phone, created_at);

-- Every inbound MessageSid with its (sealed) reply, for replays.
CREATE TABLE inbound (
	message_sid TEXT PRIMARY KEY,
	phone       TEXT NOT NULL,
	reply       BYTEA NOT NULL,
	received_at BIGINT NOT NULL
);
CREATE INDEX inbound_received ON inbound (received_at);

-- Side effects to deliver after commit.
CREATE TABLE outbox (
	id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind        TEXT NOT NULL,
	phone       TEXT NOT NULL DEFAULT '',
	body        TEXT NOT NULL DEFAULT '',
	user_id     TEXT NOT NULL DEFAULT '',
	state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
	created_at  BIGINT NOT NULL,
	next_at     BIGINT NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	first_try   BIGINT NOT NULL DEFAULT 0,
	lease_until BIGINT NOT NULL DEFAULT 0,
	ambiguous   BOOLEAN NOT NULL DEFAULT false,
	last_error  TEXT NOT NULL DEFAULT '',
	result      TEXT NOT NULL DEFAULT '',
	finished_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (next_at, id) WHERE state = 'pending';

-- Delivery status of texts we sent, from Twilio's status callbacks.
CREATE TABLE messages (
	sid        TEXT PRIMARY KEY,
	phone      TEXT NOT NULL DEFAULT '',
	status     TEXT NOT NULL,
	rank       INTEGER NOT NULL,
	error_code INTEGER NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL
);

-- Every change of a binding: who, which phone, when, why.
CREATE TABLE audit (
	id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at      BIGINT NOT NULL,
	phone   TEXT NOT NULL,
	user_id TEXT NOT NULL,
	action  TEXT NOT NULL,
	reason  TEXT NOT NULL
);
CREATE INDEX audit_phone ON audit (phone, at);
