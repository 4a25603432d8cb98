package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/twilio/twilio-go/client"
	"github.com/twilio/twilio-go/twiml"
)

// The minimal durable bot: the least any correct bot must do for an
// inbound text, the second baseline of the bench. Per request it parses
// the form, checks X-Twilio-Signature with twilio-go's RequestValidator
// over the public URL and the form, hands (MessageSid, From, Body) to one
// writer goroutine that inserts everything waiting in one transaction
// (MessageSid the primary key, a repeat ignored), and answers a fixed
// TwiML only after the commit. On SQLite: a STRICT table, WAL,
// synchronous=FULL; on PostgreSQL the same table, the waiting inserts sent
// as one batch, which PostgreSQL runs as one transaction.

// durableText is one text waiting for the writer.
type durableText struct {
	sid, from, body string
	done            chan error // the commit's outcome; buffered
}

// durableStore commits texts, all or none.
type durableStore interface {
	commit(ctx context.Context, texts []*durableText) error
	count(ctx context.Context) (int64, error)
	close() error
}

// isPostgres tells a PostgreSQL URL from a SQLite path.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// openDurable opens the minimal durable bot's database, a SQLite path or
// a PostgreSQL URL, and creates its table.
func openDurable(ctx context.Context, dsn string) (durableStore, error) {
	if isPostgres(dsn) {
		return openDurablePG(ctx, dsn)
	}
	return openDurableSQLite(ctx, dsn)
}

// durableSQLite is the table in SQLite, on one connection.
type durableSQLite struct {
	db     *sql.DB
	insert *sql.Stmt
}

func openDurableSQLite(ctx context.Context, path string) (*durableSQLite, error) {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS texts (
		message_sid TEXT PRIMARY KEY,
		phone TEXT NOT NULL,
		body TEXT NOT NULL
	) STRICT`); err != nil {
		db.Close()
		return nil, fmt.Errorf("create table: %w", err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		db.Close()
		return nil, fmt.Errorf("journal_mode is %q, want wal (%v)", mode, err)
	}
	ins, err := db.PrepareContext(ctx, `INSERT INTO texts (message_sid, phone, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &durableSQLite{db: db, insert: ins}, nil
}

func (s *durableSQLite) commit(ctx context.Context, texts []*durableText) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	ins := tx.StmtContext(ctx, s.insert)
	for _, t := range texts {
		if _, err := ins.ExecContext(ctx, t.sid, t.from, t.body); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

func (s *durableSQLite) count(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM texts`).Scan(&n)
	return n, err
}

func (s *durableSQLite) close() error {
	s.insert.Close()
	return s.db.Close()
}

// durablePG is the table in PostgreSQL, on one connection.
type durablePG struct {
	conn *pgx.Conn
}

const durablePGInsert = `INSERT INTO texts (message_sid, phone, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`

func openDurablePG(ctx context.Context, u string) (*durablePG, error) {
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS texts (
		message_sid text PRIMARY KEY,
		phone text NOT NULL,
		body text NOT NULL
	)`); err != nil {
		conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("create table: %w", err)
	}
	return &durablePG{conn: conn}, nil
}

// commit sends the inserts as one batch: one round trip, run by
// PostgreSQL as one implicit transaction that commits (and flushes its
// WAL, synchronous_commit=on) before the batch's results come back.
func (s *durablePG) commit(ctx context.Context, texts []*durableText) error {
	var b pgx.Batch
	for _, t := range texts {
		b.Queue(durablePGInsert, t.sid, t.from, t.body)
	}
	return s.conn.SendBatch(ctx, &b).Close()
}

func (s *durablePG) count(ctx context.Context) (int64, error) {
	var n int64
	err := s.conn.QueryRow(ctx, `SELECT COUNT(*) FROM texts`).Scan(&n)
	return n, err
}

func (s *durablePG) close() error {
	return s.conn.Close(context.Background())
}

// durableWriter is the one goroutine that writes: it takes every text
// waiting, commits them in one transaction and then tells each its
// outcome. It returns when stop is closed.
func durableWriter(st durableStore, texts <-chan *durableText, stop <-chan struct{}) {
	ctx := context.Background()
	var group []*durableText
	for {
		select {
		case t := <-texts:
			group = append(group[:0], t)
		case <-stop:
			return
		}
	more:
		for {
			select {
			case t := <-texts:
				group = append(group, t)
			default:
				break more
			}
		}
		err := st.commit(ctx, group)
		for _, t := range group {
			t.done <- err
		}
		clear(group)
	}
}

// durableHandler is the minimal durable bot's webhook: public is the URL
// it is reached at (signatures are over it), token Twilio's auth token.
func durableHandler(public, token string, texts chan<- *durableText, stop <-chan struct{}) (http.Handler, error) {
	reply, err := twiml.Messages([]twiml.Element{&twiml.MessagingMessage{Body: baselineReply}})
	if err != nil {
		return nil, err
	}
	fixed := []byte(reply)
	v := client.NewRequestValidator(token)
	public = strings.TrimRight(public, "/")
	r := chi.NewRouter()
	r.Post("/webhooks/twilio/sms", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			http.Error(w, "malformed form body", http.StatusBadRequest)
			return
		}
		params := make(map[string]string, len(r.PostForm))
		for k, vs := range r.PostForm {
			params[k] = vs[0]
		}
		sig := r.Header.Get("X-Twilio-Signature")
		if sig == "" || !v.Validate(public+r.URL.RequestURI(), params, sig) {
			http.Error(w, "invalid signature", http.StatusForbidden)
			return
		}
		t := &durableText{sid: params["MessageSid"], from: params["From"], body: params["Body"], done: make(chan error, 1)}
		if t.sid == "" || t.from == "" {
			http.Error(w, "missing MessageSid or From", http.StatusBadRequest)
			return
		}
		select {
		case texts <- t:
		case <-stop:
			http.Error(w, "shutting down", http.StatusServiceUnavailable)
			return
		}
		var err error
		select {
		case err = <-t.done:
		case <-stop:
			err = errors.New("shutting down")
		}
		if err != nil {
			http.Error(w, "not stored", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(fixed)
	})
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	return r, nil
}

// serveDurable serves the minimal durable bot on addr, storing into dsn
// (a SQLite path or a PostgreSQL URL), until ctx ends; then it answers
// the requests in flight and stops.
func serveDurable(ctx context.Context, addr, dsn string) error {
	st, err := openDurable(ctx, dsn)
	if err != nil {
		return err
	}
	defer st.close()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	texts := make(chan *durableText, 1024)
	stop := make(chan struct{})
	h, err := durableHandler("http://"+addr, benchToken, texts, stop)
	if err != nil {
		return err
	}
	wrote := make(chan struct{})
	go func() {
		durableWriter(st, texts, stop)
		close(wrote)
	}()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	shut := make(chan error, 1)
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- srv.Shutdown(sctx)
	}()
	err = srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		err = <-shut
	}
	close(stop)
	<-wrote
	return err
}
