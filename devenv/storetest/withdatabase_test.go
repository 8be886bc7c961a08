package storetest

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/crmtest_x?sslmode=disable"},
		{"postgres://postgres@/postgres?host=%2Ftmp%2Fpg&port=5432", "postgres://postgres@/crmtest_x?host=%2Ftmp%2Fpg&port=5432"},
		{"postgresql://u:p@db", "postgresql://u:p@db/crmtest_x"},
		{"host=/tmp/pg user=postgres dbname=postgres", "host=/tmp/pg user=postgres dbname=postgres dbname=crmtest_x"},
	} {
		if got := withDatabase(tc.in, "crmtest_x"); got != tc.want {
			t.Errorf("withDatabase(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if cfg, err := pgx.ParseConfig(withDatabase(tc.in, "crmtest_x")); err != nil || cfg.Database != "crmtest_x" {
			t.Errorf("pgx reads withDatabase(%q) as database %v, error %v", tc.in, cfg.Database, err)
		}
	}
}
