package postgres

import (
	"context"
	"time"

	"github.com/smsbot/smsbot/bot"
	"github.com/smsbot/smsbot/store"
)

var _ bot.Limiter = (*DB)(nil)

// takeSQL decides one request in one statement. The upsert spends a token
// when the bucket holds one ($1 key, $2 now, $3 every, $4 burst·every, all
// in milliseconds): a new key is a full bucket; an existing row is locked
// and its latest version tested, so takers on any number of connections
// and instances are serialized on the row and never spend more than it
// holds. When the bucket holds no whole token, the row is left as it was
// and took is empty; prev is the row as the statement's snapshot saw it,
// to tell the taker how long to wait.
const takeSQL = `WITH prev AS (
	SELECT full_at FROM rate_limits WHERE key = $1
), took AS (
	INSERT INTO rate_limits AS r (key, full_at) VALUES ($1, $2::bigint + $3::bigint)
	ON CONFLICT (key) DO UPDATE SET full_at = GREATEST(r.full_at, $2::bigint) + $3::bigint
	WHERE GREATEST(r.full_at, $2::bigint) + $3::bigint <= $2::bigint + $4::bigint
	RETURNING full_at
)
SELECT EXISTS (SELECT 1 FROM took), COALESCE((SELECT full_at FROM prev), 0)`

// Take implements bot.Limiter in the database that every instance
// shares: key's bucket is one row of rate_limits, decided by one statement
// (takeSQL), so a limit holds for the whole deployment. Times are whole
// milliseconds: now is truncated and r.Every rounded up
// (store.StoredRate), so the stored limit is never looser than r. The
// instances' clocks should agree (NTP): one whose clock is ahead by d
// finds buckets up to d fuller. A refused request's wait is read from the
// statement's snapshot, so when another instance took from the bucket
// meanwhile it may be short (never below a millisecond): asking again
// then is refused again, with the rest of the wait.
func (db *DB) Take(ctx context.Context, key string, r bot.Rate, now time.Time) (time.Duration, error) {
	if err := store.CheckTake(key, r); err != nil {
		return 0, err
	}
	r = store.StoredRate(r)
	every := r.Every.Milliseconds()
	at := now.UnixMilli()
	var took bool
	var prev int64
	ctx, cancel := db.bound(ctx)
	defer cancel()
	err := db.pool.QueryRow(ctx, takeSQL, key, at, every, int64(r.Burst)*every).Scan(&took, &prev)
	if err != nil {
		return 0, dbError("rate limit", err)
	}
	if took {
		return 0, nil
	}
	_, wait := r.Take(fromMS(prev), time.UnixMilli(at))
	return max(wait, time.Millisecond), nil
}
