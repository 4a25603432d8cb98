-- The PostgreSQL twin of store/migrations/0005_instances.sql: one row per
-- running smsbot serve, its nonce and when it last said it was alive.
CREATE TABLE instances (
	nonce      TEXT PRIMARY KEY,
	started_at BIGINT NOT NULL,
	seen_at    BIGINT NOT NULL
);
DELETE FROM settings WHERE key = 'instance';
