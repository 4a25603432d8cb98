package store

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// Checkpoints.
//
// SQLite copies the WAL back into the database file at a checkpoint. By
// default the connection that commits runs one once the WAL holds 1,000
// pages, inside that commit: here, on the group writer, so every text of
// the group, and every text queued behind it, waits for it. With many
// phones it is also the slow kind: each text dirties a page of its own,
// the checkpoint writes them all over the file and then syncs it.
//
// So the writer's connection checkpoints only past walSafetyPages (should
// the checkpointer below fall behind, the WAL still stays bounded), and a
// goroutine with a connection of its own runs a PASSIVE checkpoint every
// checkpointEvery when anything was committed. A PASSIVE checkpoint never
// waits for the writer or for readers, and they never wait for it: it
// copies the frames no reader still needs, and the writer starts the WAL
// over from its beginning once they are all copied.
const (
	walSafetyPages  = 10000 // about 40 MB of WAL
	checkpointEvery = 250 * time.Millisecond
)

// checkpointer runs the PASSIVE checkpoints until stop is closed.
type checkpointer struct {
	conn *sql.DB
	stop chan struct{}
	done chan struct{}
	once sync.Once
	err  error
}

func (db *DB) startCheckpointer(conn *sql.DB) {
	c := &checkpointer{conn: conn, stop: make(chan struct{}), done: make(chan struct{})}
	db.ckpt = c
	go func() {
		defer close(c.done)
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		var seen int64
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
			}
			if g := db.GroupStats().Groups; g != seen {
				seen = g
				// An error (the database closing, a disk error) leaves
				// the WAL to the writer's own checkpoints.
				c.conn.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
			}
		}
	}()
}

// close stops the checkpoints and closes their connection; again, it
// returns what the first close did.
func (c *checkpointer) close() error {
	if c == nil {
		return nil
	}
	c.once.Do(func() {
		close(c.stop)
		<-c.done
		c.err = c.conn.Close()
	})
	return c.err
}
