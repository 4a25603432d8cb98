-- One row per running smsbot serve: the nonce of its start (which /readyz
-- serves) and when it last said it was alive. doctor accepts the nonce of
-- any instance on the database, however many sit behind the load
-- balancer; an instance that stops deletes its row, and the rows of
-- instances gone quiet are deleted by the others' heartbeats. It replaces
-- the single 'instance' setting, which only the last start could hold.
CREATE TABLE instances (
	nonce      TEXT PRIMARY KEY,
	started_at INTEGER NOT NULL,
	seen_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
DELETE FROM settings WHERE key = 'instance';
