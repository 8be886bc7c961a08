package api

import (
	"net/http/httptest"
	"testing"
)

// TestFingerprintNamesTheWholeRequest: the fingerprint tells apart another
// method, concrete path, query or body, and not the order of query
// parameters.
func TestFingerprintNamesTheWholeRequest(t *testing.T) {
	fp := func(method, target, body string) string {
		return string(fingerprint(httptest.NewRequest(method, target, nil), []byte(body)))
	}
	base := fp("DELETE", "/api/v1/leads/a?x=1&y=2", "")
	if fp("DELETE", "/api/v1/leads/a?y=2&x=1", "") != base {
		t.Error("the order of query parameters changed the fingerprint")
	}
	for _, other := range []string{
		fp("DELETE", "/api/v1/leads/b?x=1&y=2", ""),
		fp("PATCH", "/api/v1/leads/a?x=1&y=2", ""),
		fp("DELETE", "/api/v1/leads/a?x=1&y=3", ""),
		fp("DELETE", "/api/v1/leads/a?x=1&y=2", "{}"),
	} {
		if other == base {
			t.Error("another request has the same fingerprint")
		}
	}
}
