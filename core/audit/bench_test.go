package audit_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"github.com/socialtreasury/treasury/core/audit"
	"github.com/socialtreasury/treasury/core/store"
	"github.com/socialtreasury/treasury/core/store/storetest"
	"github.com/socialtreasury/treasury/core/tenancy"
)

// BenchmarkRequestsOfOneRegion: 32 concurrent requests of one region, each a
// transaction that appends one record and then works for 1 ms more (the rest
// of a request) before it commits.
//
//   - ours: the append as it is (audit_pending, chained by a running Trail);
//   - head_lock: the design docs/audit.md rejects — the same append, plus
//     the region's chain head locked FOR UPDATE and advanced inside the
//     request's transaction, so requests of a region run one at a time.
//
// PostgreSQL only (SQLite runs one transaction at a time either way):
//
//	TREASURY_TEST_DATABASE_URL=… go test -run '^$' -bench RequestsOfOneRegion ./core/audit/
func BenchmarkRequestsOfOneRegion(b *testing.B) {
	env := storetest.New(b, store.Postgres)
	db := env.App.Gorm
	env.App.SQL.SetMaxOpenConns(40)
	ctx, _ := region(b, db)
	tr := audit.New(db, audit.Options{})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tr.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	if err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
		return tx.Exec("INSERT INTO audit_heads (tenant_id, seq, hash, updated_at) VALUES (current_setting('app.tenant_id')::uuid, 0, ?, now()) ON CONFLICT DO NOTHING", make([]byte, 32)).Error
	}); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		lock bool
	}{{"ours", false}, {"head_lock", true}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetParallelism(16) // 32 goroutines on 2 cores
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					err := tenancy.Tx(ctx, db, func(tx *gorm.DB) error {
						if c.lock {
							if err := tx.Exec("SELECT seq FROM audit_heads FOR UPDATE").Error; err != nil {
								return err
							}
							if err := tx.Exec("UPDATE audit_heads SET seq = seq").Error; err != nil {
								return err
							}
						}
						if err := audit.Append(ctx, tx, audit.Record{Action: "person.read", ObjectType: "person", ObjectID: "p"}); err != nil {
							return err
						}
						time.Sleep(time.Millisecond)
						return nil
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
		})
	}
	b.StopTimer()
	if res, err := tr.Verify(ctx); err != nil || !res.OK() {
		b.Fatalf("chain after the benchmark: %+v, %v", res, err)
	}
}
