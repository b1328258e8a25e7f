// Package chtest gives tests a real ClickHouse: one private server per test binary,
// started by the product's own launcher ([launcher.Launch]), and a fresh, migrated
// database per test. There is no fake store: tests that claim storage works talk to the
// real server.
package chtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/queries"
	"github.com/tamtam-ngo/tamtam/queries/launcher"
)

var server *launcher.Server

// Main starts the server, runs the tests and stops the server; call it from TestMain as
// os.Exit(chtest.Main(m)). A missing or broken ClickHouse fails the run loudly: tests are
// never skipped for it.
func Main(m *testing.M) int {
	dir, err := os.MkdirTemp("", "tamtam-chtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "chtest:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	server, err = launcher.Launch(ctx, launcher.Options{Dir: dir})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "chtest: FAIL: cannot start the test ClickHouse: %v\n", err)
		return 1
	}
	code := m.Run()
	if err := server.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "chtest: stop ClickHouse:", err)
	}
	return code
}

// Endpoint returns the address and credentials of the test server.
func Endpoint() queries.Endpoint { return server.Endpoint() }

// NewDatabase returns the name of a fresh database for t, dropped when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if server == nil {
		t.Fatal("chtest: no server; call chtest.Main from TestMain")
	}
	b := make([]byte, 4)
	rand.Read(b)
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 40 {
		name = name[:40]
	}
	db := "t_" + name + "_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := queries.DropDatabase(ctx, Endpoint(), db); err != nil {
			t.Logf("chtest: drop database %s: %v", db, err)
		}
	})
	return db
}

// NewDB returns an open, migrated connection to a fresh database, closed when t ends.
func NewDB(t testing.TB) *queries.DB {
	t.Helper()
	name := NewDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := queries.Open(ctx, Endpoint(), name, queries.Options{})
	if err != nil {
		t.Fatalf("queries.Open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}
