package api

import "testing"

// TestParseTrustedProxies: IPs and CIDRs, comma-separated, blanks skipped;
// anything else is refused rather than silently trusting nothing or all.
func TestParseTrustedProxies(t *testing.T) {
	got, err := ParseTrustedProxies(" 10.0.0.0/8, 192.0.2.7,,::1 ")
	if err != nil || len(got) != 3 || got[0] != "10.0.0.0/8" || got[1] != "192.0.2.7" || got[2] != "::1" {
		t.Fatalf("ParseTrustedProxies = %q, %v", got, err)
	}
	if got, err := ParseTrustedProxies(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %q, %v", got, err)
	}
	for _, bad := range []string{"lb.internal", "10.0.0.0/33", "10.0.0.1,*"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("ParseTrustedProxies(%q) accepted", bad)
		}
	}
}
