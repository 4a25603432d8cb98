-- Rate limits that every instance shares: a token bucket per key (GCRA),
-- kept as the one time it is full again if nothing more is taken (the
-- theoretical arrival time), in unix milliseconds. A row whose full_at has
-- passed says no more than no row at all, and prune deletes it.
CREATE TABLE rate_limits (
	key     TEXT PRIMARY KEY,
	full_at BIGINT NOT NULL
);
CREATE INDEX rate_limits_full_at ON rate_limits (full_at);
