package imports

import (
	"fmt"
	"testing"
)

func BenchmarkDecode(b *testing.B) {
	st := defaultStatus()
	for i := 0; b.Loop(); i++ {
		rec := Record{Row: 1, Line: 2, Values: make([]string, len(leadColumns.names))}
		rec.Values[FieldName] = "Lead 1"
		rec.Values[FieldEmail] = fmt.Sprintf("lead%d@example.com", i)
		rec.Values[FieldPhone] = fmt.Sprintf("+9197%08d", i%100000000)
		rec.Values[FieldCompany] = "Acme"
		rec.Values[FieldStatus] = "New"
		rec.Values[FieldScore] = "42"
		if _, _, bad := decode(rec, "IN", st, nil); bad != nil {
			b.Fatal(bad)
		}
	}
}
