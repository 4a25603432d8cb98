package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/smsbot/smsbot/bot"
)

// newLimiter returns where one of serve's rate limits is kept (the
// texts-per-minute cap, the per-address web limits, the per-user
// thermostat limits; each its own, so that a flood of keys for one never
// pushes another's buckets out of memory).
//
// On PostgreSQL it is the database, which every instance shares, so each
// limit holds for the whole deployment whichever instance a request or a
// text reaches; this instance's memory of the database's refusals stands
// in front (bot.Front), so a client over its limit costs the database
// about one statement per refusal, not one per request.
//
// On SQLite it is this process's memory. One process owns the file, so
// its memory already sees every request and the limits are the
// deployment's; kept in the database they would cost a write on SQLite's
// one writer per request, which the webhooks wait for too, and a flood of
// refused requests would queue ahead of inbound texts. A restart empties
// them, as before; the limits that guard logins (links per phone, code
// attempts, the reply budget) are in the database on both backends.
func newLimiter(cfg *config, db database) bot.Limiter {
	if shared, ok := db.(bot.Limiter); ok && isPostgres(cfg.DB) {
		return &bot.Front{Shared: shared}
	}
	return &bot.Buckets{}
}

// textKey is the bucket of the texts-per-minute cap.
const textKey = "texts"

// textLimitRetry is how long a text waits when the cap cannot be checked.
const textLimitRetry = 5 * time.Second

// textLimit is the outbox worker's Limit: SMSBOT_TEXTS_PER_MINUTE texts a
// minute across all phones, in bursts of a sixth of that, kept by lim. It
// returns how long the next text must wait. When the cap cannot be
// checked (the database is away), the text waits textLimitRetry and is
// tried again: it stays queued, and the cap is never exceeded.
func textLimit(lim bot.Limiter, perMinute int, log *slog.Logger) func(time.Time) time.Duration {
	r := bot.PerMinute(perMinute, perMinute/6)
	return func(now time.Time) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), textLimitRetry)
		defer cancel()
		wait, err := lim.Take(ctx, textKey, r, now)
		if err != nil {
			log.Warn("texts-per-minute cap unavailable: the text waits", "retry_in", textLimitRetry.String(), "err", err)
			return textLimitRetry
		}
		return wait
	}
}
