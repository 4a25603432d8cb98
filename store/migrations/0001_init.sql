-- Settings: the generated server secret and other single values.
CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value BLOB NOT NULL
) STRICT;

-- One row per phone that ever texted us. Times are unix milliseconds.
CREATE TABLE phones (
	phone         TEXT PRIMARY KEY,
	state         TEXT NOT NULL CHECK (state IN ('idle', 'awaiting_login', 'awaiting_code', 'subscribed', 'opted_out')),
	expires_at    INTEGER NOT NULL DEFAULT 0,
	user_id       TEXT,
	email         TEXT NOT NULL DEFAULT '',
	bound_at      INTEGER NOT NULL DEFAULT 0,
	link_hash     BLOB,
	code_mac      BLOB,
	code_user_id  TEXT NOT NULL DEFAULT '',
	code_email    TEXT NOT NULL DEFAULT '',
	code_login    TEXT NOT NULL DEFAULT '',
	code_attempts INTEGER NOT NULL DEFAULT 0,
	reply_window  INTEGER NOT NULL DEFAULT 0,
	reply_count   INTEGER NOT NULL DEFAULT 0,
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	CHECK (state <> 'subscribed' OR user_id IS NOT NULL),
	CHECK (state <> 'awaiting_code' OR code_mac IS NOT NULL),
	CHECK (state <> 'awaiting_login' OR link_hash IS NOT NULL)
) STRICT, WITHOUT ROWID;

-- One account per phone, one phone per account.
CREATE UNIQUE INDEX phones_user ON phones (user_id) WHERE user_id IS NOT NULL;

-- One-time login links; only the SHA-256 of the token is kept.
CREATE TABLE links (
	hash       BLOB PRIMARY KEY,
	phone      TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;
CREATE INDEX links_phone ON links (phone, created_at);

-- Every inbound MessageSid with its (sealed) reply, for replays.
CREATE TABLE inbound (
	message_sid TEXT PRIMARY KEY,
	phone       TEXT NOT NULL,
	reply       BLOB NOT NULL,
	received_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX inbound_received ON inbound (received_at);

-- Side effects to deliver after commit.
CREATE TABLE outbox (
	id          INTEGER PRIMARY KEY,
	kind        TEXT NOT NULL,
	phone       TEXT NOT NULL DEFAULT '',
	body        TEXT NOT NULL DEFAULT '',
	user_id     TEXT NOT NULL DEFAULT '',
	state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
	created_at  INTEGER NOT NULL,
	next_at     INTEGER NOT NULL,
	attempts    INTEGER NOT NULL DEFAULT 0,
	first_try   INTEGER NOT NULL DEFAULT 0,
	lease_until INTEGER NOT NULL DEFAULT 0,
	ambiguous   INTEGER NOT NULL DEFAULT 0,
	last_error  TEXT NOT NULL DEFAULT '',
	result      TEXT NOT NULL DEFAULT '',
	finished_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX outbox_due ON outbox (next_at, id) WHERE state = 'pending';

-- Delivery status of texts we sent, from Twilio's status callbacks.
CREATE TABLE messages (
	sid        TEXT PRIMARY KEY,
	phone      TEXT NOT NULL DEFAULT '',
	status     TEXT NOT NULL,
	rank       INTEGER NOT NULL,
	error_code INTEGER NOT NULL DEFAULT 0,
	updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- Every change of a binding: who, which phone, when, why.
CREATE TABLE audit (
	id      INTEGER PRIMARY KEY,
	at      INTEGER NOT NULL,
	phone   TEXT NOT NULL,
	user_id TEXT NOT NULL,
	action  TEXT NOT NULL,
	reason  TEXT NOT NULL
) STRICT;
CREATE INDEX audit_phone ON audit (phone, at);
