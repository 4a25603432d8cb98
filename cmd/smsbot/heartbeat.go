package main

import (
	"context"
	"time"
)

// Each instance records the nonce of its start in the database with the
// time it was last seen, so that doctor, reaching one instance of many
// through the load balancer, can tell that it uses SMSBOT_DB.
const (
	heartbeatEvery = 10 * time.Second // how often an instance says it is alive
	instanceStale  = time.Minute      // an instance not seen this long is gone: its row is deleted
)

// heartbeat records the instance as alive every heartbeatEvery until ctx
// ends, then deletes its row: it stops.
func (a *app) heartbeat(ctx context.Context) {
	t := time.NewTicker(heartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := a.db.StopInstance(ctx, a.instance); err != nil {
				a.log.Warn("heartbeat: could not delete this instance's row; it goes once stale", "err", err)
			}
			return
		case <-t.C:
			if err := a.db.Heartbeat(ctx, a.instance, time.Now(), instanceStale); err != nil && ctx.Err() == nil {
				a.log.Error("heartbeat", "err", err)
			}
		}
	}
}
