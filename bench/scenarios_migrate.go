package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jetmr/jetmr/migrate"
	"github.com/jetmr/jetmr/migrate/pgtest"
)

// The migrate scenario's workload, at scale 1.
const (
	migrateRows  = 1_000_000 // rows of the table
	migrateChunk = 10_000    // rows per batch, jetmr's --chunk-size
	migrateSlots = 2         // jetmr's -j
	// migrateSQL is the statement each batch runs, jetmr's --sql.
	migrateSQL = `UPDATE t SET n = n + 1 WHERE id >= $1 AND ($2 IS NULL OR id < $2)`
	// migrateKeys makes the keys of row g = 1, 2, ...: steps of 2 and 4
	// between neighbours, and a jump of 1,000,000 every 50,000 rows.
	migrateKeys = `g * 3 + g % 2 + (g / 50000) * 1000000`
	pgOIDInt8   = 20 // the type OID of bigint
)

// keyRange is one keyset batch [lo, hi); hi is nil for the last one, which
// is open-ended.
type keyRange struct {
	lo int64
	hi *int64
}

func (r keyRange) String() string {
	if r.hi == nil {
		return fmt.Sprintf("[%d, +inf)", r.lo)
	}
	return fmt.Sprintf("[%d, %d)", r.lo, *r.hi)
}

// runMigrate compares, on a throwaway PostgreSQL, three ways to run
// "SET n = n + 1" over a table of 1,000,000 rows (at scale 1) with gaps in
// its keys: `jetmr migrate -j 2 --chunk-size 10000`, one sequential loop
// in the bench over the same keyset batches (one transaction each, on one
// connection), and a single UPDATE of the whole table. Before every run,
// untimed, n is reset to 0, jetmr_batches is truncated and the table is
// vacuumed, so that each run starts from the same state; after it, every
// row must have n = 1, and the batches must be the keyset split's.
func runMigrate(b *bench, s *Scenario) (err error) {
	total := max(int64(float64(migrateRows)*b.scale), 2*migrateChunk)

	progress("migrate: starting PostgreSQL")
	startCtx, cancel := context.WithTimeout(b.ctx, 2*time.Minute)
	srv, err := pgtest.New(startCtx, pgtest.Config{})
	cancel()
	if err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	defer func() {
		if stopErr := srv.Stop(); stopErr != nil && err == nil {
			err = fmt.Errorf("stop PostgreSQL: %w", stopErr)
		}
	}()
	progress("migrate: %s on 127.0.0.1:%d (initdb %.1fs, start %.1fs)", srv.Version, srv.Port, srv.InitTime.Seconds(), srv.StartTime.Seconds())

	url, err := srv.CreateDatabase(b.ctx, "bench")
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(b.ctx, url)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.Background())

	progress("migrate: creating a table of %d rows", total)
	start := time.Now()
	for _, q := range []string{
		`CREATE TABLE t (id bigint PRIMARY KEY, n int NOT NULL DEFAULT 0)`,
		fmt.Sprintf(`INSERT INTO t (id) SELECT %s FROM generate_series(1, %d) g`, migrateKeys, total),
		`VACUUM ANALYZE t`,
	} {
		if _, err := conn.Exec(b.ctx, q); err != nil {
			return fmt.Errorf("set up the table: %s: %w", q, err)
		}
	}
	// The reference split: what jetmr and the sequential loop must both run.
	want, err := keysetBatches(b.ctx, conn, migrateChunk, nil)
	if err != nil {
		return err
	}
	var maxKey int64
	if err := conn.QueryRow(b.ctx, `SELECT max(id) FROM t`).Scan(&maxKey); err != nil {
		return fmt.Errorf("read the keys: %w", err)
	}
	progress("migrate: table ready in %.1fs: %d batches of %d rows", time.Since(start).Seconds(), len(want), migrateChunk)
	s.Input = fmt.Sprintf("table t(id bigint primary key, n int) of %d rows, keys 1..%d with gaps (%s for row g), %d batches of %d rows; SQL %s",
		total, maxKey, migrateKeys, len(want), migrateChunk, migrateSQL)

	jet := &Contender{Name: fmt.Sprintf("jetmr migrate -j %d --chunk-size %d", migrateSlots, migrateChunk), Jetmr: true}
	seq := &Contender{Name: fmt.Sprintf("sequential loop, 1 connection, %d-row batches", migrateChunk)}
	single := &Contender{Name: "single UPDATE of the whole table"}
	s.Contenders = []*Contender{jet, seq, single}

	runs := map[*Contender]func(rep int) (Sample, error){
		jet: func(rep int) (Sample, error) {
			id := fmt.Sprintf("bench-mig-%d", rep)
			res, report, err := b.runJetmr("migrate", "--db", url, "--table", "t", "--key", "id", "--sql", migrateSQL,
				"--chunk-size", strconv.Itoa(migrateChunk), "-j", strconv.Itoa(migrateSlots), "--job", id)
			if err != nil {
				return Sample{}, err
			}
			if report.Tasks != len(want) {
				return Sample{}, fmt.Errorf("BATCHES DIFFER: jetmr's report counts %d tasks, the keyset split has %d batches", report.Tasks, len(want))
			}
			if err := checkProgressTable(b.ctx, conn, id, want, total); err != nil {
				return Sample{}, err
			}
			return sampleOf(res, report), nil
		},
		seq: func(int) (Sample, error) {
			var updated int64
			start := time.Now()
			got, err := keysetBatches(b.ctx, conn, migrateChunk, func(r keyRange) error {
				tx, err := conn.Begin(b.ctx)
				if err != nil {
					return err
				}
				defer tx.Rollback(context.WithoutCancel(b.ctx))
				// As jetmr does: the parameters declared bigint (else
				// "$2 IS NULL" has no type), sent as text.
				values := [][]byte{[]byte(strconv.FormatInt(r.lo, 10)), nil}
				if r.hi != nil {
					values[1] = []byte(strconv.FormatInt(*r.hi, 10))
				}
				tag, err := tx.Conn().PgConn().ExecParams(b.ctx, migrateSQL, values, []uint32{pgOIDInt8, pgOIDInt8}, nil, nil).Close()
				if err != nil {
					return err
				}
				updated += tag.RowsAffected()
				return tx.Commit(b.ctx)
			})
			wall := time.Since(start)
			if err != nil {
				return Sample{}, fmt.Errorf("sequential loop: %w", err)
			}
			if err := sameBatches("the sequential loop", got, want); err != nil {
				return Sample{}, err
			}
			if updated != total {
				return Sample{}, fmt.Errorf("ROWS DIFFER: the sequential loop's UPDATEs affected %d rows, the table has %d", updated, total)
			}
			return Sample{Seconds: wall.Seconds()}, nil
		},
		single: func(int) (Sample, error) {
			start := time.Now()
			tag, err := conn.Exec(b.ctx, `UPDATE t SET n = n + 1`)
			wall := time.Since(start)
			if err != nil {
				return Sample{}, fmt.Errorf("single UPDATE: %w", err)
			}
			if tag.RowsAffected() != total {
				return Sample{}, fmt.Errorf("ROWS DIFFER: the single UPDATE affected %d rows, the table has %d", tag.RowsAffected(), total)
			}
			return Sample{Seconds: wall.Seconds()}, nil
		},
	}

	for rep := 1; rep <= b.n; rep++ {
		for i := range s.Contenders {
			// Rotate the order every repetition: no contender always runs
			// right after the same other one.
			c := s.Contenders[(i+rep-1)%len(s.Contenders)]
			if err := resetMigrate(b.ctx, conn); err != nil {
				return err
			}
			x, err := runs[c](rep)
			if err != nil {
				return fmt.Errorf("%s, run %d: %w", c.Name, rep, err)
			}
			if err := checkMigrated(b.ctx, conn, total); err != nil {
				return fmt.Errorf("%s, run %d: %w", c.Name, rep, err)
			}
			c.add(x)
			progress("migrate %d/%d %s: %.3fs, %.0f rows/s", rep, b.n, c.Name, x.Seconds, float64(total)/x.Seconds)
		}
	}

	s.Checks = append(s.Checks,
		fmt.Sprintf("after every run all %d rows have n = 1", total),
		fmt.Sprintf("jetmr's jetmr_batches rows and the sequential loop's batches are the keyset split's %d batches (each of %d rows but the last, which is open-ended), and jetmr's report counts as many tasks", len(want), migrateChunk))
	s.Notes = append(s.Notes,
		fmt.Sprintf("%s, started by pgtest on 127.0.0.1 with fsync=off, synchronous_commit=off, full_page_writes=off, on the same machine as the contenders", srv.Version),
		"the sequential loop runs in the bench over one pgx connection: per batch, a keyset seek for its upper key, then BEGIN, the SQL, COMMIT; the single UPDATE is UPDATE t SET n = n + 1 in one statement",
		"before every run, untimed: UPDATE t SET n = 0, TRUNCATE jetmr_batches, VACUUM t, CHECKPOINT; runs rotate their order every repetition",
		"jetmr's time is the subprocess's wall time: process start, embedded NATS, splitting, the batches (each also claiming and recording its row in jetmr_batches, in its transaction) and exit; the sequential loop's includes its keyset seeks but writes no progress row; it sends the statement like jetmr (extended protocol, $1 and $2 declared bigint, values as text)")
	for _, c := range s.Contenders {
		s.metric("rows/s, "+c.Name, float64(total)/c.MedianSeconds(), "rows/s", nil)
	}
	s.metric("jetmr / sequential", jet.MedianSeconds()/seq.MedianSeconds(), "", nil)
	s.metric("jetmr / single UPDATE", jet.MedianSeconds()/single.MedianSeconds(), "", nil)
	return nil
}

// keysetBatches splits t by keyset pagination over id into batches of rows
// rows, as jetmr migrate does: a batch's upper key is the rows-th key after
// its lower one, the last batch is open-ended. It calls each, if not nil,
// on every batch as soon as it is found, and returns the batches.
func keysetBatches(ctx context.Context, conn *pgx.Conn, rows int, each func(keyRange) error) ([]keyRange, error) {
	var batches []keyRange
	var lo int64
	err := conn.QueryRow(ctx, `SELECT id FROM t ORDER BY id LIMIT 1`).Scan(&lo)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("split t: %w", err)
	}
	for {
		r := keyRange{lo: lo}
		var hi int64
		err := conn.QueryRow(ctx, `SELECT id FROM t WHERE id > $1 ORDER BY id LIMIT 1 OFFSET $2`, lo, rows-1).Scan(&hi)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, fmt.Errorf("split t after key %d: %w", lo, err)
		default:
			r.hi = &hi
		}
		if each != nil {
			if err := each(r); err != nil {
				return nil, fmt.Errorf("batch %d %v: %w", len(batches), r, err)
			}
		}
		batches = append(batches, r)
		if r.hi == nil {
			return batches, nil
		}
		lo = hi
	}
}

// sameBatches fails unless got are the batches want.
func sameBatches(name string, got, want []keyRange) error {
	if len(got) != len(want) {
		return fmt.Errorf("BATCHES DIFFER: %s ran %d batches, the keyset split has %d", name, len(got), len(want))
	}
	for i := range got {
		if got[i].String() != want[i].String() {
			return fmt.Errorf("BATCHES DIFFER: %s's batch %d is %v, the keyset split's %v", name, i, got[i], want[i])
		}
	}
	return nil
}

// checkProgressTable fails unless jetmr_batches holds, for job, exactly
// the batches want, whose rows add up to total.
func checkProgressTable(ctx context.Context, conn *pgx.Conn, job string, want []keyRange, total int64) error {
	rows, err := conn.Query(ctx, `SELECT lo, hi, "rows" FROM `+migrate.ProgressTable+` WHERE job = $1 ORDER BY lo::bigint`, job)
	if err != nil {
		return fmt.Errorf("read %s: %w", migrate.ProgressTable, err)
	}
	defer rows.Close()
	var got []keyRange
	var sum int64
	for rows.Next() {
		var lo string
		var hi *string
		var n int64
		if err := rows.Scan(&lo, &hi, &n); err != nil {
			return fmt.Errorf("read %s: %w", migrate.ProgressTable, err)
		}
		var r keyRange
		if r.lo, err = strconv.ParseInt(lo, 10, 64); err != nil {
			return fmt.Errorf("read %s: lo %q: %w", migrate.ProgressTable, lo, err)
		}
		if hi != nil {
			h, err := strconv.ParseInt(*hi, 10, 64)
			if err != nil {
				return fmt.Errorf("read %s: hi %q: %w", migrate.ProgressTable, *hi, err)
			}
			r.hi = &h
		}
		got = append(got, r)
		sum += n
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", migrate.ProgressTable, err)
	}
	if err := sameBatches("jetmr ("+migrate.ProgressTable+")", got, want); err != nil {
		return err
	}
	if sum != total {
		return fmt.Errorf("ROWS DIFFER: jetmr's %s records %d rows updated, the table has %d", migrate.ProgressTable, sum, total)
	}
	return nil
}

// resetMigrate brings the database back to the state every run starts
// from: n = 0 everywhere, no progress rows, the table vacuumed and a
// checkpoint done.
func resetMigrate(ctx context.Context, conn *pgx.Conn) error {
	var hasProgress bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, migrate.ProgressTable).Scan(&hasProgress); err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	queries := []string{`UPDATE t SET n = 0`}
	if hasProgress {
		queries = append(queries, `TRUNCATE `+migrate.ProgressTable)
	}
	queries = append(queries, `VACUUM t`, `CHECKPOINT`)
	for _, q := range queries {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("reset: %s: %w", q, err)
		}
	}
	return nil
}

// checkMigrated fails unless the table still has total rows, each with
// n = 1.
func checkMigrated(ctx context.Context, conn *pgx.Conn, total int64) error {
	var rows, ones int64
	var lowest, highest *int64
	err := conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE n = 1), min(n), max(n) FROM t`).Scan(&rows, &ones, &lowest, &highest)
	if err != nil {
		return fmt.Errorf("check the table: %w", err)
	}
	if rows != total || ones != total {
		lo, hi := "none", "none"
		if lowest != nil {
			lo, hi = strconv.FormatInt(*lowest, 10), strconv.FormatInt(*highest, 10)
		}
		return fmt.Errorf("ROWS DIFFER: %d of the table's %d rows (%d expected) have n = 1; n ranges from %s to %s", ones, rows, total, lo, hi)
	}
	return nil
}
